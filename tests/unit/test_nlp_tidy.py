"""Repairs that use what normalization found (the dateline) and the article's own wording, through the pipeline."""

from __future__ import annotations

import pytest

from worker import codec
from worker.pipeline import build_pipeline
from worker.records import Envelope
from worker.settings import Settings


@pytest.fixture(scope="module")
def pipeline():
    return build_pipeline(Settings())


def entities_of(pipeline, text: str) -> dict[str, tuple[str, int]]:
    raw = {"id": "t", "published_at": "2025-04-07T08:00:00Z", "text": text}
    (outcome,) = pipeline.run([Envelope(value=codec.dumps(raw))])
    (article,) = outcome.articles
    for entity in article.entities:
        for mention in entity.mentions:
            assert article.text[mention.start:mention.end] == mention.text
    return {e.name: (e.type, len(e.mentions)) for e in article.entities}


def test_the_dateline_place_is_a_place_and_one_entity_with_its_later_mentions(pipeline):
    found = entities_of(pipeline, "KESTON — The town council of Keston voted on Monday to close the old pool. "
                                  "Residents of Keston have until May to object, a clerk said.")
    assert found["Keston"] == ("GPE", 3)
    assert "KESTON" not in found


def test_each_part_of_a_dateline_with_its_country_is_a_place(pipeline):
    found = entities_of(pipeline, "LYON, France — A chip maker said on Tuesday it would build a plant outside "
                                  "the city, creating about 900 jobs.")
    assert found["LYON"][0] == "GPE" and found["France"][0] == "GPE"  # written so only in the dateline


def test_a_job_before_a_name_is_not_part_of_the_name(pipeline):
    found = entities_of(pipeline, "The library lent 6,000 books in its first week.\n\n"
                                  "Librarian Samir Haddad said a booking system would start next month. "
                                  "Haddad said schools had asked for it.")
    assert found["Samir Haddad"] == ("PERSON", 2)
    assert not any(name.startswith("Librarian") for name in found)


def test_a_title_after_a_place_is_not_part_of_the_name_nor_a_name_of_its_own(pipeline):
    # the model tags "Harbour Councilman Tomas Lindqvist" as one person, and cuts "Brooklyn Councilman" off the
    # name that follows it: a person whose short form every later "Brooklyn" joined
    found = entities_of(pipeline, "Brooklyn residents marched on Monday . “ The buses have not come , ” said "
                                  "Brooklyn Councilman Jumaane Williams . Police in Brooklyn made two arrests .\n\n"
                                  "“We need more buses,” said Harbour Councilman Tomas Lindqvist on Tuesday. "
                                  "Lindqvist wants a new route.")
    assert found["Brooklyn"][0] == "GPE" and found["Jumaane Williams"] == ("PERSON", 1)
    assert found["Tomas Lindqvist"] == ("PERSON", 2)
    assert not [name for name in found if "Councilman" in name]


def test_lower_case_words_are_not_names_and_streets_are_not_people(pipeline):
    found = entities_of(pipeline, "A repair café opens next month.\n\n"
                                  "Contractors closed the towpath between Mill Lane and the gasworks, "
                                  "said Priya Nandra of the county council.")
    assert all(any(c.isupper() for c in name) for name in found)
    assert found.get("Mill Lane", ("FAC",))[0] == "FAC"
    assert found["Priya Nandra"][0] == "PERSON"


def test_a_time_zone_after_a_clock_time_is_not_a_name(pipeline):
    # The model tags both zones ORG; the web page's time stamp would make them participants two reports share.
    stamped = entities_of(pipeline, "Oct 2, 2013 2:35am CET. Nordwind Energy said it would close its plant in "
                                    "Lübeck, cutting 300 jobs.")
    assert "CET" not in stamped and stamped["Lübeck"][0] == "GPE"
    found = entities_of(pipeline, "The strike began at 0300 GMT on Sunday, and Fellesforbundet said it would last "
                                  "a week.")
    assert "GMT" not in found and "Fellesforbundet" in found


def test_nothing_inside_a_web_address_is_a_name(pipeline):
    # a source address as a tokeniser spaces it out, and one inside a sentence
    found = entities_of(pipeline, "http : / / harbourgazette . example / en _ GB / news / 2024 / 05 / 17 / ferry - "
                                  "returns / #axzz3kQpL7T2M\nFerry returns to Skerry Island\nThe ferry sailed again "
                                  "on Friday , Captain Morag Innes said . The timetable is at "
                                  "https://news.example/Morag-Innes/GB .")
    assert found["Morag Innes"] == ("PERSON", 1)  # not also the words of the second address
    assert not [name for name in found if "GB" in name or "axzz" in name.casefold()]
