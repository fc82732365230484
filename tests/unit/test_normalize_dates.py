"""Date expressions: what counts as a date, and how each resolves against the publication time."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from worker.normalize.dates import find_dates

TUESDAY = datetime(2016, 10, 4, 9, 0, tzinfo=timezone.utc)  # 2016-10-04 was a Tuesday


def resolved(text: str, anchor: datetime | None = TUESDAY) -> list[tuple[str, str | None, str | None, bool]]:
    return [(d.text, d.value, d.precision, d.relative) for d in find_dates(text, anchor)]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Talks collapsed yesterday.", [("yesterday", "2016-10-03", "day", True)]),
        ("Ministers meet today and again tomorrow.",
         [("today", "2016-10-04", "day", True), ("tomorrow", "2016-10-05", "day", True)]),
        ("The vote was held on Monday.", [("on Monday", "2016-10-03", "day", True)]),
        ("The vote was held on Tuesday.", [("on Tuesday", "2016-10-04", "day", True)]),
        ("It happened last Tuesday.", [("last Tuesday", "2016-09-27", "day", True)]),
        ("Protests began on Friday.", [("on Friday", "2016-09-30", "day", True)]),
        ("Talks will resume on Friday.", [("on Friday", "2016-10-07", "day", True)]),
        ("They meet next Monday.", [("next Monday", "2016-10-10", "day", True)]),
        ("It opened on Wednesday last week.", [("on Wednesday last week", "2016-09-28", "day", True)]),
        ("It opened on Monday last week.", [("on Monday last week", "2016-09-26", "day", True)]),
        ("The vote is on Friday next week.", [("on Friday next week", "2016-10-14", "day", True)]),
        ("On Friday the museum will reopen.", [("On Friday", "2016-10-07", "day", True)]),
        ("The firm said on Friday it would close.", [("on Friday", "2016-09-30", "day", True)]),
        ("In 2010 the treaty was renewed.", [("In 2010", "2010", "year", False)]),
        ("The deal of September 9 held.", [("September 9", "2016-09-09", "day", True)]),
        ("A truce began on Sept. 12, 2015.", [("Sept. 12, 2015", "2015-09-12", "day", False)]),
        ("Elections are due on 3 November 2016.", [("3 November 2016", "2016-11-03", "day", False)]),
        ("Signed in 2000, renewed in 2010.", [("in 2000", "2000", "year", False), ("in 2010", "2010", "year", False)]),
        ("Prices fell in March 2016.", [("in March 2016", "2016-03", "month", False)]),
        ("Prices fell in August.", [("in August", "2016-08", "month", True)]),
        ("Output rose last year.", [("last year", "2015", "year", True)]),
        ("The report of 2016-09-30 says so.", [("2016-09-30", "2016-09-30", "day", False)]),
        # tokenised text (and markup taken apart) leaves a space before the comma
        ("The truce began on Sept. 12 , 2015 .", [("Sept. 12 , 2015", "2015-09-12", "day", False)]),
    ],
)
def test_dates_resolve_against_the_publication_date(sentence, expected):
    assert resolved(sentence) == expected


def test_a_month_day_without_year_takes_the_nearest_year():
    january = datetime(2017, 1, 3, tzinfo=timezone.utc)
    assert resolved("The fire started on December 28.", january) == [("December 28", "2016-12-28", "day", True)]


@pytest.mark.parametrize(
    "sentence",
    [
        "The five-year civil war goes on.",
        "The truce collapsed within a week.",
        "Some 2000 people marched.",
        "The 2016 budget was cut by 10%.",
        "Officials may meet again.",
        "It took two days and three nights.",
        "Room 1999 was booked.",
    ],
)
def test_durations_counts_and_lookalikes_are_not_dates(sentence):
    assert resolved(sentence) == []


def test_invalid_calendar_dates_are_skipped():
    assert resolved("The memo was dated February 30, 2016.") == []


def test_without_publication_time_relative_dates_stay_unresolved_and_absolute_ones_resolve():
    found = resolved("Yesterday's deal, signed on March 3, 2015, ends on Monday.", None)
    assert found == [
        ("Yesterday", None, None, True),
        ("March 3, 2015", "2015-03-03", "day", False),
        ("on Monday", None, None, True),
    ]


def test_offsets_slice_the_expressions():
    text = "On Monday the envoy said talks held on September 9 had failed yesterday."
    for mention in find_dates(text, TUESDAY):
        assert text[mention.start : mention.end] == mention.text
