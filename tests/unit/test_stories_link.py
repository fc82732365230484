"""Unit tests of the pure story linking: signatures, the index and the decision (no broker, no event loop)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from worker import codec
from worker.nlp.items import Entity
from worker.records import Article
from worker.stories import Entry, LinkConfig, StoryIndex, StoryLinker, link, signature_of
from worker.stories.signature import MAX_FACTS, MAX_KEYS, MAX_SHINGLE_WORDS, Signature

T0 = datetime(2024, 3, 11, 6, 0, tzinfo=timezone.utc)

FLOOD_FIRST = (
    "Floodwaters from the Rhine River swept through the old town of Koblenz on Sunday, forcing 3,400 residents "
    "from their homes. The fire brigade of Koblenz said two bridges over the Moselle were closed. "
    "Mayor Helga Brandauer said the city had opened four shelters in school gyms. "
    "\"We have never seen the water rise this fast in March,\" said Brandauer at the town hall."
)
FLOOD_RETOLD = (
    "Some 3,400 people fled their homes in Koblenz on Sunday as the Rhine River burst its banks and flooded the "
    "old town. Two bridges over the Moselle were shut, the Koblenz fire brigade said, and Mayor Helga Brandauer "
    "opened four shelters in school gyms. \"We have never seen the water rise this fast in March,\" Brandauer said."
)
FLOOD_FOLLOW_UP = (
    "The Rhine River began to recede in Koblenz on Tuesday, two days after floodwaters forced 3,400 residents "
    "from their homes. Mayor Helga Brandauer said the damage to the old town would cost at least 40 million euros. "
    "Engineers inspecting the Moselle bridges found cracks in the Pfaffendorf bridge, which will stay closed until "
    "June. State premier Jonas Wehling promised emergency funds for shop owners on a visit to the Koblenz shelters. "
    "\"Nobody will be left alone with the cost of this disaster,\" Wehling told reporters."
)
OTHER_STORY = (
    "Shares of the chip maker Veltronic rose 12 percent in Tokyo after the company raised its profit forecast. "
    "Chief executive Akira Senda said demand for memory chips from data centres had doubled since January."
)


def article(article_id: str, text: str, hours: float = 0.0, **fields: object) -> Article:
    return Article(id=article_id, source_id=article_id, text=text, published_at=T0 + timedelta(hours=hours), **fields)


def test_unrelated_articles_start_their_own_stories() -> None:
    linker = StoryLinker()
    first, other = linker([article("flood-1", FLOOD_FIRST), article("chips", OTHER_STORY, 1)])
    assert (first.followup.relation, first.followup.story_id) == ("new_story", "flood-1")
    assert (other.followup.relation, other.followup.story_id) == ("new_story", "chips")


def test_same_text_under_another_url_is_a_duplicate_of_the_first() -> None:
    linker = StoryLinker()
    linker([article("flood-1", FLOOD_FIRST), article("chips", OTHER_STORY, 1)])
    copy = linker.link_one(article("flood-1-mirror", FLOOD_FIRST + " ", 2))
    assert copy.followup.relation == "duplicate"
    assert copy.followup.story_id == "flood-1"
    assert copy.followup.links[0].article_id == "flood-1"
    assert copy.followup.new_facts == ()


def test_a_retelling_is_the_same_story_with_evidence() -> None:
    linker = StoryLinker()
    linker([article("flood-1", FLOOD_FIRST), article("chips", OTHER_STORY, 1)])
    retold = linker.link_one(article("flood-2", FLOOD_RETOLD, 3)).followup
    assert retold.relation == "same_story"
    assert retold.story_id == "flood-1"
    assert "e:koblenz" in retold.evidence.shared_keys
    assert retold.evidence.shared_quotes == 1


def test_follow_up_reports_only_the_new_facts() -> None:
    linker = StoryLinker()
    linker([article("flood-1", FLOOD_FIRST), article("chips", OTHER_STORY, 1)])
    followup = linker.link_one(article("flood-3", FLOOD_FOLLOW_UP, 50)).followup
    assert followup.relation == "follow_up"
    assert followup.story_id == "flood-1"
    new_text = " ".join(fact.text for fact in followup.new_facts)
    assert "Pfaffendorf" in new_text and "40 million euros" in new_text
    assert any(fact.kind == "quote" and "Nobody will be left alone" in fact.text for fact in followup.new_facts)
    # the recap sentence repeats what the first article said: not a new fact
    assert not any(fact.text.startswith("The Rhine River began") for fact in followup.new_facts)


def test_an_earlier_article_arriving_late_becomes_the_story_root_and_updates_the_others() -> None:
    linker = StoryLinker()
    linker([article("flood-2", FLOOD_RETOLD, 3), article("flood-3", FLOOD_FOLLOW_UP, 50)])
    assert linker.index.entries["flood-3"].story_id == "flood-2"
    late = linker.link_one(article("flood-1", FLOOD_FIRST, 0)).followup
    assert late.story_id == "flood-1"
    assert {(u.article_id, u.story_id, u.previous_story_id) for u in late.updates} == {
        ("flood-2", "flood-1", "flood-2"),
        ("flood-3", "flood-1", "flood-2"),
    }
    assert {e.story_id for e in linker.index.entries.values()} == {"flood-1"}
    # later members keep linking to the re-rooted story
    again = linker.link_one(article("flood-4", FLOOD_RETOLD + " Updated.", 60)).followup
    assert again.story_id == "flood-1"


def test_articles_older_than_the_retention_window_are_evicted_and_never_linked() -> None:
    linker = StoryLinker(LinkConfig(retention_seconds=3 * 24 * 3600))
    linker([article("flood-1", FLOOD_FIRST), article("chips", OTHER_STORY, 1)])
    linker.link_one(article("chips-later", OTHER_STORY.replace("12 percent", "9 percent"), 24 * 5))
    assert "flood-1" not in linker.index.entries and "chips" not in linker.index.entries
    # its buckets and postings may linger until compaction, but an evicted article is never a candidate again
    looked_up = linker.index.candidates(signature_of(article("flood-1", FLOOD_FIRST)), limit=100)
    assert all(article_id not in ("flood-1", "chips") for article_id, _ in looked_up)
    retold = linker.link_one(article("flood-2", FLOOD_RETOLD, 24 * 5 + 1)).followup
    assert retold.relation == "new_story"
    too_old = linker.link_one(article("flood-0", FLOOD_FIRST, -24 * 30)).followup
    assert too_old.unlinkable == "outside_retention"


def test_pathological_article_is_bounded() -> None:
    words = [f"w{i % 50_000}x{i // 50_000}" for i in range(100_002)]  # 100,000 distinct 3-shingles
    huge = article("huge", " ".join(words))
    started = time.perf_counter()
    signature = signature_of(huge)
    elapsed = time.perf_counter() - started
    assert signature.words == MAX_SHINGLE_WORDS
    assert len(signature.keys) // 4 <= MAX_KEYS and len(signature.facts) // 2 <= MAX_FACTS
    assert elapsed < 2.0
    linker = StoryLinker()
    linker([article("flood-1", FLOOD_FIRST), huge])
    assert linker.link_one(article("huge-again", huge.text, 1)).followup.relation == "duplicate"


def test_missing_text_or_time_degrades_instead_of_failing() -> None:
    linker = StoryLinker()
    linker([article("flood-1", FLOOD_FIRST)])
    empty = linker.link_one(article("empty", "   "))
    assert (empty.followup.relation, empty.followup.unlinkable) == ("new_story", "no_text")
    undated = linker.link_one(replace(article("flood-2", FLOOD_RETOLD), published_at=None)).followup
    assert undated.story_id == "flood-1" and undated.unlinkable == "no_published_at"
    # kept under the latest publication time, so it stays linkable and is evicted with its peers
    assert linker.index.entries["flood-2"].published == T0.timestamp()
    later = linker.link_one(article("flood-3", FLOOD_RETOLD + " More.", 2)).followup
    assert {x.article_id for x in later.links} >= {"flood-2"}


def test_link_is_pure_and_signatures_round_trip_through_table_values() -> None:
    linker = StoryLinker()
    linker([article("flood-1", FLOOD_FIRST), article("chips", OTHER_STORY, 1)])
    before = {k: (v.story_id, v.signature) for k, v in linker.index.entries.items()}
    change, _ = link(linker.index, article("flood-2", FLOOD_RETOLD, 3))
    assert {k: (v.story_id, v.signature) for k, v in linker.index.entries.items()} == before
    assert change.add is not None and change.add.story_id == "flood-1"
    stored = [Entry.from_dict(e.to_dict()) for e in linker.index.entries.values()]
    recovered = StoryIndex.from_entries(stored)
    change_after_recovery, followup = link(recovered, article("flood-2", FLOOD_RETOLD, 3))
    assert followup.story_id == "flood-1" and change_after_recovery == change
    signature = signature_of(article("flood-1", FLOOD_FIRST))
    assert Signature.from_dict(signature.to_dict()) == signature


def test_the_table_mirror_recovers_the_same_decisions_after_a_restart() -> None:
    from worker.stories.table import decode_entry, index_from_table, write_change

    table: dict[str, bytes] = {}
    index = StoryIndex()
    stream = [article("flood-2", FLOOD_RETOLD, 3), article("chips", OTHER_STORY, 4), article("flood-1", FLOOD_FIRST)]
    for item in stream:
        change, _ = link(index, item)
        index.apply(change)
        write_change(table, index, change)
    assert {k: decode_entry(v).story_id for k, v in table.items()} == {"flood-2": "flood-1", "chips": "chips",
                                                                       "flood-1": "flood-1"}
    recovered = index_from_table(table)  # a restarted worker: only the table survived
    _, followup = link(recovered, article("flood-3", FLOOD_FOLLOW_UP, 50))
    assert followup.relation == "follow_up" and followup.story_id == "flood-1"


REHAB_QUILLON = (
    "Singer Mara Quillon has checked into the Harbor Springs treatment center in Malibu, her publicist Dev Arlen "
    "said on Monday. Quillon, 31, entered the rehab facility after a difficult year on tour, Arlen said. "
    "The singer asked fans to respect her privacy while she receives treatment in 2011."
)
REHAB_QUILLON_RETOLD = (
    "Mara Quillon is in rehab. The singer checked into the Harbor Springs treatment center in Malibu, publicist "
    "Dev Arlen confirmed on Monday, after a hard year of touring. Quillon asked fans for privacy in 2011."
)
REHAB_BREVIK = (
    "Tomas Brevik, the star of the police drama Nightwatch, is getting help for alcohol abuse at the Harbor Springs "
    "treatment center in Malibu, according to his representative Lena Moss. The 44-year-old actor was arrested "
    "for drunk driving in 2014 and will miss the start of filming, Moss told reporters."
)


def _entities(*named: tuple[str, str, float]) -> tuple[Entity, ...]:
    return tuple(Entity(id=i, name=i.split(":")[1], type=t, mentions=(), salience=s) for i, t, s in named)


QUILLON = _entities(
    ("person:mara-quillon", "PERSON", 1.0), ("org:harbor-springs-treatment-center", "ORG", 0.7),
    ("person:dev-arlen", "PERSON", 0.6), ("gpe:malibu", "GPE", 0.5),
)
BREVIK = _entities(
    ("person:tomas-brevik", "PERSON", 1.0), ("org:harbor-springs-treatment-center", "ORG", 0.7),
    ("person:lena-moss", "PERSON", 0.6), ("gpe:malibu", "GPE", 0.5),
)


def test_another_event_of_the_same_kind_is_kept_apart_by_who_and_when() -> None:
    def stream(config: LinkConfig) -> list[Article]:
        return StoryLinker(config)(
            [
                article("quillon-1", REHAB_QUILLON, 0, entities=QUILLON),
                article("brevik-1", REHAB_BREVIK, 1, entities=BREVIK),
                article("quillon-2", REHAB_QUILLON_RETOLD, 2, entities=QUILLON),
            ]
        )

    first, other, retold = stream(LinkConfig())
    assert (other.followup.relation, other.followup.story_id) == ("new_story", "brevik-1")
    assert retold.followup.story_id == "quillon-1"
    assert "e:quillon" in retold.followup.evidence.shared_keys  # a person is keyed on the surname
    # the same rehab centre, town and topic words: on those alone the second check-in joins the first
    topic_only = LinkConfig(lead_conflict_penalty=0.0, year_conflict_penalty=0.0)
    assert stream(topic_only)[1].followup.story_id == "quillon-1"


def test_an_undated_first_article_does_not_hold_back_eviction() -> None:
    linker = StoryLinker(LinkConfig(retention_seconds=3 * 24 * 3600))
    linker.link_one(replace(article("undated", OTHER_STORY), published_at=None))  # nothing indexed yet to date it
    linker([article("flood-1", FLOOD_FIRST), article("flood-2", FLOOD_RETOLD, 24 * 5)])
    assert "undated" not in linker.index.entries and "flood-1" not in linker.index.entries
    assert "flood-2" in linker.index.entries
