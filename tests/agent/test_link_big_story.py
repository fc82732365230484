"""The linking agent when an out-of-order article re-roots a story of thousands of members
(``agent.test_context()``, no broker): what it publishes and the work it does stay bounded, everything published
validates, and a member left out of the restatement is corrected when its decision is read again."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path

import jsonschema

from worker import codec
from worker.app import MAX_RESTATED, article_from_plain, restated_decision
from worker.stories import Entry, StoryIndex, link
from worker.stories.table import decode_entry, encode_entry

from test_enrich_agent import RecordingSender, make_app, until
from test_link_agent import FIRST, enriched
from test_link_rebalance import ELSEWHERE

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
MEMBERS = 20_000  # before the bound: one event of 1.8 MB listing every move, and 20,001 records per article


def kept_decision(article_id: str, story_id: str) -> bytes:
    """A decision as the agent keeps it, for a member of ``story_id`` linked to nothing in particular."""
    relation = "new_story" if article_id == story_id else "same_story"
    event = {"article_id": article_id, "source_id": article_id, "url": None, "published_at": None,
             "story_id": story_id, "relation": relation, "links": [], "new_fact_count": 0, "updates": [],
             "unlinkable": None}
    followup = {"story_id": story_id, "relation": relation, "links": [], "new_facts": [],
                "evidence": {"shared_keys": [], "shared_quotes": 0, "text_overlap": 0.0}, "updates": [],
                "unlinkable": None}
    return codec.dumps({"followup": followup, "event": event})


def recover_big_story(app, article_bytes: bytes) -> str:
    """Fill the tables (as recovery from the changelog does) with a story of ``MEMBERS`` copies of the article,
    all published an hour and more after it; returns the story's id."""
    real = link(StoryIndex(), article_from_plain(codec.loads(article_bytes)))[0].add.signature
    story_id = "member-0"
    table, decisions = app.tables["story_index"], app.tables["followup_decisions"]
    for n in range(MEMBERS):
        member = dataclasses.replace(real, article_id=f"member-{n}", published=real.published + 3600 + n)
        table.data[member.article_id] = encode_entry(Entry(member, story_id))
        decisions.data[member.article_id] = kept_decision(member.article_id, story_id)
    return story_id


async def test_re_rooting_a_story_of_twenty_thousand_publishes_a_bounded_correction_quickly():
    sender = RecordingSender()
    app = make_app(sender)
    article_bytes = enriched(FIRST)
    old_story = recover_big_story(app, article_bytes)
    article_id = article_from_plain(codec.loads(article_bytes)).id
    schema = json.loads((SCHEMAS / "followup.schema.json").read_text())
    async with app.newsworker_link_agent.test_context() as agent:
        await agent.put(enriched(ELSEWHERE), key=b"kiln-1")  # the index is rebuilt from the table here
        await until(lambda: len(sender.sent) == 2, timeout=60)
        sender.sent.clear()
        started = time.perf_counter()
        await agent.put(article_bytes, key=b"quay-1")
        await until(lambda: len(sender.sent) >= 2 + MAX_RESTATED, timeout=60)
        took = time.perf_counter() - started
        await asyncio.sleep(0.1)  # anything more would come now
        (article,) = sender.bodies("out.articles")
        events = sender.bodies("out.followups")

        event = events[0]
        assert event["article_id"] == article_id and event["story_id"] == article_id
        assert len(event["updates"]) == MAX_RESTATED
        assert event["updates_left_out"] == MEMBERS - MAX_RESTATED
        assert event["updates"][0] == {"article_id": old_story, "story_id": article_id,
                                       "previous_story_id": old_story}  # the old root first: its relation changed
        assert article["followup"]["updates"] == event["updates"]
        assert article["followup"]["updates_left_out"] == MEMBERS - MAX_RESTATED
        # the listed members' decisions, restated, and nothing more
        assert [e["article_id"] for e in events[1:]] == [u["article_id"] for u in event["updates"]]
        assert all(e["story_id"] == article_id for e in events[1:])
        # the old root, a copy of this article published after it, is now its duplicate and links back to it
        assert (events[1]["relation"], events[1]["new_fact_count"]) == ("duplicate", 0)
        assert [(x["article_id"], x["relation"]) for x in events[1]["links"]] == [(article_id, "duplicate")]
        assert event["relation"] == "new_story" and event["new_fact_count"] == 0
        assert max(len(value) for _, _, value, _ in sender.sent) < 64 * 1024
        for published in events:
            jsonschema.validate(published, schema)
        jsonschema.validate(article["followup"], {"$defs": schema["$defs"], "$ref": "#/$defs/followup"})
        assert took < 3.0, f"re-rooting {MEMBERS} members took {took:.2f} s"
        # Every member's stored entry moved (the index is rebuilt from them after a restart).
        stored = app.tables["story_index"].data
        assert decode_entry(stored[f"member-{MEMBERS - 1}"]).story_id == article_id

        # A member that was left out is restated when its decision is read again (its redelivery).
        sender.sent.clear()
        left_out = codec.loads(article_bytes)
        left_out["id"] = f"member-{MEMBERS - 1}"
        await agent.put(codec.dumps(left_out), key=b"member")
        await until(lambda: len(sender.sent) >= 2)
    (member_event,) = sender.bodies("out.followups")
    assert member_event["story_id"] == article_id
    assert member_event["updates"] == [{"article_id": left_out["id"], "story_id": article_id,
                                        "previous_story_id": old_story}]
    assert sender.bodies("out.articles")[0]["followup"]["story_id"] == article_id
    jsonschema.validate(member_event, schema)


def test_a_restated_decision_says_only_its_own_move_not_how_many_of_its_own_moves_were_left_out():
    kept = codec.loads(kept_decision("b", "b"))
    for part in kept.values():  # "b" had itself re-rooted a large story earlier
        part["updates"] = [{"article_id": "c", "story_id": "b", "previous_story_id": "c"}]
        part["updates_left_out"] = 4_000
    move = {"article_id": "b", "story_id": "a", "previous_story_id": "b"}
    restated = restated_decision(kept, move, {"article_id": "a", "links": []})
    for part in restated.values():
        assert part["updates"] == [move] and "updates_left_out" not in part
    jsonschema.validate(restated["event"], json.loads((SCHEMAS / "followup.schema.json").read_text()))
