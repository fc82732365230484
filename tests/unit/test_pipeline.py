"""Batch semantics of the one pipeline: order is kept, one bad input costs only itself, a failing stage becomes
a processing_error for the input it failed on, and the observe hook sees every stage."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from worker import codec
from worker.decode import InputLimits
from worker.normalize import NormalizeConfig
from worker.pipeline import Pipeline, Stage, build_pipeline
from worker.records import Article, Envelope, InputRejected, RejectCode
from worker.settings import Settings

STORIES = {
    "ferry": "Ferry timetable changes\n\nThe island ferry will leave twenty minutes earlier from next week.",
    "bakery": "Bakery wins regional prize\n\nA family bakery on the high street won the regional bread award.",
    "poison": "Choir tour announced\n\nThe town choir will tour four cities this summer, the director said.",
    "library": "Library extends hours\n\nThe central library will stay open until nine on weekdays.",
}


def envelope(name: str) -> Envelope:
    return Envelope(value=codec.dumps({"id": name, "text": STORIES[name]}))


def pipeline(*stages: Stage, observe=None) -> Pipeline:
    extra = {"observe": observe} if observe else {}
    return Pipeline(limits=InputLimits(), normalize_config=NormalizeConfig(), stages=stages, **extra)


def mark(tag: str):
    def run(articles: Sequence[Article]) -> list[Article]:
        return [dataclasses.replace(a, notices=(*a.notices, {"stage": tag, "reason": "seen"})) for a in articles]

    return run


def refuse_choir(articles: Sequence[Article]) -> list[Article]:
    for article in articles:
        if "choir" in article.text:
            raise InputRejected(RejectCode.EMPTY_BODY, "choir articles are refused by this test stage")
    return list(articles)


def crash_on_choir(articles: Sequence[Article]) -> list[Article]:
    for article in articles:
        if "choir" in article.text:
            raise KeyError("choir")
    return list(articles)


def test_outcomes_follow_input_order_and_carry_their_envelope():
    names = ["library", "ferry", "bakery"]
    inputs = [envelope(n) for n in names]
    outcomes = pipeline().run(inputs)
    assert [o.envelope for o in outcomes] == inputs
    assert [o.rejection for o in outcomes] == [None, None, None]
    assert [{a.source_id for a in o.articles} for o in outcomes] == [{n} for n in names]


def test_an_empty_batch_gives_no_outcomes():
    assert pipeline(Stage("mark", mark("mark"))).run([]) == []


def test_one_undecodable_input_costs_only_itself():
    inputs = [envelope("ferry"), Envelope(value=b'{"id": "broken", "text": '), envelope("bakery")]
    outcomes = pipeline(Stage("mark", mark("mark"))).run(inputs)
    assert outcomes[1].rejection.code == RejectCode.INVALID_JSON and outcomes[1].articles == ()
    for good in (outcomes[0], outcomes[2]):
        assert good.rejection is None and good.articles
        assert all(a.notices[-1]["stage"] == "mark" for a in good.articles)


def test_a_stage_rejecting_one_article_rejects_only_its_input():
    inputs = [envelope(n) for n in ("ferry", "poison", "library")]
    outcomes = pipeline(Stage("refuse", refuse_choir), Stage("mark", mark("after"))).run(inputs)
    assert outcomes[1].rejection.code == RejectCode.EMPTY_BODY
    assert "choir" in outcomes[1].rejection.reason
    assert outcomes[1].articles == ()
    for good in (outcomes[0], outcomes[2]):
        assert good.rejection is None
        assert [a.notices[-1]["stage"] for a in good.articles] == ["after"] * len(good.articles)


def test_a_stage_crash_is_a_processing_error_naming_the_stage():
    inputs = [envelope(n) for n in ("poison", "ferry", "bakery")]
    outcomes = pipeline(Stage("crashy", crash_on_choir)).run(inputs)
    rejection = outcomes[0].rejection
    assert rejection.code == RejectCode.PROCESSING_ERROR
    assert rejection.reason.startswith("crashy failed: KeyError") and "test_pipeline.py" in rejection.reason
    assert [o.rejection for o in outcomes[1:]] == [None, None]
    assert all(o.articles for o in outcomes[1:])


def test_a_stage_that_breaks_the_length_contract_is_retried_one_by_one():
    calls: list[int] = []

    def drops_last_of_batch(articles: Sequence[Article]) -> list[Article]:
        calls.append(len(articles))
        kept = list(articles) if len(articles) == 1 else list(articles)[:-1]
        return mark("ok")(kept)

    outcomes = pipeline(Stage("short", drops_last_of_batch)).run([envelope(n) for n in ("ferry", "bakery")])
    assert [o.rejection for o in outcomes] == [None, None]
    assert all(a.notices[-1]["stage"] == "ok" for o in outcomes for a in o.articles)
    assert calls[0] > 1 and calls[1:] == [1] * (len(calls) - 1)


def test_observe_is_called_once_per_step_with_item_counts():
    seen: list[tuple[str, float, int]] = []
    inputs = [envelope("ferry"), Envelope(value=None), envelope("bakery")]
    outcomes = pipeline(Stage("first", mark("1")), Stage("second", mark("2")),
                        observe=lambda *call: seen.append(call)).run(inputs)
    articles = sum(len(o.articles) for o in outcomes)
    assert articles >= 2
    assert [(name, items) for name, _, items in seen] == [
        ("decode", 3), ("normalize", 2), ("first", articles), ("second", articles)
    ]
    assert all(seconds >= 0 for _, seconds, _ in seen)


def test_the_same_input_twice_gives_the_same_ids():
    first, second = pipeline().run([envelope("library"), envelope("library")])
    assert first.articles
    assert [a.id for a in first.articles] == [a.id for a in second.articles]


def test_build_pipeline_uses_the_settings_limits():
    built = build_pipeline(Settings(max_body_bytes=64))
    outcome, = built.run([envelope("bakery")])
    assert outcome.rejection.code == RejectCode.TOO_LARGE
