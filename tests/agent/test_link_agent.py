"""The linking agent through ``agent.test_context()``: enriched articles in, linked articles and events out."""

from __future__ import annotations

import jsonschema
import json
from pathlib import Path

from worker import codec
from worker.pipeline import build_pipeline
from worker.records import Envelope
from worker.stories.table import decode_entry

from test_enrich_agent import SETTINGS, RecordingSender, make_app, until

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def enriched(raw: dict) -> bytes:
    """What the enrich agent puts on the internal topic for one raw article."""
    (outcome,) = build_pipeline(SETTINGS).run([Envelope(value=codec.dumps(raw))])
    (article,) = outcome.articles
    return codec.dumps(article)


FIRST = {"id": "quay-1", "published_at": "2025-03-03T09:00:00Z",
         "text": "PORT ELLIS — A cargo ship ran aground near the Port Ellis quay on Monday, blocking the harbour "
                 "entrance. Harbour master Lena Ruiz said tugs would try to free the Alba Star at high tide."}
LATER = {"id": "quay-2", "published_at": "2025-03-04T09:00:00Z",
         "text": "PORT ELLIS — Tugs freed the cargo ship Alba Star from the Port Ellis quay on Tuesday, a day after "
                 "it ran aground and blocked the harbour entrance. Harbour master Lena Ruiz said the ship had "
                 "suffered no damage to its hull. Divers inspected the quay wall in the afternoon. Ferries will "
                 "use the harbour again from Wednesday, the operator Grey Gull Lines said."}


async def link_through(app, sender: RecordingSender, raws: list[dict], sends: int) -> None:
    """Put the enriched ``raws`` through ``app``'s linking agent, keyed by their ids, until ``sender`` has recorded
    ``sends`` records."""
    async with app.newsworker_link_agent.test_context() as agent:
        for raw in raws:
            await agent.put(enriched(raw), key=raw["id"].encode())
        await until(lambda: len(sender.sent) == sends)


async def test_articles_come_out_linked_with_a_followup_event_each():
    sender = RecordingSender()
    app = make_app(sender)
    await link_through(app, sender, [FIRST, LATER], sends=4)
    first, later = sender.bodies("out.articles")
    events = sender.bodies("out.followups")
    assert first["followup"]["relation"] == "new_story"
    assert later["followup"]["story_id"] == first["followup"]["story_id"]
    assert later["followup"]["relation"] in ("follow_up", "same_story")
    assert [e["article_id"] for e in events] == [first["id"], later["id"]]
    followup_schema = json.loads((SCHEMAS / "followup.schema.json").read_text())
    for event in events:
        jsonschema.validate(event, followup_schema)
    # The story table mirrors the index: both articles are entries of the one story.
    table = app.tables["story_index"]
    stored = [decode_entry(table[article["id"]]).story_id for article in (first, later)]
    assert set(stored) == {first["followup"]["story_id"]}


async def test_an_unreadable_record_is_dead_lettered_and_linking_goes_on():
    sender = RecordingSender()
    app = make_app(sender)
    async with app.newsworker_link_agent.test_context() as agent:
        await agent.put(b"not an article", key=b"x")
        await agent.put(enriched(FIRST), key=b"quay-1")
        await until(lambda: len(sender.sent) == 3)
    (letter,) = sender.bodies("out.dead")
    assert letter["error"]["code"] == "processing_error"
    assert [a["source_id"] for a in sender.bodies("out.articles")] == ["quay-1"]


async def test_a_redelivered_article_gets_the_same_output_again():
    sender = RecordingSender()
    app = make_app(sender)
    # LATER delivered again, as after a crash before the commit
    await link_through(app, sender, [FIRST, LATER, LATER], sends=6)
    first, later, again = sender.bodies("out.articles")
    assert again == later  # not linked to itself the second time
    assert sender.bodies("out.followups")[1] == sender.bodies("out.followups")[2]
