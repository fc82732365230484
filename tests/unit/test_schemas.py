"""The schema files in schemas/ are the contract: they must be valid 2020-12 schemas, match the record types,
and accept what the real pipeline and the real dead-letter builder produce."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from worker import codec
from worker.app import article_from_plain
from worker.deadletter import dead_letter
from worker.decode import decode
from worker.pipeline import build_pipeline
from worker.records import Article, Envelope, InputRejected, Origin, RejectCode
from worker.settings import Settings

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
SCHEMA_NAMES = ("raw_article", "article", "deadletter")
FAILED_AT = datetime(2024, 3, 5, 12, 0, 0, tzinfo=timezone.utc)

PLAIN_PAGE = (
    "Lighthouse keepers return to Skerry Point\n\n"
    "By Ada Example\n\n"
    "SKERRY POINT — Two keepers moved back into the lighthouse yesterday, the first residents since 1987.\n\n"
    "The council said on Monday that the lamp would be lit again in 2025. “We missed the sea,” one keeper said.\n"
)
# its address and date stamps give the url and publication day of both stories (the producer gave neither)
STAMPED_PAGE = (
    "https://example.test/2024/03/05/skerry-lamp\n\nUpdated: March 5, 2024 10:12 AM GMT\n\n"
    "Skerry Point lamp lit again\n\nThe lighthouse lamp at Skerry Point was lit again last night after 37 years.\n\n"
    "Related Story\nwww.example.test/2024/02/12/keepers\nFeb 12, 2024\nKeepers return to Skerry Point\n"
    "Two keepers moved back into the lighthouse yesterday, the first residents since 1987.\n"
)
HTML_PAGE = (
    "<!doctype html><html><head><title>Tram line opens early</title>"
    '<meta name="author" content="Bo Sample"><script>var tracking = 1;</script></head><body>'
    "<nav><a href='/'>Home</a></nav><article><h1>Tram line opens early</h1>"
    "<p>The new tram line between the harbour and the university opened three weeks ahead of schedule.</p>"
    "<p>Riders said the trip now takes eleven minutes instead of half an hour by bus.</p></article>"
    "<footer>Contact us</footer></body></html>"
)


def load(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(load(name), format_checker=FormatChecker())


def errors(name: str, instance: object) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(name).iter_errors(instance)]


def good_inputs() -> list[Envelope]:
    return [
        Envelope(
            value=codec.dumps({"id": "plain-1", "text": PLAIN_PAGE, "published_at": "2024-03-05T09:30:00Z",
                               "source": "Test Gazette", "fetched_at": "2024-03-05T09:31:00+01:00"}),
            origin=Origin(topic="news.raw", partition=0, offset=0),
        ),
        Envelope(value=codec.dumps({"url": "https://example.test/tram", "html": HTML_PAGE}),
                 origin=Origin(topic="news.raw", partition=1, offset=7)),
        Envelope(value=codec.dumps({"id": "stamped-1", "text": STAMPED_PAGE}),
                 origin=Origin(topic="news.raw", partition=2, offset=3)),
        # a bare body with metadata in headers, and no publication time: dates cannot be anchored
        Envelope(value=PLAIN_PAGE.encode(), key=b"https://example.test/skerry",
                 headers=(("content-type", b"text/plain"), ("id", b"bare-1"))),
    ]


BAD_INPUTS = [
    Envelope(value=b'{"id": "x", "text": ', key=b"k1", origin=Origin(topic="news.raw", partition=2, offset=41,
                                                                       timestamp_ms=1709630000000)),
    Envelope(value=b'{"id": "x", "text": 5}', headers=(("trace", b"\xff\x00"),)),
    Envelope(value=None, origin=Origin(file="inputs.jsonl", line=3)),
    Envelope(value=b"   \n\t "),
    Envelope(value=bytes(range(256)) * 8),
]


@pytest.fixture(scope="module")
def pipeline():
    return build_pipeline(Settings())


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_a_valid_2020_12_schema_with_documentation(name):
    schema = load(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(name)
    assert schema["title"] and len(schema["description"]) > 80
    assert schema["examples"]
    for example in schema["examples"]:
        assert errors(name, example) == []


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_property_is_described(name):
    schema = load(name)
    undescribed = [key for key, prop in schema["properties"].items() if not prop.get("description")]
    assert undescribed == []


def test_format_checking_is_active():
    # jsonschema skips "date-time" silently when its optional checker is missing; then the tests below prove less.
    example = dict(load("deadletter")["examples"][0], failed_at="yesterday at noon")
    assert any("date-time" in message for message in errors("deadletter", example))


def test_article_schema_properties_are_exactly_the_dataclass_fields():
    schema = load("article")
    fields = [f.name for f in dataclasses.fields(Article)]
    assert set(schema["properties"]) == set(fields)
    assert sorted(schema["required"]) == sorted(fields)  # codec writes every field, None as null


def test_article_schema_example_offsets_point_into_its_text():
    example = load("article")["examples"][0]
    text = example["text"]
    for mention in example["dates"]:
        assert text[mention["start"] : mention["end"]] == mention["text"]
    dateline = example["dateline"]
    assert text[dateline["start"] : dateline["end"]] == dateline["text"]
    assert [text[p["start"] : p["end"]] for p in example["paragraphs"]] == text.split("\n\n")


def test_default_article_serializes_to_a_valid_message():
    article = Article(id="a", source_id="s", text="One line.")
    assert errors("article", codec.to_plain(article)) == []


def test_article_schema_rejects_wrong_types():
    message = codec.to_plain(Article(id="a", source_id="s", text="x", published_at=FAILED_AT))
    assert errors("article", message) == []
    assert errors("article", dict(message, kind="opinion"))
    assert errors("article", dict(message, published_at="4 March"))
    assert errors("article", dict(message, paragraphs=[{"start": 0}]))
    assert errors("article", {k: v for k, v in message.items() if k != "headline"})


def test_real_pipeline_articles_are_valid(pipeline):
    outcomes = pipeline.run(good_inputs())
    assert [o.rejection for o in outcomes] == [None] * len(outcomes)
    articles = [a for o in outcomes for a in o.articles]
    assert len(articles) >= len(outcomes)
    for article in articles:
        message = codec.loads(codec.dumps(article))  # exactly the bytes the worker publishes
        assert errors("article", message) == [], article.id
        assert message["published_at"] is None or datetime.fromisoformat(message["published_at"]).tzinfo
    # the stamped page's stories were dated by their stamps and addressed by their address lines
    stamped = [(a.kind, a.url, a.published_at.date().isoformat()) for a in articles if a.source_id == "stamped-1"]
    assert stamped == [("main", "https://example.test/2024/03/05/skerry-lamp", "2024-03-05"),
                       ("related", "www.example.test/2024/02/12/keepers", "2024-02-12")]
    # and the day each stamp prints is in the message as a date a consumer parses back
    printed = [codec.to_plain(a)["stamped_on"] for a in articles if a.source_id == "stamped-1"]
    assert printed == ["2024-03-05", "2024-02-12"]
    assert errors("article", dict(codec.to_plain(articles[0]), stamped_on="5 March 2024"))
    # the linking agent reads the message back into the same dates
    for article in articles:
        again = article_from_plain(codec.loads(codec.dumps(article)))
        assert (again.published_at, again.stamped_on, again.dates) == (article.published_at, article.stamped_on,
                                                                     article.dates)


def test_real_rejections_make_valid_dead_letters(pipeline):
    outcomes = pipeline.run(BAD_INPUTS)
    assert all(o.rejection is not None and not o.articles for o in outcomes)
    for outcome in outcomes:
        message = codec.loads(codec.dumps(dead_letter(outcome.envelope, outcome.rejection, FAILED_AT, "newsworker")))
        assert errors("deadletter", message) == [], outcome.rejection


def test_deadletter_codes_are_exactly_the_reject_codes():
    codes = load("deadletter")["properties"]["error"]["properties"]["code"]["enum"]
    assert codes == [str(code) for code in RejectCode]


@pytest.mark.parametrize("index", [0, 1])
def test_raw_article_examples_decode(index):
    example = load("raw_article")["examples"][index]
    raw = decode(Envelope(value=codec.dumps(example)))
    assert raw.body in (example.get("text"), example.get("html"))


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ({"text": "No identifier."}, RejectCode.INVALID_SHAPE),
        ({"id": "r1"}, RejectCode.MISSING_BODY),
        ({"id": "r1", "text": "  \n "}, RejectCode.EMPTY_BODY),
        ({"id": "r1", "text": "Body.", "published_at": "last Tuesday"}, RejectCode.INVALID_SHAPE),
        ({"id": 17, "text": "Body."}, RejectCode.INVALID_SHAPE),
    ],
)
def test_raw_article_schema_and_decoder_refuse_the_same_inputs(document, code):
    assert errors("raw_article", document)
    with pytest.raises(InputRejected) as rejected:
        decode(Envelope(value=codec.dumps(document)))
    assert rejected.value.code == code


def test_raw_article_schema_allows_extra_properties_and_both_bodies():
    document = {"url": "https://example.test/x", "text": "Body.", "html": "<p>Body.</p>", "crawler": {"run": 3}}
    assert errors("raw_article", document) == []
    assert decode(Envelope(value=codec.dumps(document))).body_type == "text"
