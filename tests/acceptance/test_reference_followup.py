"""Reference page: the main story is a follow-up of the related story the page links to.

Reads the page text from the ``shared`` folder beside the repository (never copied into the repo) and runs the
real pipeline (decode → normalize → stages) and then the story linker, in publication order.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from worker import codec
from worker.pipeline import build_pipeline
from worker.records import Article, Envelope, Origin
from worker.settings import Settings
from worker.stories import StoryLinker

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SEEDS = SHARED / "seeds"
RELATED_PUBLISHED = datetime(2016, 10, 3, 19, 0, tzinfo=timezone.utc)

pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason="the shared folder beside the repository is absent")


def _run(raw: dict) -> list[Article]:
    envelope = Envelope(value=codec.dumps(raw), origin=Origin(file="reference", line=1))
    (outcome,) = build_pipeline(Settings()).run([envelope])
    assert outcome.rejection is None, outcome.rejection
    return list(outcome.articles)


def _stories(reference_articles: list[Article]) -> tuple[Article, Article]:
    """The page's main story and its related story (from the shared fixture: the seed files joined by a newline)."""
    main = next(a for a in reference_articles if a.kind == "main")
    related = next(a for a in reference_articles if a.kind == "related" and "patience" in a.text)
    if related.published_at is None or related.published_at >= main.published_at:
        related = replace(related, published_at=RELATED_PUBLISHED)  # the related story ran the day before
    return main, related


def test_main_story_is_a_follow_up_of_the_related_story_with_only_its_new_facts(reference_articles) -> None:
    main, related = _stories(reference_articles)
    linker = StoryLinker()
    linked_related, linked_main = linker(sorted([related, main], key=lambda a: a.published_at))
    assert linked_main.followup.story_id == linked_related.followup.story_id == related.id
    assert linked_main.followup.relation == "follow_up"
    new_facts = " ".join(f.text for f in linked_main.followup.new_facts)
    assert "Ayrault" in new_facts  # the French foreign minister's remarks
    assert "hospital" in new_facts and "bombed" in new_facts
    for only_in_earlier in ("Zakharova", "plutonium", "Putin", "moderate"):
        assert only_in_earlier not in new_facts
    for reported_before in ("not a decision that was taken lightly", "Joint Implementation"):
        assert reported_before not in new_facts


def test_related_story_sent_again_under_another_url_is_a_duplicate(reference_articles) -> None:
    main, related = _stories(reference_articles)
    linker = StoryLinker()
    linker(sorted([related, main], key=lambda a: a.published_at))
    (again,) = [a for a in _run({"id": "mirror", "url": "https://mirror.example.net/us-suspends-syria-talks",
                                 "text": related.text, "published_at": "2016-10-04T10:00:00+00:00",
                                 "language": "en"})]
    linked = linker.link_one(again)
    assert linked.followup.relation == "duplicate"
    assert linked.followup.story_id == related.id
