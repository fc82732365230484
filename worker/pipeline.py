"""The one pipeline: decode → normalize (may split a page into several stories) → article stages.

The worker's agent and ``newsworker enrich`` both call ``Pipeline.run`` on batches of envelopes and get one
``Outcome`` per envelope, in order: the articles it produced, or the reason it was rejected. Nothing here does
Kafka, environment or logging I/O; heavy resources (the NER model, the gazetteer) are built once by
``build_pipeline`` and injected.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from worker.decode import InputLimits, decode
from worker.normalize import NormalizeConfig, normalize
from worker.records import Article, Envelope, InputRejected, RawArticle, Rejection, RejectCode
from worker.settings import Settings

# A batch stage maps a list of articles to a list of the same length and order (spaCy-style nlp.pipe).
BatchStage = Callable[[Sequence[Article]], list[Article]]
# Called with (stage name, seconds, items) after each stage of each batch: the worker feeds Prometheus.
StageObserver = Callable[[str, float, int], None]


def _ignore(stage: str, seconds: float, items: int) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Outcome:
    envelope: Envelope
    articles: tuple[Article, ...] = ()
    rejection: Rejection | None = None


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    run: BatchStage


@dataclass
class Pipeline:
    limits: InputLimits
    normalize_config: NormalizeConfig
    stages: Sequence[Stage] = ()
    observe: StageObserver = field(default=_ignore)

    def run(self, envelopes: Sequence[Envelope]) -> list[Outcome]:
        """Process a batch. Never raises for bad data: every envelope gets an Outcome."""
        rejections: dict[int, Rejection] = {}
        produced: dict[int, list[Article]] = {}

        started = time.perf_counter()
        raws: dict[int, RawArticle] = {}
        for i, envelope in enumerate(envelopes):
            try:
                raws[i] = decode(envelope, self.limits)
            except InputRejected as exc:
                rejections[i] = Rejection(exc.code, exc.reason)
        self.observe("decode", time.perf_counter() - started, len(envelopes))

        started = time.perf_counter()
        for i, raw in raws.items():
            try:
                produced[i] = normalize(raw, self.normalize_config)
            except InputRejected as exc:
                rejections[i] = Rejection(exc.code, exc.reason)
            except Exception as exc:  # a bug must not stop the batch; the input is kept for replay
                rejections[i] = _processing_error("normalize", exc)
        self.observe("normalize", time.perf_counter() - started, len(raws))

        for stage in self.stages:
            started = time.perf_counter()
            count = sum(len(a) for a in produced.values())
            self._apply(stage, produced, rejections)
            self.observe(stage.name, time.perf_counter() - started, count)

        return [
            Outcome(envelope, rejection=rejections[i])
            if i in rejections
            else Outcome(envelope, articles=tuple(produced.get(i, ())))
            for i, envelope in enumerate(envelopes)
        ]

    def _apply(self, stage: Stage, produced: dict[int, list[Article]], rejections: dict[int, Rejection]) -> None:
        owners = [(i, j) for i, articles in produced.items() for j in range(len(articles))]
        batch = [produced[i][j] for i, j in owners]
        if not batch:
            return
        try:
            results = stage.run(batch)
            if len(results) != len(batch):
                raise RuntimeError(f"stage {stage.name} returned {len(results)} records for {len(batch)}")
            for (i, j), article in zip(owners, results):
                produced[i][j] = article
            return
        except Exception:  # includes InputRejected: find out below which input it was
            pass
        # The batch failed: retry article by article so one bad input costs only itself.
        for i, j in owners:
            if i in rejections:
                continue
            try:
                produced[i][j] = stage.run([produced[i][j]])[0]
            except InputRejected as exc:
                rejections[i] = Rejection(exc.code, exc.reason)
            except Exception as exc:
                rejections[i] = _processing_error(stage.name, exc)
        for i in rejections:
            produced.pop(i, None)


def _processing_error(stage: str, exc: BaseException) -> Rejection:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    location = f" at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}" if where else ""
    return Rejection(RejectCode.PROCESSING_ERROR, f"{stage} failed: {type(exc).__name__}: {exc}{location}")


def build_pipeline(settings: Settings, observe: StageObserver = _ignore) -> Pipeline:
    """Build the pipeline with every resource loaded once. The one place that decides which stages run."""
    limits = InputLimits(max_body_bytes=settings.max_body_bytes)
    config = NormalizeConfig(max_html_depth=settings.max_html_depth, max_html_elements=settings.max_html_elements)
    stages: list[Stage] = [*_nlp_stages()]
    return Pipeline(limits=limits, normalize_config=config, stages=stages, observe=observe)


def _nlp_stages() -> list[Stage]:
    """Entities, places and quotes (worker/nlp), with the NER model and the gazetteer loaded once here."""
    from worker.nlp import EntityStage, PlaceStage, QuoteStage
    from worker.nlp.gazetteer import load_gazetteer
    from worker.nlp.model import load_ner_model

    gazetteer = load_gazetteer()
    return [
        Stage("entities", EntityStage(load_ner_model(), gazetteer=gazetteer)),
        Stage("places", PlaceStage(gazetteer)),
        Stage("quotes", QuoteStage()),
    ]
