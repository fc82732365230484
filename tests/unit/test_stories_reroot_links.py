"""What a re-rooting decision links to (worker/stories/link.py ``_first_articles``) and the scores it publishes.

An article published earlier than a story's first article becomes its first; the old first article, which had
opened the story with nothing to link to, is published again as ``same_story`` (worker/app.py
``restated_decision``) and must link back to the article that took its place."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from test_stories_average_linkage import index_of
from test_stories_link import FLOOD_FIRST, FLOOD_FOLLOW_UP, FLOOD_RETOLD, article
from test_stories_split import MIXED, kept
from worker import codec
from worker.app import WorkerMetrics, link_messages
from worker.records import Envelope
from worker.settings import Settings
from worker.stories import LinkConfig, StoryIndex, StoryLinker, link
from worker.stories.link import pair_scores
from worker.stories.table import encode_entry

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "followup.schema.json").read_text())

# the follow-up report opened the story; three reports closer to the late one joined it
STORY = ("flood-r", [("flood-r", FLOOD_FOLLOW_UP), ("flood-a", FLOOD_RETOLD),
                     ("flood-b", FLOOD_RETOLD + " Schools stay shut."), ("flood-c", FLOOD_FIRST + " Trains stopped.")])


def test_an_article_that_re_roots_a_story_links_its_old_first_article_past_its_best_three() -> None:
    index = index_of(STORY)
    late = article("late", FLOOD_FIRST, -5)  # published before all of them
    scores = dict(pair_scores(index, late))
    assert sorted(scores, key=lambda a: -scores[a])[3] == "flood-r"  # fourth: not among the best three

    _, followup = link(index, late)
    assert followup.story_id == "late"
    assert [x.article_id for x in followup.links] == ["flood-c", "flood-a", "flood-b", "flood-r"]
    assert followup.links[-1].score == scores["flood-r"]
    # the new facts are still weighed against the best three only, and a story it joins without re-rooting
    # lists those three alone
    _, joined = link(index, article("later", FLOOD_FIRST, 20))
    assert [x.article_id for x in joined.links] == ["flood-c", "flood-a", "flood-b"]


def test_the_old_first_article_published_again_links_back_to_the_article_that_re_rooted_its_story() -> None:
    index = index_of(STORY)
    table = {article_id: encode_entry(index.entries[article_id]) for article_id, _ in STORY[1]}
    decisions = {"flood-r": kept("flood-r", "flood-r", []), "flood-a": kept("flood-a", "flood-r", [("flood-r", 0.4)]),
                 "flood-b": kept("flood-b", "flood-r", [("flood-a", 0.9)]),
                 "flood-c": kept("flood-c", "flood-r", [("flood-a", 0.7)])}
    settings = Settings()
    messages = link_messages(index, table, decisions, article("late", FLOOD_FIRST, -5), Envelope(value=b""),
                             settings, LinkConfig(), WorkerMetrics())
    events = {(event := codec.loads(m.value))["article_id"]: event for m in messages
              if m.topic == settings.topic_followups}
    for event in events.values():
        jsonschema.validate(event, SCHEMA)
    assert sorted(events) == ["flood-a", "flood-b", "flood-c", "flood-r", "late"]
    score = next(x["score"] for x in events["late"]["links"] if x["article_id"] == "flood-r")
    root = events["flood-r"]
    assert (root["story_id"], root["relation"]) == ("late", "same_story")
    assert root["links"] == [{"article_id": "late", "relation": "same_story", "score": score}]
    # the others keep their own links and take the new story id
    assert events["flood-b"]["links"] == [{"article_id": "flood-a", "relation": "same_story", "score": 0.9}]
    assert {event["story_id"] for event in events.values()} == {"late"}


def test_the_old_first_article_is_scored_when_the_lookup_and_the_sample_left_it_out() -> None:
    linker = StoryLinker()
    linker([article("flood-r", FLOOD_FOLLOW_UP, 10), article("flood-a", FLOOD_RETOLD, 11),
            article("flood-x", FLOOD_FIRST, 5)])  # flood-x, published first, re-rooted the story
    assert linker.index.story("flood-x").members[0] == "flood-r"  # in the order they joined: the root came last
    # one candidate from the lookup (the other retelling) and one sampled member (the first to join, flood-r)
    narrow = LinkConfig(max_candidates=1, story_sample=1)
    earliest = article("earliest", FLOOD_RETOLD + " Schools stay shut.", 0)
    assert [a for a, _ in pair_scores(linker.index, earliest, narrow)] == ["flood-a"]
    _, followup = link(linker.index, earliest, narrow)
    assert followup.story_id == "earliest"
    linked = {x.article_id: x.score for x in followup.links}
    assert set(linked) == {"flood-a", "flood-r", "flood-x"}
    assert linked["flood-x"] == dict(pair_scores(linker.index, earliest))["flood-x"]


def test_published_scores_stay_within_the_schema_when_a_bonus_lifts_a_near_copy() -> None:
    dated = FLOOD_FIRST.replace("on Sunday", "on Sunday, March 3, 2019")
    index = index_of(("flood-1", [("flood-1", dated)]))
    copy = article("copy", dated + " ", 2)
    assert dict(pair_scores(index, copy))["flood-1"] > 1  # the same past year both name: a bonus on top
    _, followup = link(index, copy)
    assert (followup.relation, [(x.article_id, x.score) for x in followup.links]) == ("duplicate", [("flood-1", 1.0)])


def test_a_copy_that_arrived_first_is_the_duplicate_once_the_original_arrives() -> None:
    index, table, decisions, settings = StoryIndex(), {}, {}, Settings()
    latest = {}
    for sent in (article("copy", FLOOD_FIRST + " ", 3), article("original", FLOOD_FIRST, 0)):
        for message in link_messages(index, table, decisions, sent, Envelope(value=b""), settings, LinkConfig(),
                                     WorkerMetrics()):
            if message.topic == settings.topic_followups:
                event = codec.loads(message.value)
                jsonschema.validate(event, SCHEMA)
                latest[event["article_id"]] = event
    # as if they had come in the order they were published: the original opens the story, the copy duplicates it
    original, copy = latest["original"], latest["copy"]
    assert (original["story_id"], original["relation"], original["new_fact_count"]) == ("original", "new_story", 0)
    assert [(x["article_id"], x["relation"]) for x in original["links"]] == [("copy", "duplicate")]
    assert (copy["story_id"], copy["relation"]) == ("original", "duplicate")
    assert copy["links"] == [{"article_id": "original", "relation": "duplicate",
                              "score": original["links"][0]["score"]}]


def test_the_first_article_of_a_part_split_off_is_new_story_linked_to_the_later_ones() -> None:
    index = index_of(MIXED)
    table = {article_id: encode_entry(index.entries[article_id]) for article_id, _ in MIXED[1]}
    # flood-1 had joined the share story, linked to a share report and to the later flood report
    decisions = {"chips-1": kept("chips-1", "chips-1", []),
                 "flood-1": kept("flood-1", "chips-1", [("chips-1", 0.2), ("flood-2", 0.5)]),
                 "chips-2": kept("chips-2", "chips-1", [("chips-1", 0.6)]),
                 "flood-2": kept("flood-2", "chips-1", [("flood-1", 0.5)])}
    settings = Settings()
    messages = link_messages(index, table, decisions, article("flood-3", FLOOD_FOLLOW_UP, 50), Envelope(value=b""),
                             settings, LinkConfig(), WorkerMetrics())
    events = {(event := codec.loads(m.value))["article_id"]: event for m in messages
              if m.topic == settings.topic_followups}
    for event in events.values():
        jsonschema.validate(event, SCHEMA)
    first = events["flood-1"]
    assert (first["story_id"], first["relation"], first["new_fact_count"]) == ("flood-1", "new_story", 0)
    assert first["links"] == [{"article_id": "flood-2", "relation": "same_story", "score": 0.5}]
    assert (events["flood-2"]["story_id"], events["flood-2"]["relation"]) == ("flood-1", "same_story")
