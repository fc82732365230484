"""Quotes and their speakers, through the real pipeline (NER model, entities, quote stage) on texts of our own."""

from __future__ import annotations

import pytest

from worker import codec
from worker.nlp.quotes import find_quotations
from worker.pipeline import build_pipeline
from worker.records import Envelope
from worker.settings import Settings


@pytest.fixture(scope="module")
def pipeline():
    return build_pipeline(Settings())


def quotes_of(pipeline, text: str) -> list[tuple[str, str | None, str | None]]:
    raw = {"id": "q", "published_at": "2025-04-07T08:00:00Z", "text": text}
    (outcome,) = pipeline.run([Envelope(value=codec.dumps(raw))])
    (article,) = outcome.articles
    for quote in article.quotes:
        assert article.text[quote.start:quote.end] == quote.text  # offsets point at the quoted words
    return [(quote.text, quote.speaker, quote.cue) for quote in article.quotes]


def test_a_name_after_the_quote_with_a_speech_verb_is_the_speaker(pipeline):
    text = ("The ferry to Bramble Island ran again on Friday after a week of repairs.\n\n"
            "“We rebuilt the landing stage in a week,” harbour master Lena Ruiz said on Friday.\n\n"
            "“The crossing is safe again,” said Tom Okafor, who runs the island shop.")
    assert quotes_of(pipeline, text) == [
        ("We rebuilt the landing stage in a week,", "Lena Ruiz", "after"),
        ("The crossing is safe again,", "Tom Okafor", "after"),
    ]


def test_he_or_she_said_after_a_quote_stands_for_the_last_person_named(pipeline):
    text = ("Mayor Helen Marsh cut the ribbon in front of two hundred residents on Monday.\n\n"
            "\"This building belongs to everyone in Northfield,\" she said, before the doors opened.")
    assert quotes_of(pipeline, text) == [
        ("This building belongs to everyone in Northfield,", "Helen Marsh", "after"),
    ]


def test_a_speaker_introducing_the_quote_is_found_before_it(pipeline):
    text = ("Frost damaged most of the apple blossom in the valley overnight.\n\n"
            "Owen Pryce, who grows pears near Holloway, added: “We saved the early pears, but little else.”")
    assert quotes_of(pipeline, text) == [("We saved the early pears, but little else.", "Owen Pryce", "before")]


def test_a_long_quote_runs_on_into_the_next_paragraph_and_keeps_its_speaker(pipeline):
    text = ("Council leader Priya Nandra said: “The wall will protect four hundred homes.\n\n"
            "“It has taken twelve years of reports and hearings to get here.”\n\n"
            "Work is due to finish next spring.")
    (quote,) = quotes_of(pipeline, text)
    assert quote[0].startswith("The wall will protect") and quote[0].endswith("to get here.")
    assert quote[1:] == ("Priya Nandra", "before")


def test_a_quote_nobody_is_named_for_has_no_speaker(pipeline):
    text = ("Queues formed outside the new library well before nine.\n\n"
            "“Finally, somewhere warm to read,” one sign in the crowd read.")
    assert quotes_of(pipeline, text) == [("Finally, somewhere warm to read,", None, None)]


def test_scare_quotes_and_titles_are_not_quotations():
    text = 'The so-called "quiet zone" opened beside the “Reading Room” on the top floor.'
    assert find_quotations(text) == []


def test_a_quoted_name_or_title_is_not_a_quotation():
    text = 'Staff moved into the “Joint Harbour Command Centre” and read “The Tides of Bramble Island” aloud.'
    assert find_quotations(text) == []


def test_a_quote_closing_a_long_reported_sentence_belongs_to_who_opened_it(pipeline):
    text = ("The ferry to Bramble Island stayed in port on Monday.\n\n"
            "Harbour master Lena Ruiz said the crossing would stay closed to cars until the ramp, which the storm "
            "damaged last week, had been checked by “an engineer from the county council.”")
    assert quotes_of(pipeline, text) == [("an engineer from the county council.", "Lena Ruiz", "before")]


def test_reporting_verbs_beyond_said_introduce_a_speaker(pipeline):
    text = ("The ferry to Bramble Island stayed in port for a fourth day on Monday.\n\n"
            "Councillor Amir Haddad accused the operator of “running the service into the ground for years.”\n\n"
            "“The timetable will be back to normal by May,” operations director Jane Fulton was quoted as saying.")
    assert quotes_of(pipeline, text) == [
        ("running the service into the ground for years.", "Amir Haddad", "before"),
        ("The timetable will be back to normal by May,", "Jane Fulton", "after"),
    ]
