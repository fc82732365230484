"""The product's reference input: one scraped page holding a main story, a sidebar and a related story.

The page is read from the ``shared`` folder beside the repository (never copied into it): part 1 and part 2
joined by a newline, sent as one plain-text raw article published 2016-10-04, through the real pipeline.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from worker.records import Article

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"

pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason="the shared folder beside the repository is absent")


def _lines(name: str) -> list[str]:
    # The page's own lines, tidied the obvious way, so the expectations come from the seed files at run time.
    text = (SEEDS / name).read_text(encoding="utf-8").replace("\u00a0", " ")
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def articles(reference_articles: list[Article]) -> list[Article]:
    return reference_articles


def test_three_stories_main_first(articles):
    assert [a.kind for a in articles] == ["main", "sidebar", "related"]
    main, sidebar, related = articles
    assert main.parent_id is None and sidebar.parent_id == related.parent_id == main.id
    assert len({a.id for a in articles}) == 3
    part1 = _lines("scrape-part1.txt")
    assert main.text.startswith(part1[0]) and main.headline is None
    assert sidebar.headline == "UN vows to push for political solution"
    sidebar_body = part1[part1.index(sidebar.headline) + 1]
    assert sidebar.text == sidebar_body


def test_related_story_has_its_own_headline_standfirst_and_dateline(articles):
    related = articles[2]
    assert related.headline == "US suspends Syria talks with Russia: ‘Our patience has run out’"
    assert related.standfirst == _lines("scrape-part2.txt")[1]
    assert related.dateline is not None and related.dateline.place == "WASHINGTON"
    assert related.text[related.dateline.start : related.dateline.end] == related.dateline.text == "WASHINGTON —"
    # Headline and standfirst are not repeated in the body.
    assert related.headline not in related.text and related.standfirst not in related.text


def test_no_page_furniture_or_broken_spacing_in_any_text(articles):
    for article in articles:
        for field in (article.text, article.headline or "", article.standfirst or ""):
            assert "\u00a0" not in field
            assert "  " not in field
            assert "Related Story" not in field
            assert not re.search(r"\n{3,}", field)
    # The main story ends before the sidebar begins, and the sidebar before the related story.
    assert "UN vows" not in articles[0].text
    assert articles[2].standfirst not in articles[1].text


def test_yesterday_resolves_to_the_day_before_publication(articles):
    main = articles[0]
    yesterday = [d for d in main.dates if d.text.lower() == "yesterday"]
    assert yesterday and all(d.value == "2016-10-03" and d.precision == "day" and d.relative for d in yesterday)
    assert main.date_anchor == "published_at"
    on_monday = [d for d in articles[2].dates if d.text == "on Monday"]
    assert on_monday and on_monday[0].value == "2016-10-03"  # 2016-10-04 was a Tuesday
    years = {d.text: d.value for d in articles[2].dates if d.precision == "year"}
    assert years == {"in 2000": "2000", "in 2010": "2010"}
    # "five-year civil war" and "within a week" are durations, not dates.
    assert not any("week" in d.text or "five" in d.text for a in articles for d in a.dates)


def test_offsets_slice_the_text(articles):
    for article in articles:
        assert article.language == "en"
        for span in (*article.paragraphs, *article.sentences):
            piece = article.text[span.start : span.end]
            assert piece and piece == piece.strip() and "\n" not in piece
        for mention in article.dates:
            assert article.text[mention.start : mention.end] == mention.text
        assert article.word_count > 50
    assert len(articles[0].sentences) > len(articles[0].paragraphs)
