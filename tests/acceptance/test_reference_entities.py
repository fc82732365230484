"""Entities, places and quotes on the product's reference page (issue 3), through the real pipeline.

The page is read from the ``shared`` folder beside the repository (never copied into it): part 1 and part 2
joined by a newline, one plain-text raw article published 2016-10-04, which normalization splits into three
stories. The expectations are the issue's: each named person is one PERSON entity holding every mention of
their name, the named places are placed right wherever they occur, Kuwait is the country, and the quotes of
Kirby, Earnest and Zakharova are attributed to them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from worker.records import Article

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"

pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason="the shared folder beside the repository is absent")

# canonical name -> the surname every mention of the person contains
PEOPLE = {
    "John Kirby": "Kirby",
    "Josh Earnest": "Earnest",
    "John Kerry": "Kerry",
    "Sergei Lavrov": "Lavrov",
    "Bashar al-Assad": "Assad",
    "Jean-Marc Ayrault": "Ayrault",
    "Staffan de Mistura": "Mistura",
    "Maria Zakharova": "Zakharova",
    "Vladimir Putin": "Putin",
}
# place name as written -> (GeoNames country code, feature code) it must resolve to
PLACES = {
    "Aleppo": ("SY", "PPL"),
    "Geneva": ("CH", "PPL"),
    "Damascus": ("SY", "PPLC"),
    "Washington": ("US", "PPLC"),
    "Moscow": ("RU", "PPLC"),
    "Syria": ("SY", "PCLI"),
    "Russia": ("RU", "PCLI"),
    "Kuwait": ("KW", "PCLI"),
}
SPEAKERS = ("John Kirby", "Josh Earnest", "Maria Zakharova")


@pytest.fixture(scope="module")
def articles(reference_articles: list[Article]) -> list[Article]:
    assert len(reference_articles) == 3
    return reference_articles


def _occurrences(text: str, word: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, re.IGNORECASE)]


def test_each_person_is_one_person_entity_with_every_mention(articles):
    seen = set()
    for article in articles:
        for name, surname in PEOPLE.items():
            occurrences = _occurrences(article.text, surname)
            if not occurrences:
                continue
            seen.add(name)
            holders = [e for e in article.entities if any(m.text.endswith(surname) for m in e.mentions)]
            assert len(holders) == 1, (article.kind, name, [(e.name, e.type) for e in holders])
            person = holders[0]
            assert person.type == "PERSON", (article.kind, name, person)
            assert surname in person.name
            covered = [(m.start, m.end) for m in person.mentions]
            for start, end in occurrences:
                assert any(s <= start and end <= e for s, e in covered), (article.kind, name, article.text[start - 40 : end + 10])
    assert seen == set(PEOPLE)


def test_the_named_places_are_placed_right_wherever_they_occur(articles):
    seen = set()
    for article in articles:
        placed = {(m.start, m.end): loc for loc in article.locations for m in loc.mentions}
        for name, (country, feature) in PLACES.items():
            for start, end in _occurrences(article.text, name):
                seen.add(name)
                location = placed.get((start, end))
                assert location is not None, (article.kind, name, article.text[start - 40 : end + 20])
                assert (location.country_code, location.feature_code) == (country, feature), (article.kind, name, location)
    assert seen == set(PLACES)


def test_every_mention_slices_the_text(articles):
    for article in articles:
        for entity in article.entities:
            assert all(article.text[m.start : m.end] == m.text for m in entity.mentions)
        for location in article.locations:
            assert all(article.text[m.start : m.end] == m.text for m in location.mentions)
        for quote in article.quotes:
            assert article.text[quote.start : quote.end] == quote.text


def test_quotes_are_attributed_to_their_speakers(articles):
    speakers = {q.speaker for a in articles for q in a.quotes}
    assert set(SPEAKERS) <= speakers
    for article in articles:
        for quote in article.quotes:
            if quote.speaker is not None:
                entity = next(e for e in article.entities if e.id == quote.speaker_id)
                assert entity.name == quote.speaker


def test_the_related_story_is_placed_in_washington(articles):
    related = articles[2]
    assert related.dateline_location is not None and related.dateline_location.geonames_id == 4140963
    assert {loc.name for loc in related.focus_locations[:3]} & {"Washington", "Russia", "Syria"}
