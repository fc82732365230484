"""Normalization: raw article → one normalized ``Article`` per story on the page.

reads: RawArticle — writes: Article.{id, source_id, url, parent_id, part, kind, source, text, headline,
standfirst, dateline, byline, paragraphs, sentences, language, published_at, fetched_at, stamped_on, word_count,
fingerprint, dates, date_anchor, notices}

Every function in this package is pure: no Kafka, environment or logging side effects. The steps, each in its
own module: clean text (``text``), HTML extraction (``markup``), page structure and story splitting
(``structure``), sentences (``sentences``), dates (``dates``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone

import py3langid

from worker.normalize.dates import find_dates, stamp_day
from worker.normalize.markup import parse_html
from worker.normalize.sentences import split_sentences
from worker.normalize.structure import StoryParts, dateline_of, split_stories
from worker.normalize.text import clean_lines
from worker.records import Article, Dateline, InputRejected, RawArticle, RejectCode, Span

__all__ = ["NormalizeConfig", "normalize"]


@dataclass(frozen=True, slots=True)
class NormalizeConfig:
    max_html_depth: int = 400
    max_html_elements: int = 100_000


# Words for the count and the fingerprint, split in C: ASCII punctuation becomes a space (apostrophes and
# hyphens vanish, so "don't"/"dont" and "end-of-year"/"endofyear" are one word each), and so do the common
# typographic marks. A \w+ regex over the text costs three times as much.
_ASCII_PUNCT = bytes.maketrans(b"!\"#$%&()*+,./:;<=>?@[\\]^_`{|}~", b" " * 30)
_TYPOGRAPHIC_SPACE = ("“", "”", "«", "»", "„", "—", "–", "…", "•", "·", "‚", "‹", "›")
_TYPOGRAPHIC_DROP = ("’", "‘")
_MIN_PAGE_WORDS = 5
_LANGUAGE_SAMPLE = 300  # characters: enough for news prose; the cost grows with the sample


def normalize(raw: RawArticle, config: NormalizeConfig = NormalizeConfig()) -> list[Article]:
    """Normalize one raw article into one Article per story found (the main story first).

    >>> raw = RawArticle(id="r1", body="Mill reopens\\n\\nThe old mill reopened yesterday.", body_type="text")
    >>> [(a.headline, a.text, a.dates[0].value) for a in normalize(raw)]
    [('Mill reopens', 'The old mill reopened yesterday.', None)]
    """
    title = _clean_inline(raw.title)
    published_at, author = raw.published_at, None
    boxes = []
    if raw.body_type == "html":
        page = parse_html(raw.body, config.max_html_depth, config.max_html_elements)
        lines = clean_lines("\n".join(page.lines))
        if sum(len(line.split()) for line in lines) < _MIN_PAGE_WORDS and not page.boxes:
            # trafilatura falls back to any text it finds; a page whose only text is a menu has no article.
            raise InputRejected(RejectCode.EMPTY_BODY, "the page has no article text, only navigation or markup")
        title = title or _clean_inline(page.title)
        published_at = published_at or page.published_at
        author = _clean_inline(page.author)
        boxes = [
            StoryParts(box.kind, headline=_clean_inline(box.headline),  # type: ignore[arg-type]
                       paragraphs=[p for p in clean_lines("\n".join(box.paragraphs)) if p])
            for box in page.boxes
        ]
    else:
        lines = clean_lines(raw.body)
    stories = split_stories(lines, title) + [box for box in boxes if box.paragraphs]
    if not stories:
        raise InputRejected(RejectCode.EMPTY_BODY, "no text left after removing markup and page furniture")
    if author and stories[0].byline is None:
        stories[0].byline = author

    # One page, one language: detected once on the main story (the longest stretch of prose), and only when
    # the producer did not say.
    language = raw.language or _language(stories[0].paragraphs)
    main_id = _article_id(raw.id, 0)
    return [_article(raw, story, part, main_id, published_at, language) for part, story in enumerate(stories)]


def _story_published(
    story: StoryParts, day: date | None, page_published: datetime | None
) -> tuple[datetime | None, bool]:
    """When the story was published, and whether that was read from the ``day`` its date stamps write out
    (at 00:00 UTC).

    The main story keeps the producer's (or the page's) time and falls back on its stamps; a reproduced story
    or a box is dated by its own, older than the page when it is an earlier report."""
    if day is None or (page_published is not None and (story.kind == "main" or page_published.date() == day)):
        return page_published, False
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc), True


def _article(
    raw: RawArticle, story: StoryParts, part: int, main_id: str, page_published: datetime | None, language: str | None
) -> Article:
    # the earliest day the stamps write out in full: a page may print when it was posted and when it was updated
    stamped_on = min(filter(None, map(stamp_day, story.stamps)), default=None)
    published_at, from_stamp = _story_published(story, stamped_on, page_published)
    text, paragraphs = _join(story.paragraphs)
    sentences = tuple(Span(a, b) for p in paragraphs for a, b in split_sentences(text, p.start, p.end))
    words = _words(text)
    dateline = None
    if match := dateline_of(text):
        dateline = Dateline(text=match.group(0).strip(), place=match.group("place"), start=0, end=match.end() - 1)
    if published_at is None:
        notices: tuple[dict[str, str], ...] = (
            {"stage": "dates", "reason": "no publication time: relative dates are left unresolved"},
        )
    elif from_stamp:
        notices = ({"stage": "dates", "reason": "publication day read from the story's date stamp (time 00:00 UTC)"},)
    else:
        notices = ()
    return Article(
        id=_article_id(raw.id, part),
        source_id=raw.id,
        # the main story is where the producer found it; a reproduced story or a box is where its own address says
        url=(raw.url or story.address) if story.kind == "main" else (story.address or raw.url),
        parent_id=main_id if part else None,
        part=part,
        kind=story.kind,
        source=raw.source,
        text=text,
        headline=story.headline,
        standfirst=story.standfirst,
        dateline=dateline,
        byline=story.byline,
        paragraphs=paragraphs,
        sentences=sentences,
        language=language,
        published_at=published_at,
        fetched_at=raw.fetched_at,
        stamped_on=stamped_on,
        word_count=len(words),
        fingerprint=_fingerprint(words),
        dates=tuple(find_dates(text, published_at)),
        date_anchor="published_at" if published_at is not None else None,
        notices=notices,
    )


def _join(paragraphs: list[str]) -> tuple[str, tuple[Span, ...]]:
    spans = []
    offset = 0
    for paragraph in paragraphs:
        spans.append(Span(offset, offset + len(paragraph)))
        offset += len(paragraph) + 2
    return "\n\n".join(paragraphs), tuple(spans)


def _article_id(source_id: str, part: int) -> str:
    # Derived from the input's id and the story's place on the page only, so a redelivery (or a replay of
    # the topic) yields the same ids; short and URL-safe, so it makes a good Kafka key.
    digest = hashlib.blake2b(f"{source_id}\x00{part}".encode(), digest_size=12).hexdigest()
    return f"a-{digest}"


def fingerprint(text: str) -> str:
    """Equal for texts that differ only in case, whitespace and punctuation.

    >>> fingerprint("Talks end. “Patience” ran out!") == fingerprint("talks end   patience ran out")
    True
    """
    return _fingerprint(_words(text))


def _words(text: str) -> list[bytes]:
    folded = text.casefold()
    for mark in _TYPOGRAPHIC_SPACE:
        if mark in folded:
            folded = folded.replace(mark, " ")
    for mark in _TYPOGRAPHIC_DROP:
        if mark in folded:
            folded = folded.replace(mark, "")
    return folded.encode().translate(_ASCII_PUNCT, b"'-").split()


def _fingerprint(casefolded_words: list[bytes]) -> str:
    return "b2:" + hashlib.blake2b(b" ".join(casefolded_words), digest_size=16).hexdigest()


def _language(paragraphs: list[str]) -> str | None:
    text = " ".join(paragraphs)
    # The opening (dateline, names) says less about the language than the prose after it.
    sample = text[:_LANGUAGE_SAMPLE] if len(text) <= 2 * _LANGUAGE_SAMPLE else text[_LANGUAGE_SAMPLE : 2 * _LANGUAGE_SAMPLE]
    if len(sample.split()) < 3:
        return None
    language, _score = py3langid.classify(sample)
    return str(language)


def _clean_inline(value: str | None) -> str | None:
    if not value:
        return None
    cleaned = " ".join(line for line in clean_lines(value) if line)
    return cleaned or None
