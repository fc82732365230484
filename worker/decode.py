"""Raw Kafka record (or file line) → ``RawArticle``, or ``InputRejected``. Pure: no I/O, no logging.

reads: Envelope.value, Envelope.key, Envelope.headers — writes: RawArticle

A raw article is either a JSON object (``schemas/raw_article.schema.json``) or a plain-text / HTML body whose
metadata rides in Kafka headers (``id``, ``url``, ``title``, ``published_at``, ``source``, ``language``,
``fetched_at``, ``content-type``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

from worker.normalize.text import decode_bytes
from worker.records import Envelope, InputRejected, RawArticle, RejectCode

_STRING_FIELDS = ("id", "url", "text", "html", "title", "published_at", "source", "language", "fetched_at")
_HTML_SNIFF = (b"<!doctype html", b"<html", b"<head", b"<body", b"<article", b"<div", b"<p>", b"<p ")


@dataclass(frozen=True, slots=True)
class InputLimits:
    max_body_bytes: int = 2_000_000


def decode(envelope: Envelope, limits: InputLimits = InputLimits()) -> RawArticle:
    """Decode one input. Raises ``InputRejected`` with a specific code when the input is unusable.

    >>> decode(Envelope(value=b'{"id": "a1", "text": "Hello."}')).body
    'Hello.'
    """
    value = envelope.value
    if value is None:
        raise InputRejected(RejectCode.MISSING_BODY, "the message has no value")
    if len(value) > limits.max_body_bytes:
        raise InputRejected(
            RejectCode.TOO_LARGE, f"body is {len(value)} bytes, over the limit of {limits.max_body_bytes}"
        )
    headers = _header_map(envelope.headers)
    content_type = headers.get("content_type", "").lower()
    head = value.lstrip()[:1]
    if "json" in content_type or head in (b"{", b"["):
        return _decode_json(value, envelope.key)
    return _decode_body(value, envelope.key, headers, content_type)


def _decode_json(value: bytes, key: bytes | None) -> RawArticle:
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        # orjson refuses invalid UTF-8; repair the encoding first, the same as for a plain body.
        try:
            obj = orjson.loads(decode_bytes(value))
        except (orjson.JSONDecodeError, InputRejected):
            raise InputRejected(RejectCode.INVALID_JSON, f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InputRejected(RejectCode.INVALID_SHAPE, f"expected a JSON object, got {type(obj).__name__}")
    for name in _STRING_FIELDS:
        if name in obj and obj[name] is not None and not isinstance(obj[name], str):
            raise InputRejected(
                RejectCode.INVALID_SHAPE, f"field {name!r} must be a string, got {type(obj[name]).__name__}"
            )
    if not obj.get("id") and not obj.get("url"):
        raise InputRejected(RejectCode.INVALID_SHAPE, "a JSON raw article needs an 'id' or a 'url'")
    text, html = obj.get("text"), obj.get("html")
    if text is None and html is None:
        raise InputRejected(RejectCode.MISSING_BODY, "a JSON raw article needs 'text' or 'html'")
    # A producer that sends both did its own extraction; its text wins, its HTML still gives metadata.
    body, body_type = (text, "text") if text is not None else (html, "html")
    if not body.strip():
        raise InputRejected(RejectCode.EMPTY_BODY, f"the '{body_type}' field is empty or whitespace only")
    return RawArticle(
        id=obj.get("id") or obj["url"],
        url=obj.get("url"),
        body=body,
        body_type=body_type,
        title=obj.get("title"),
        published_at=_parse_time(obj.get("published_at"), "published_at"),
        source=obj.get("source"),
        language=obj.get("language"),
        fetched_at=_parse_time(obj.get("fetched_at"), "fetched_at"),
    )


def _decode_body(value: bytes, key: bytes | None, headers: dict[str, str], content_type: str) -> RawArticle:
    if not value.strip():
        raise InputRejected(RejectCode.EMPTY_BODY, "the body is empty or whitespace only")
    body = decode_bytes(value)  # raises BINARY_BODY for data that is not text
    if not body.strip():
        raise InputRejected(RejectCode.EMPTY_BODY, "the body is empty or whitespace only")
    is_html = "html" in content_type or (
        "text/plain" not in content_type and value.lstrip()[:512].lower().startswith(_HTML_SNIFF)
    )
    source_id = headers.get("id") or headers.get("url") or _key_text(key) or _content_id(value)
    return RawArticle(
        id=source_id,
        url=headers.get("url"),
        body=body,
        body_type="html" if is_html else "text",
        title=headers.get("title"),
        published_at=_parse_time(headers.get("published_at"), "published_at header"),
        source=headers.get("source"),
        language=headers.get("language"),
        fetched_at=_parse_time(headers.get("fetched_at"), "fetched_at header"),
    )


def _header_map(headers: tuple[tuple[str, bytes], ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, raw in headers:
        if raw is None:
            continue
        text = raw.decode("utf-8", errors="replace").strip() if isinstance(raw, bytes) else str(raw).strip()
        if text:
            # "Content-Type", "content_type" and "content-type" all name the same header.
            out[name.strip().lower().replace("-", "_")] = text
    return out


def _key_text(key: bytes | None) -> str | None:
    if not key:
        return None
    text = key.decode("utf-8", errors="replace").strip()
    return text or None


def _content_id(value: bytes) -> str:
    # No id, url or key: the content itself names the input, so a redelivery gets the same ids.
    return "sha256:" + hashlib.sha256(value).hexdigest()[:32]


def _parse_time(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise InputRejected(RejectCode.INVALID_SHAPE, f"{field} is not an ISO 8601 time: {value!r}") from None
    # A time without an offset is taken as UTC: news feeds that omit the zone almost always mean it.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
