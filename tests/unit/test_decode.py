"""Every kind of bad input gets its own reject code through the real pipeline; good odd input is kept."""

from __future__ import annotations

import pytest

from worker import codec
from worker.decode import InputLimits, decode
from worker.normalize import NormalizeConfig
from worker.pipeline import Pipeline
from worker.records import Envelope, RejectCode

GOOD = "The ferry to the island ran again on Friday after a week of storms kept it in port."


def outcome(value: bytes | None, *, key: bytes | None = None, headers=(), limit: int = 2_000_000):
    pipeline = Pipeline(limits=InputLimits(max_body_bytes=limit),
                        normalize_config=NormalizeConfig(max_html_depth=200, max_html_elements=5_000))
    (result,) = pipeline.run([Envelope(value=value, key=key, headers=tuple(headers))])
    return result


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (b'{"id": "x", "text": "unfinished', RejectCode.INVALID_JSON),
        (b"[1, 2, 3", RejectCode.INVALID_JSON),
        (b"[1, 2, 3]", RejectCode.INVALID_SHAPE),
        (b'{"id": 7, "text": "The id is a number."}', RejectCode.INVALID_SHAPE),
        (b'{"id": "x", "text": ["a", "list"]}', RejectCode.INVALID_SHAPE),
        (b'{"text": "No id and no url."}', RejectCode.INVALID_SHAPE),
        (b'{"id": "x", "text": "Bad time.", "published_at": "last Tuesday"}', RejectCode.INVALID_SHAPE),
        (b'{"id": "x", "title": "Only a title"}', RejectCode.MISSING_BODY),
        (None, RejectCode.MISSING_BODY),
        (b"", RejectCode.EMPTY_BODY),
        (b" \n\t \r\n ", RejectCode.EMPTY_BODY),
        (b'{"id": "x", "text": "   \\n  "}', RejectCode.EMPTY_BODY),
        (b'{"id": "x", "html": "<html><body><nav>Home</nav></body></html>"}', RejectCode.EMPTY_BODY),
        (b"\x00\x01\x02\x03\xfe\xff" * 500, RejectCode.BINARY_BODY),
        (b"\x1f\x8b\x08\x00" + bytes(range(256)) * 8, RejectCode.BINARY_BODY),
    ],
    ids=["truncated-object", "truncated-array", "array", "id-number", "text-list", "no-id",
         "bad-time", "no-body", "no-value", "empty", "whitespace", "json-whitespace", "html-no-content",
         "binary", "gzip"],
)
def test_bad_input_gets_its_specific_code(value, code):
    result = outcome(value)
    assert result.articles == ()
    assert result.rejection is not None and result.rejection.code is code, result.rejection
    assert result.rejection.reason


def test_a_body_over_the_size_limit_is_too_large():
    result = outcome(("word " * 400).encode(), limit=1000)
    assert result.rejection.code is RejectCode.TOO_LARGE
    assert "2000 bytes" in result.rejection.reason and "1000" in result.rejection.reason


@pytest.mark.parametrize(
    "html",
    ["<html><body>" + "<div>" * 300 + "<p>Deep.</p>" + "</div>" * 300 + "</body></html>",
     "<html><body>" + "<b>x</b>" * 6_000 + "</body></html>"],
    ids=["deep", "enormous"],
)
def test_deeply_nested_or_enormous_html_is_too_complex(html):
    result = outcome(codec.dumps({"id": "h", "html": html}))
    assert result.rejection.code is RejectCode.HTML_TOO_COMPLEX


def test_a_message_without_key_is_processed_with_a_content_id():
    first, again = outcome(GOOD.encode()), outcome(GOOD.encode())
    assert first.rejection is None and len(first.articles) == 1
    assert first.articles[0].source_id.startswith("sha256:")
    assert [a.id for a in first.articles] == [a.id for a in again.articles]


def test_a_plain_body_takes_its_id_from_the_key_and_metadata_from_headers():
    headers = [("published_at", b"2024-05-17T08:00:00Z"), ("title", b"Ferry sails again"),
               ("content-type", b"text/plain")]
    (article,) = outcome(GOOD.encode(), key=b"ferry-42", headers=headers).articles
    assert (article.source_id, article.url, article.headline) == ("ferry-42", None, "Ferry sails again")
    assert [(d.text, d.value) for d in article.dates] == [("on Friday", "2024-05-17")]
    # A url header names the input ahead of the key.
    (linked,) = outcome(GOOD.encode(), key=b"ferry-42", headers=[("url", b"https://example.test/f")]).articles
    assert linked.source_id == linked.url == "https://example.test/f"


def test_invalid_utf8_that_can_be_repaired_is_repaired_not_rejected():
    value = GOOD.encode().replace(b"ferry", b"caf\xe9 ferry", 1)  # one Latin-1 byte inside UTF-8
    (article,) = outcome(value).articles
    assert "café ferry" in article.text


def test_html_body_is_sniffed_without_a_content_type():
    page = f"<!doctype html><html><head><title>Ferry</title></head><body><article><p>{GOOD}</p></article></body></html>"
    (article,) = outcome(page.encode(), key=b"page").articles
    assert article.text == GOOD and article.headline == "Ferry"


def test_direct_decode_keeps_producer_metadata():
    raw = decode(Envelope(value=codec.dumps({"url": "https://example.test/a", "text": GOOD, "source": "Wire",
                                             "language": "en", "fetched_at": "2024-05-17T09:00:00+02:00"})))
    assert raw.id == "https://example.test/a" and raw.source == "Wire" and raw.language == "en"
    assert raw.fetched_at is not None and raw.fetched_at.utcoffset().total_seconds() == 7200
