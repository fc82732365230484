"""Record types that flow through the pipeline.

The JSON Schema files in ``schemas/`` are the contract for downstream consumers; these dataclasses are the
Python side of it, and ``tests/unit/test_schemas.py`` checks that the two agree. Records are frozen: a
stage returns a new record (``dataclasses.replace``) instead of editing one in place.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the item types live beside their stages (worker/nlp); only annotations name them here
    from worker.nlp.items import Entity, Location, Quote

SCHEMA_VERSION = 1


# ---------------------------------------------------------------------------------------------- input


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one input came from: a Kafka record, or a line of a file read by ``newsworker enrich``."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    timestamp_ms: int | None = None
    file: str | None = None
    line: int | None = None

    def describe(self) -> str:
        if self.topic is not None:
            return f"{self.topic}[{self.partition}]@{self.offset}"
        if self.file is not None:
            return f"{self.file}:{self.line}" if self.line is not None else self.file
        return "<unknown origin>"


@dataclass(frozen=True, slots=True)
class Envelope:
    """One input exactly as received. The bytes are kept untouched so a dead letter can carry them."""

    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    origin: Origin = field(default_factory=Origin)


@dataclass(frozen=True, slots=True)
class RawArticle:
    """A decoded input: body text (plain or HTML, not yet normalized) and the producer's metadata."""

    id: str
    body: str
    body_type: Literal["text", "html"]
    url: str | None = None
    title: str | None = None
    published_at: datetime | None = None
    source: str | None = None
    language: str | None = None
    fetched_at: datetime | None = None


class RejectCode(enum.StrEnum):
    """Why an input went to the dead-letter topic. Stable strings: consumers and dashboards key on them."""

    INVALID_JSON = "invalid_json"  # looked like JSON (starts with { or [) but does not parse
    INVALID_SHAPE = "invalid_shape"  # parsed, but wrong fields or types for raw_article.schema.json
    MISSING_BODY = "missing_body"  # no value at all, or a JSON object without text/html
    EMPTY_BODY = "empty_body"  # only whitespace, or nothing left after normalization
    BINARY_BODY = "binary_body"  # not text in any encoding we can detect
    TOO_LARGE = "too_large"  # over settings.max_body_bytes
    HTML_TOO_COMPLEX = "html_too_complex"  # nesting or element count over the configured limits
    PROCESSING_ERROR = "processing_error"  # an unexpected exception in a stage: a bug, kept for replay


class InputRejected(Exception):
    """Raised by a pure stage when the input itself is unusable; the pipeline turns it into a dead letter."""

    def __init__(self, code: RejectCode, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Rejection:
    code: RejectCode
    reason: str


# --------------------------------------------------------------------------------------------- output


@dataclass(frozen=True, slots=True)
class Span:
    """Half-open character range ``[start, end)`` into the article's ``text``."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Dateline:
    """``WASHINGTON —`` at the head of the first paragraph: the place as written and the span of the whole."""

    text: str
    place: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class DateMention:
    """A date expression in ``text`` and what it resolves to.

    ``value`` is an ISO 8601 calendar date at the given precision (``2016-10-03``, ``2016-09``, ``2016``);
    it is ``None`` when the expression is relative and the article has no publication time to anchor it.
    """

    text: str
    start: int
    end: int
    value: str | None
    precision: Literal["day", "month", "year"] | None
    relative: bool


@dataclass(frozen=True, slots=True)
class Article:
    """One story, normalized. Later stages (entities, places, quotes, follow-up links) fill the tail fields."""

    id: str
    source_id: str
    text: str
    url: str | None = None
    parent_id: str | None = None
    part: int = 0  # position of this story in its page: 0 is the main story
    kind: Literal["main", "sidebar", "related"] = "main"
    source: str | None = None
    headline: str | None = None
    standfirst: str | None = None
    dateline: Dateline | None = None
    byline: str | None = None
    paragraphs: tuple[Span, ...] = ()
    sentences: tuple[Span, ...] = ()
    language: str | None = None
    published_at: datetime | None = None
    fetched_at: datetime | None = None
    # The day the story's own date stamp writes out ("Posted: May 3, 2013"), whichever time published_at took:
    # a page can be fetched or sent long after it was printed, and the day it prints is evidence of its year.
    stamped_on: date | None = None
    word_count: int = 0
    fingerprint: str = ""
    dates: tuple[DateMention, ...] = ()
    # "published_at" when relative dates were resolved against the publication time; None says they
    # could not be (no publication time), so relative mentions carry value None instead of a guess.
    date_anchor: Literal["published_at"] | None = None
    # Stages that ran but had to skip or degrade say so here: {"stage": ..., "reason": ...}.
    notices: tuple[dict[str, str], ...] = ()
    schema_version: int = SCHEMA_VERSION
    # Filled by the entity, place and quote stages (worker/nlp) and the follow-up stage (worker/stories);
    # their item types live beside those stages and are described in schemas/article.schema.json.
    entities: tuple[Entity, ...] = ()
    locations: tuple[Location, ...] = ()
    focus_locations: tuple[Location, ...] = ()
    dateline_location: Location | None = None
    quotes: tuple[Quote, ...] = ()
    followup: Any = None
