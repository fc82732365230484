"""Normalization: raw article → one normalized ``Article`` per story on the page.

reads: RawArticle — writes: Article.{id, source_id, text, headline, standfirst, dateline, byline,
paragraphs, sentences, language, published_at, word_count, fingerprint, dates, parent_id, part, kind}

Every function in this package is pure: no Kafka, environment or logging side effects.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.records import Article, RawArticle


@dataclass(frozen=True, slots=True)
class NormalizeConfig:
    max_html_depth: int = 400
    max_html_elements: int = 100_000


def normalize(raw: RawArticle, config: NormalizeConfig = NormalizeConfig()) -> list[Article]:
    """Normalize one raw article into one Article per story found (the main story first)."""
    raise NotImplementedError("normalization is being written (issue 2)")
