"""A story that turns out to hold two events splits in two (worker/stories/link.py ``_split``): the index, the
story table and the restated decisions follow the articles that move to the new story, and the articles left behind
drop their links to them (worker/app.py ``relinked_decision``)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from test_stories_average_linkage import index_of
from test_stories_link import FLOOD_FIRST, FLOOD_FOLLOW_UP, FLOOD_RETOLD, OTHER_STORY, article
from worker import codec
from worker.app import WorkerMetrics, link_messages, relinked_decision
from worker.records import Envelope
from worker.settings import Settings
from worker.stories import IndexChange, LinkConfig, link
from worker.stories.table import decode_entry, encode_entry, index_from_table, read_decision

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

CHIPS_RETOLD = (
    "Veltronic, the Tokyo chip maker, saw its shares jump 12 percent after it lifted its profit forecast. Akira "
    "Senda, its chief executive, said data centres were buying twice as many memory chips as in January."
)
# one story joined by mistake: two reports of a share rally, two of a flood (published in this order)
MIXED = ("chips-1", [("chips-1", OTHER_STORY), ("flood-1", FLOOD_FIRST), ("chips-2", CHIPS_RETOLD),
                     ("flood-2", FLOOD_RETOLD)])


def test_a_report_that_shows_a_story_holds_two_events_splits_it() -> None:
    index = index_of(MIXED)
    change, followup = link(index, article("flood-3", FLOOD_FOLLOW_UP, 50))

    # the flood reports leave; their first one gives their story its id, and this report goes with them
    assert followup.story_id == "flood-1"
    assert [x.article_id for x in followup.links] == ["flood-1", "flood-2"]
    assert change.move == (("flood-1", "flood-1"), ("flood-2", "flood-1"))
    assert [(u.article_id, u.story_id, u.previous_story_id) for u in followup.updates] == [
        ("flood-1", "flood-1", "chips-1"),
        ("flood-2", "flood-1", "chips-1"),
    ]
    index.apply(change)
    assert index.story("flood-1").members == ["flood-1", "flood-2", "flood-3"]
    assert index.story("chips-1").members == ["chips-1", "chips-2"]
    assert index.entries["flood-2"].story_id == "flood-1"

    # the next flood report finds the flood story alone; before the split it would have joined the mixed one
    _, later = link(index, article("flood-4", FLOOD_RETOLD + " Schools stay shut.", 60))
    assert later.story_id == "flood-1"
    assert later.updates == ()


def test_a_story_stays_whole_when_its_parts_score_well_together_or_it_is_past_the_size_weighed() -> None:
    floods = ("flood-1", [("flood-1", FLOOD_FIRST), ("flood-2", FLOOD_RETOLD),
                          ("flood-3", FLOOD_FOLLOW_UP)])
    change, followup = link(index_of(floods), article("flood-4", FLOOD_RETOLD + " Schools stay shut.", 60))
    assert (followup.story_id, change.move, followup.updates) == ("flood-1", (), ())

    # the mixed story again, with fewer articles weighed than it has: it is settled, the report joins it
    change, followup = link(index_of(MIXED), article("flood-3", FLOOD_FOLLOW_UP, 50), LinkConfig(split_most=4))
    assert (followup.story_id, change.move, followup.updates) == ("chips-1", (), ())


def test_the_article_that_splits_a_story_can_stay_with_its_first_article() -> None:
    # the share reports are the later ones here: the chips part moves, the report stays in the flood story
    later_chips = ("flood-1", [("flood-1", FLOOD_FIRST), ("chips-1", OTHER_STORY), ("flood-2", FLOOD_RETOLD),
                               ("chips-2", CHIPS_RETOLD)])
    index = index_of(later_chips)
    change, followup = link(index, article("flood-3", FLOOD_FOLLOW_UP, 50))
    assert followup.story_id == "flood-1"
    assert change.move == (("chips-1", "chips-1"), ("chips-2", "chips-1"))
    index.apply(change)
    assert index.story("chips-1").members == ["chips-1", "chips-2"]
    assert index.story("flood-1").members == ["flood-1", "flood-2", "flood-3"]


def kept(article_id: str, story_id: str, links: list[tuple[str, float]]) -> bytes:
    relation = "same_story" if links else "new_story"
    plain = [{"article_id": other, "relation": "same_story", "score": score} for other, score in links]
    event = {"article_id": article_id, "source_id": article_id, "url": None, "published_at": None,
             "story_id": story_id, "relation": relation, "links": plain, "new_fact_count": 1 if links else 0,
             "updates": [], "unlinkable": None}
    facts = [{"kind": "sentence", "text": "A fact.", "start": 0, "end": 7}] if links else []
    followup = {"story_id": story_id, "relation": relation, "links": plain, "new_facts": facts,
                "evidence": {"shared_keys": ["e:koblenz"] if links else [], "shared_quotes": 0, "text_overlap": 0.1},
                "updates": [], "unlinkable": None}
    return codec.dumps({"followup": followup, "event": event})


def test_the_worker_moves_the_split_off_articles_in_its_tables_and_restates_their_decisions() -> None:
    # the tables as the linking agent left them when the flood reports were joined to the share story by mistake
    index = index_of(MIXED)
    table = {article_id: encode_entry(index.entries[article_id]) for article_id, _ in MIXED[1]}
    decisions = {"chips-1": kept("chips-1", "chips-1", []), "flood-1": kept("flood-1", "chips-1", [("chips-1", 0.2)]),
                 "chips-2": kept("chips-2", "chips-1", [("chips-1", 0.6)]),
                 "flood-2": kept("flood-2", "chips-1", [("flood-1", 0.5), ("chips-2", 0.19)])}
    settings, metrics = Settings(), WorkerMetrics()
    messages = link_messages(index_from_table(table), table, decisions, article("flood-3", FLOOD_FOLLOW_UP, 50),
                             Envelope(value=b""), settings, LinkConfig(), metrics)
    assert metrics.registry.get_sample_value("newsworker_story_changes_total", {"change": "split"}) == 1
    assert metrics.registry.get_sample_value("newsworker_story_changes_total", {"change": "merged"}) is None

    events = [codec.loads(m.value) for m in messages if m.topic == settings.topic_followups]
    schema = json.loads((SCHEMAS / "followup.schema.json").read_text())
    for event in events:
        jsonschema.validate(event, schema)
    decision, *restated = events
    assert (decision["article_id"], decision["story_id"]) == ("flood-3", "flood-1")
    by_id = {event["article_id"]: event for event in restated}
    assert sorted(by_id) == ["flood-1", "flood-2"]  # only the articles that moved are restated
    # flood-1 had joined on a share report alone: it now opens the flood story
    assert (by_id["flood-1"]["story_id"], by_id["flood-1"]["relation"]) == ("flood-1", "new_story")
    assert (by_id["flood-1"]["links"], by_id["flood-1"]["new_fact_count"]) == ([], 0)
    # flood-2 keeps its link to the other flood report and loses the one to the share story
    assert by_id["flood-2"]["story_id"] == "flood-1"
    assert [x["article_id"] for x in by_id["flood-2"]["links"]] == ["flood-1"]
    assert by_id["flood-2"]["relation"] == "same_story"

    kept_flood_1 = read_decision(decisions["flood-1"])  # kept as restated: a redelivery gets the same again
    assert kept_flood_1["followup"]["new_facts"] == [] and kept_flood_1["followup"]["evidence"]["shared_keys"] == []
    assert {key: decode_entry(value).story_id for key, value in table.items()} == {
        "chips-1": "chips-1", "chips-2": "chips-1", "flood-1": "flood-1", "flood-2": "flood-1", "flood-3": "flood-1"}
    recovered = index_from_table(table)  # a worker that takes over rebuilds the two stories
    assert recovered.story("flood-1").members and sorted(recovered.story("flood-1").members) == [
        "flood-1", "flood-2", "flood-3"]
    assert sorted(recovered.story("chips-1").members) == ["chips-1", "chips-2"]


def test_the_index_moves_an_article_to_a_story_of_its_own_and_others_after_it() -> None:
    index = index_of(("a-0", [(f"a-{n}", text) for n, text in enumerate((FLOOD_FIRST, FLOOD_RETOLD, OTHER_STORY,
                                                                            CHIPS_RETOLD))]))
    index.apply(IndexChange(move=(("a-2", "a-2"), ("a-3", "a-2"))))
    assert index.story("a-0").members == ["a-0", "a-1"]
    assert index.story("a-2").members == ["a-2", "a-3"]
    assert (index.story("a-2").first_id, index.first_published("a-2")) == ("a-2", index.entries["a-2"].published)
    assert [index.entries[f"a-{n}"].story_id for n in range(4)] == ["a-0", "a-0", "a-2", "a-2"]
    index.apply(IndexChange(move=(("a-3", "a-3"),)))  # back to a story of its own
    assert index.story("a-3").members == ["a-3"] and index.story_size("a-3") == 1


def test_the_worker_counts_a_merge_apart_from_a_split() -> None:
    index = index_of(("flood-1", [("flood-1", FLOOD_FIRST)]), ("flood-2", [("flood-2", FLOOD_RETOLD)]))
    table = {article_id: encode_entry(index.entries[article_id]) for article_id in ("flood-1", "flood-2")}
    decisions = {"flood-1": kept("flood-1", "flood-1", []), "flood-2": kept("flood-2", "flood-2", [])}
    metrics = WorkerMetrics()
    link_messages(index_from_table(table), table, decisions, article("flood-3", FLOOD_FOLLOW_UP, 50),
                  Envelope(value=b""), Settings(), LinkConfig(), metrics)
    assert metrics.registry.get_sample_value("newsworker_story_changes_total", {"change": "merged"}) == 1
    assert metrics.registry.get_sample_value("newsworker_story_changes_total", {"change": "split"}) is None
    assert decode_entry(table["flood-2"]).story_id == "flood-1"


def test_a_member_left_in_its_story_loses_its_links_to_the_articles_the_split_moved_out() -> None:
    index = index_of(MIXED)
    table = {article_id: encode_entry(index.entries[article_id]) for article_id, _ in MIXED[1]}
    # chips-2 was linked to a flood report too; chips-1 opened the story and links nothing
    stale = kept("chips-2", "chips-1", [("chips-1", 0.6), ("flood-1", 0.2)])
    decisions = {"chips-1": kept("chips-1", "chips-1", []), "flood-1": kept("flood-1", "chips-1", [("chips-1", 0.2)]),
                 "chips-2": stale, "flood-2": kept("flood-2", "chips-1", [("flood-1", 0.5)])}
    settings, metrics = Settings(), WorkerMetrics()
    flood_3 = article("flood-3", FLOOD_FOLLOW_UP, 50)
    messages = link_messages(index_from_table(table), table, decisions, flood_3, Envelope(value=b""), settings,
                             LinkConfig(), metrics)

    events = [codec.loads(m.value) for m in messages if m.topic == settings.topic_followups]
    schema = json.loads((SCHEMAS / "followup.schema.json").read_text())
    for event in events:
        jsonschema.validate(event, schema)
    decision, *restated = events
    assert [event["article_id"] for event in restated] == ["flood-1", "flood-2", "chips-2"]
    chips_2 = restated[-1]
    # it stays in the share story, linked to the share report alone, and says which move took its other link
    assert (chips_2["story_id"], chips_2["relation"]) == ("chips-1", "same_story")
    assert [x["article_id"] for x in chips_2["links"]] == ["chips-1"]
    assert chips_2["updates"] == [{"article_id": "flood-1", "story_id": "flood-1", "previous_story_id": "chips-1"}]
    assert read_decision(decisions["chips-2"])["event"] == chips_2  # kept as restated
    assert read_decision(decisions["chips-2"])["followup"]["links"] == chips_2["links"]

    # delivered again after a crash that lost the restated decision: it is restated again and goes out again
    decisions["chips-2"] = stale
    again = link_messages(index_from_table(table), table, decisions, flood_3, Envelope(value=b""), settings,
                          LinkConfig(), metrics)
    assert [codec.loads(m.value) for m in again if m.topic == settings.topic_followups] == events
    assert read_decision(decisions["chips-2"])["event"] == chips_2


def test_a_member_left_with_no_link_opens_its_story_again() -> None:
    decision = codec.loads(kept("chips-2", "chips-1", [("flood-1", 0.2)]))
    moves = [{"article_id": "flood-1", "story_id": "flood-1", "previous_story_id": "chips-1"}]
    stories = {"chips-1": "chips-1", "chips-2": "chips-1", "flood-1": "flood-1"}
    restated = relinked_decision(decision, moves, stories.get)
    assert restated is not None
    assert (restated["event"]["relation"], restated["event"]["links"], restated["event"]["new_fact_count"]) == (
        "new_story", [], 0)
    assert restated["followup"]["new_facts"] == [] and restated["followup"]["evidence"]["shared_keys"] == []
    # a decision whose links all stay in its story is not restated
    assert relinked_decision(codec.loads(kept("chips-2", "chips-1", [("chips-1", 0.6)])), moves, stories.get) is None
