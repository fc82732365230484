"""Invented sample articles for the demo, the benchmark and the tests (written for this project).

Each file is one raw message: ``.jsonl`` files hold one message per line (JSON, or deliberately broken input),
``.txt``/``.html`` files are one bare body each whose metadata rides in headers, ``.bin`` is binary garbage.
:func:`sample_messages` turns them into what a producer would publish, with what each is expected to become.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

# Metadata of the bare-body samples, sent as Kafka headers (names as decode() reads them). Every sample is
# published within the story index's 14-day retention window, so the demo links the library follow-up whatever
# order the partitions deliver them in.
_BODY_HEADERS: dict[str, dict[str, str]] = {
    "harbour-ferry.txt": {"id": "sample-harbour-ferry", "published_at": "2025-04-04T07:30:00+00:00",
                          "source": "Coastline Gazette", "content-type": "text/plain; charset=utf-8"},
    "orchard-frost.html": {"id": "sample-orchard-frost", "url": "https://valley-herald.example/farming/frost",
                           "published_at": "2025-04-02T16:05:00+00:00", "content-type": "text/html"},
    "river-page.txt": {"id": "sample-river-page", "url": "https://riverside-daily.example/flood-defences",
                       "published_at": "2025-04-08T09:00:00+00:00", "content-type": "text/plain; charset=utf-8"},
    "garbage.bin": {"content-type": "application/octet-stream"},
}


@dataclass(frozen=True, slots=True)
class SampleMessage:
    name: str  # file name, with ":line" for JSON-lines samples
    value: bytes
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    expect: str  # "article" (one or more articles) or the dead-letter code it should get


# JSON-lines samples: which dead-letter code each line expects ("article" for good ones).
_LINE_EXPECTATIONS: dict[str, list[str]] = {
    "articles.jsonl": ["article", "article", "article", "article"],
    "bad-inputs.jsonl": ["invalid_json", "invalid_shape", "invalid_shape", "empty_body", "missing_body"],
}


def sample_messages() -> list[SampleMessage]:
    """Every sample as a raw message: key = the article's url or id when it has one (none for broken input)."""
    import orjson

    folder = resources.files(__name__)
    messages: list[SampleMessage] = []
    for name, expectations in _LINE_EXPECTATIONS.items():
        lines = [line for line in folder.joinpath(name).read_bytes().splitlines() if line.strip()]
        if len(lines) != len(expectations):
            raise ValueError(f"{name}: {len(lines)} lines, {len(expectations)} expectations")
        for number, (line, expect) in enumerate(zip(lines, expectations), start=1):
            try:
                parsed = orjson.loads(line)
                key = parsed.get("url") or parsed.get("id") if isinstance(parsed, dict) else None
            except orjson.JSONDecodeError:
                key = None
            messages.append(SampleMessage(f"{name}:{number}", line, key.encode() if isinstance(key, str) else None,
                                          (), expect))
    for name, headers in _BODY_HEADERS.items():
        value = folder.joinpath(name).read_bytes()
        expect = "binary_body" if name.endswith(".bin") else "article"
        key = headers.get("url") or headers.get("id")
        messages.append(SampleMessage(name, value, key.encode() if key else None,
                                      tuple((k, v.encode()) for k, v in headers.items()), expect))
    messages.sort(key=lambda m: m.expect != "article")  # good ones first: the demo shows articles early
    return messages
