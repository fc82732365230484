"""The article schema's entity, location, mention and quote definitions are exactly the item dataclasses, and
what the real stages produce for an article we write validates against it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from worker import codec
from worker.nlp.items import Entity, Location, Mention, Quote
from worker.pipeline import build_pipeline
from worker.records import Envelope
from worker.settings import Settings

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "article.schema.json").read_text(encoding="utf-8"))

STORY = (
    "Port talks resume in Lisbon\n\n"
    "LISBON — Portuguese Prime Minister Helena Duarte met Spanish officials in Lisbon on Tuesday to discuss the "
    "ferry link to Madrid and Porto.\n\n"
    "“We have repaired the ramp and tested the new engines,” Duarte told reporters. “The first crossing is "
    "planned for May.”\n"
)


@pytest.mark.parametrize(("definition", "item"), [("mention", Mention), ("entity", Entity), ("location", Location), ("quote", Quote)])
def test_definitions_are_exactly_the_item_fields(definition, item):
    schema = SCHEMA["$defs"][definition]
    fields = {f.name for f in dataclasses.fields(item)}
    assert set(schema["properties"]) == fields
    assert set(schema["required"]) == fields
    assert all(prop.get("description") or prop.get("type") in ("integer", "number") for prop in schema["properties"].values())


def test_real_stage_output_is_valid_and_not_empty():
    (outcome,) = build_pipeline(Settings()).run([Envelope(value=codec.dumps({"id": "port", "text": STORY, "language": "en"}))])
    assert outcome.rejection is None
    [article] = outcome.articles
    message = codec.loads(codec.dumps(article))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(SCHEMA).iter_errors(message)]
    assert errors == []
    assert message["entities"] and message["locations"] and message["quotes"]
    assert message["dateline_location"]["name"] == "Lisbon"
    assert {q["speaker"] for q in message["quotes"]} == {"Helena Duarte"}
    duarte = next(e for e in message["entities"] if e["name"] == "Helena Duarte")
    assert duarte["type"] == "PERSON" and duarte["count"] == 2 and duarte["role"] == "Portuguese Prime Minister"
