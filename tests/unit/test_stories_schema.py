"""The follow-up contract: what the linker produces validates against schemas/followup.schema.json."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest

from worker import codec
from worker.records import Article
from worker.stories import FollowUp, StoryLinker, followup_event

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
T0 = datetime(2024, 5, 2, 8, 0, tzinfo=timezone.utc)
FIRST = (
    "A cargo ship ran aground off the island of Texel on Thursday, spilling containers into the Wadden Sea. "
    "The Dutch coast guard said all 22 crew members were safe. \"The hull is intact,\" said captain Ilse Brouwer."
)
LATER = (
    "Salvage crews began lifting the containers a cargo ship spilled off Texel, the Dutch coast guard said on "
    "Saturday. Inspectors found plastic pellets on beaches near Den Helder and Vlieland. The environment minister "
    "Ruud Mertens ordered a clean-up of the Wadden Sea shore. \"We will pay for every beach,\" Mertens told parliament."
)


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def linked() -> list[Article]:
    linker = StoryLinker()
    articles = [
        Article(id="ship-1", source_id="ship-1", text=FIRST, published_at=T0),
        Article(id="ship-2", source_id="ship-2", text=LATER, published_at=T0 + timedelta(days=2)),
        Article(id="ship-0", source_id="ship-0", text=FIRST, published_at=T0 - timedelta(hours=1)),
        Article(id="empty", source_id="empty", text=" ", published_at=None),
    ]
    return linker(articles)


@pytest.mark.parametrize("position", range(4))
def test_article_followup_and_event_validate(position: int) -> None:
    article = linked()[position]
    assert isinstance(article.followup, FollowUp)
    followup_schema = schema("followup.schema.json")
    validator = jsonschema.Draft202012Validator
    plain = codec.to_plain(article.followup)
    validator({"$defs": followup_schema["$defs"], "$ref": "#/$defs/followup"}).validate(plain)
    validator(schema("article.schema.json")["properties"]["followup"]).validate(plain)
    validator(followup_schema, format_checker=validator.FORMAT_CHECKER).validate(
        codec.to_plain(followup_event(article, article.followup))
    )


def test_relations_seen_in_the_contract_example_stream() -> None:
    articles = linked()
    relations = [a.followup.relation for a in articles]
    assert relations[:3] == ["new_story", "follow_up", "new_story"]
    # ship-0 was published before ship-1, its copy: it is the story's first article, linked to the later ones
    # (ship-1 a near copy of it), and ship-1/ship-2 get updates
    first = articles[2].followup
    assert first.story_id == "ship-0" and first.new_facts == ()
    assert first.links[0].article_id == "ship-1" and first.links[0].relation == "duplicate"
    assert {u.article_id for u in first.updates} == {"ship-1", "ship-2"}


def test_schema_enums_match_the_code() -> None:
    relation = schema("followup.schema.json")["$defs"]["relation"]["enum"]
    assert set(relation) == {"new_story", "duplicate", "same_story", "follow_up"}
    fields = set(FollowUp.__dataclass_fields__)
    assert fields == set(schema("followup.schema.json")["$defs"]["followup"]["required"])


def test_a_decision_listing_only_some_of_its_moves_validates_with_the_count_of_the_rest() -> None:
    # The linking agent's bound (worker/app.py bounded_updates): an out-of-order article re-rooting a large story
    from worker.app import bounded_updates

    article = linked()[2]  # ship-0: two moves
    listed, left_out = bounded_updates(article.followup.updates, 1)
    bounded = replace(article.followup, updates=listed)
    plain, event = codec.to_plain(bounded), followup_event(article, bounded)
    plain["updates_left_out"] = event["updates_left_out"] = left_out
    followup_schema = schema("followup.schema.json")
    validator = jsonschema.Draft202012Validator
    validator({"$defs": followup_schema["$defs"], "$ref": "#/$defs/followup"}).validate(plain)
    validator(followup_schema, format_checker=validator.FORMAT_CHECKER).validate(event)
    assert left_out == 1 and len(event["updates"]) == 1
    event["updates_left_out"] = 0  # only present when something was left out
    with pytest.raises(jsonschema.ValidationError):
        validator(followup_schema).validate(event)
