"""The reference page (../shared/seeds), read and run through the pipeline once for the acceptance tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker import codec
from worker.pipeline import build_pipeline
from worker.records import Article, Envelope, Origin
from worker.settings import Settings

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"


@pytest.fixture(scope="session")
def reference_articles() -> list[Article]:
    """The page's two seed files joined by a newline, published 2016-10-04, as the worker would get it."""
    page = (SEEDS / "scrape-part1.txt").read_text(encoding="utf-8") + "\n" + (
        SEEDS / "scrape-part2.txt"
    ).read_text(encoding="utf-8")
    raw = {"id": "reference-page", "url": "https://news.example.org/syria", "text": page,
           "published_at": "2016-10-04T06:00:00+00:00"}
    (outcome,) = build_pipeline(Settings()).run([Envelope(value=codec.dumps(raw), origin=Origin(file="seeds"))])
    assert outcome.rejection is None, outcome.rejection
    return list(outcome.articles)
