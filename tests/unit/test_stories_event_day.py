"""Event days: a date the text writes with its own day and month is when the reported event happened; two
reports naming the same day are likelier one event (a weekday or "yesterday" says nothing of its own)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from worker import codec
from worker.normalize.dates import find_dates
from worker.records import Article
from worker.stories import LinkConfig, StoryLinker, signature_of
from worker.stories.index import Entry
from worker.stories.signature import days_apart, event_day, latest_year

T0 = datetime(2024, 11, 20, 7, 0, tzinfo=timezone.utc)


def article(article_id: str, text: str, hours: float = 0.0) -> Article:
    published = T0 + timedelta(hours=hours)
    return Article(
        id=article_id, source_id=article_id, text=text, published_at=published, dates=tuple(find_dates(text, published))
    )


def test_the_first_written_day_and_month_is_the_event_day_with_its_year_only_when_written() -> None:
    assert event_day(article("a", "The dam burst on Nov. 14, 2024, and again on November 18, 2024.")) == 20241114
    # the date stage infers 2024 from the publication time: not evidence, so the year stays 0
    assert event_day(article("b", "The dam burst on Nov. 14 after days of rain.")) == 1114
    assert event_day(article("c", "On Monday the dam burst; yesterday the water fell.")) == 0
    assert event_day(article("d", "The dam burst in 2019.")) == 0


def test_the_day_printed_on_the_story_dates_it_when_the_text_writes_none() -> None:
    # a page sent in 2024 that prints "Posted: Nov. 14, 2019": the day and year of the report are evidence
    printed = replace(article("a", "The dam burst after days of rain."), stamped_on=date(2019, 11, 14))
    assert (event_day(printed), latest_year(printed)) == (20191114, 2019)
    # the text's own day comes first
    written = replace(article("b", "The dam burst on Nov. 12 after days of rain."), stamped_on=date(2019, 11, 14))
    assert (event_day(written), latest_year(written)) == (1112, 2019)


def test_days_apart_on_the_calendar_when_both_years_are_written_otherwise_round_the_year() -> None:
    assert days_apart(20241114, 20241116).tolist() == 2
    assert days_apart(1230, 101).tolist() == 2  # December 30 and January 1, no year: two days apart
    assert days_apart(20231230, 20240101).tolist() == 2
    assert days_apart(20231114, 20241114).tolist() > 300  # one day of the year, another year
    assert days_apart(1114, 20231114).tolist() == 0  # a year on one side only: the day of the year decides


@pytest.mark.parametrize(("written_day", "bonus_expected"), [("Nov. 14", 0.10), ("Nov. 15", 0.10), ("Nov. 3", 0.0)])
def test_reports_naming_the_same_event_day_score_higher_than_without_it(
    written_day: str, bonus_expected: float
) -> None:
    first = (
        "Torrential rain caused the Velden reservoir dam to burst on November 14, flooding the villages of Arnsberg "
        "and Hollenau. The district office said 640 residents were evacuated."
    )
    second = (
        f"Residents of Hollenau returned to mud-filled homes after the Velden dam gave way on {written_day}. "
        "Engineers from the district office blamed weeks of rain and a blocked spillway."
    )
    scores = {}
    for bonus in (0.0, 0.10):
        linker = StoryLinker(LinkConfig(date_agreement_bonus=bonus, link_threshold=0.0))
        linker.link_one(article("dam-1", first))
        linked = linker.link_one(article("dam-2", second, 30)).followup
        scores[bonus] = linked.links[0].score
    assert scores[0.10] - scores[0.0] == pytest.approx(bonus_expected)


def test_a_table_value_written_before_event_days_reads_as_having_none() -> None:
    value = codec.loads(codec.dumps(Entry(signature_of(article("a", "The dam burst on Nov. 14.")), "a").to_dict()))
    assert value["s"]["d"] == 1114
    del value["s"]["d"]
    assert Entry.from_dict(value).signature.event_day == 0


@pytest.mark.parametrize(
    ("first_year", "second_year", "bonus_expected"),
    [
        (2019, 2019, 0.08),  # both date the event in the same past year
        (2024, 2024, 0.0),  # the year of publication: most reports of anything name it
        (2019, 2021, 0.0),  # another year: the conflict penalty's business, never a bonus
    ],
)
def test_reports_naming_the_same_past_year_score_higher_than_without_it(
    first_year: int, second_year: int, bonus_expected: float
) -> None:
    first = (
        f"Investigators reopened the case of the Velden dam, which burst in {first_year} and flooded the villages "
        "of Arnsberg and Hollenau. The district office said 640 residents had been evacuated."
    )
    second = (
        f"Hollenau residents welcomed the new inquiry into the {second_year} failure of the Velden dam. Engineers "
        "from the district office had blamed weeks of rain and a blocked spillway."
    )
    config = LinkConfig(year_conflict_penalty=0.0, link_threshold=0.0)
    without = second_score(first, second, replace(config, past_year_bonus=0.0))
    assert second_score(first, second, replace(config, past_year_bonus=0.08)) - without == pytest.approx(
        bonus_expected)


@pytest.mark.parametrize(
    ("first_years", "second_years", "penalty_expected"),
    [
        ("in 2019", "in 2021", 0.15),  # another year: the same kind of failure again
        ("in 2019", "in 2021, two years after its 2019 collapse", 0.0),  # the later report names the earlier year
        ("in 2019, as it had in 2017", "in 2017", 0.0),  # the same, with the earlier-dated report linked second
        ("in 2019", "in 2021, as it had in 2017", 0.15),  # a third year named is no evidence of either
    ],
)
def test_differing_latest_years_are_penalised_unless_the_later_report_names_the_earlier_year_too(
    first_years: str, second_years: str, penalty_expected: float
) -> None:
    first = (
        f"The Velden dam burst {first_years}, flooding the villages of Arnsberg and Hollenau. The district office "
        "said 640 residents had been evacuated."
    )
    second = (
        f"Hollenau residents described the night the Velden dam gave way {second_years}. Engineers from the "
        "district office blamed weeks of rain and a blocked spillway."
    )
    config = LinkConfig(past_year_bonus=0.0, link_threshold=-1.0)
    without = second_score(first, second, replace(config, year_conflict_penalty=0.0))
    assert without - second_score(first, second, replace(config, year_conflict_penalty=0.15)) == pytest.approx(
        penalty_expected)


def second_score(first: str, second: str, config: LinkConfig) -> float:
    """The score of the second report's link to the first, published 30 hours after it."""
    linker = StoryLinker(config)
    linker.link_one(article("dam-1", first))
    return linker.link_one(article("dam-2", second, 30)).followup.links[0].score
