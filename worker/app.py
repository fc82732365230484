"""The Faust app: one agent that reads raw articles in batches, runs the pipeline, and publishes what comes out.

The agent only wires: Kafka records → ``Envelope`` → ``Pipeline.run`` (in a child process, so the CPU-bound
NER model neither blocks heartbeats nor competes with Kafka I/O for the GIL) → ``route_outcomes`` (pure: which message goes to which topic) → ``publish``
(the only Kafka I/O, with bounded retry for broker errors). Offsets are acknowledged only after a batch's outputs
were delivered, so a crash or a stop re-delivers the batch instead of losing it; article and dead-letter ids are
deterministic, so a redelivery republishes the same ids.

Follow-up linking (issue 4) plugs in at ``route_outcomes``: articles go to an internal single-partition topic
instead of ``news.articles`` and a second agent links them and publishes both outputs through ``publish``.

>>> app = create_app(Settings(brokers="localhost:9092"))   # doctest: +SKIP
>>> app.main()                                             # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import faust
from aiokafka.errors import KafkaTimeoutError
from faust.types import TP
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from worker import codec
from worker.deadletter import dead_letter
from worker.kafka.broker import free_port
from worker.kafka.clients import BrokerReads
from worker.kafka.topics import stories_topic
from worker.pipeline import Outcome, Pipeline, StageObserver, build_pipeline
from worker.records import Article, DateMention, Dateline, Envelope, Origin, Rejection, RejectCode, Span
from worker.security import faust_credentials
from worker.settings import Settings
from worker.stories import Evidence, LinkConfig, StoryIndex, StoryUpdate, followup_event, link
from worker.stories.table import index_from_table, keep_decision, read_decision, write_change

logger = logging.getLogger(__name__)

PipelineFactory = Callable[[Settings, StageObserver], Pipeline]

HEALTH, READY, METRICS = "/health", "/ready", "/metrics"
JSON_HEADERS = (("content-type", b"application/json"),)

# Broker and timeout errors (aiokafka marks them ``retriable``) get this many attempts, with doubling backoff.
SEND_ATTEMPTS = 6
FIRST_BACKOFF_S = 0.25
MAX_BACKOFF_S = 8.0


def web_routes() -> tuple[str, ...]:
    """The paths the worker's web server answers (probes and Prometheus point at them)."""
    return (HEALTH, READY, METRICS)


# --------------------------------------------------------------------------------------------- routing


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message to publish, and the input it came from (for logs and for dead-lettering a failed send)."""

    topic: str
    key: bytes | None
    value: bytes
    source: Envelope
    headers: tuple[tuple[str, bytes], ...] = JSON_HEADERS
    dead_letter_code: str | None = None


def route_outcomes(outcomes: Sequence[Outcome], settings: Settings, failed_at: datetime,
                   articles_topic: str | None = None) -> list[OutgoingMessage]:
    """Outcomes → messages: each article keyed by its id to ``articles_topic`` (default: the articles topic),
    each rejection to the dead letters.

    Pure. reads: Outcome.articles, Outcome.rejection — writes: the messages the worker publishes.
    """
    messages: list[OutgoingMessage] = []
    for outcome in outcomes:
        if outcome.rejection is not None:
            messages.append(dead_letter_message(outcome.envelope, outcome.rejection, settings, failed_at))
            continue
        for article in outcome.articles:
            messages.append(OutgoingMessage(articles_topic or settings.topic_articles, article.id.encode(),
                                            codec.dumps(article), outcome.envelope))
    return messages


def article_from_plain(data: dict[str, Any]) -> Article:
    """An ``Article`` back from its JSON form (``codec.to_plain``), for the linking agent on the internal topic.

    The tagging stages' items (entities, places, quotes) stay plain dicts: the linker reads them either way,
    and they serialize back to the same JSON.
    """
    fields = dict(data)
    for name in ("published_at", "fetched_at"):
        if fields.get(name) is not None:
            fields[name] = datetime.fromisoformat(fields[name])
    if fields.get("stamped_on") is not None:
        fields["stamped_on"] = date.fromisoformat(fields["stamped_on"])
    for name in ("paragraphs", "sentences"):
        fields[name] = tuple(Span(**span) for span in fields.get(name) or ())
    if fields.get("dateline") is not None:
        fields["dateline"] = Dateline(**fields["dateline"])
    fields["dates"] = tuple(DateMention(**mention) for mention in fields.get("dates") or ())
    for name in ("notices", "entities", "locations", "focus_locations", "quotes"):
        fields[name] = tuple(fields.get(name) or ())
    known = {f.name for f in dataclasses.fields(Article)}
    return Article(**{name: value for name, value in fields.items() if name in known})


def dead_letter_message(envelope: Envelope, rejection: Rejection, settings: Settings,
                        failed_at: datetime) -> OutgoingMessage:
    body = dead_letter(envelope, rejection, failed_at, settings.app_id)
    return OutgoingMessage(settings.topic_deadletter, body["id"].encode(), codec.dumps(body), envelope,
                           dead_letter_code=str(rejection.code))


def envelope_from_message(message: Any) -> Envelope:
    """A Faust ``Message`` (one Kafka record) → ``Envelope``, bytes untouched."""
    timestamp = message.timestamp  # seconds
    return _envelope(message, int(timestamp * 1000) if timestamp is not None else None)


def envelope_from_record(record: Any) -> Envelope:
    """An aiokafka ``ConsumerRecord`` → ``Envelope``, bytes untouched."""
    return _envelope(record, record.timestamp)  # milliseconds


def _envelope(record: Any, timestamp_ms: int | None) -> Envelope:
    headers = record.headers or ()
    if isinstance(headers, dict):
        headers = headers.items()
    return Envelope(
        value=record.value,
        key=record.key,
        headers=tuple((str(name), bytes(value or b"")) for name, value in headers),
        origin=Origin(topic=record.topic, partition=record.partition, offset=record.offset,
                      timestamp_ms=timestamp_ms),
    )


# --------------------------------------------------------------------------------------------- metrics


class WorkerMetrics:
    """The worker's Prometheus metrics, in their own registry (several apps can live in one test process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.consumed = Counter("newsworker_consumed_messages", "Raw messages consumed.", ["topic"],
                                registry=self.registry)
        self.produced = Counter("newsworker_produced_messages", "Messages published.", ["topic"],
                                registry=self.registry)
        self.dead_letters = Counter("newsworker_dead_letters", "Inputs dead-lettered, by reason code.", ["code"],
                                    registry=self.registry)
        self.stage_seconds = Histogram("newsworker_stage_seconds", "Processing time of one batch in one stage.",
                                       ["stage"], registry=self.registry,
                                       buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.batch_size = Histogram("newsworker_batch_size", "Raw messages per pipeline batch.",
                                    registry=self.registry, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
        self.send_retries = Counter("newsworker_send_retries", "Retried sends after a retriable broker error.",
                                    ["topic"], registry=self.registry)
        self.lag = Gauge("newsworker_consumer_lag", "High watermark minus next offset to process.",
                         ["topic", "partition"], registry=self.registry)
        self.unreadable_state = Counter("newsworker_unreadable_state",
                                        "Values of the linking agent's tables that could not be read (left as they "
                                        "are; the article is linked without them).", ["table"],
                                        registry=self.registry)
        self.index_rebuilds = Counter("newsworker_story_index_rebuilds",
                                      "Times the linking agent rebuilt its story index from the story table, by "
                                      "cause.", ["cause"], registry=self.registry)
        self.read_gaps = Counter("newsworker_read_gaps",
                                 "Records the consumer skipped (read_again: read from the broker and processed; "
                                 "hole: no record there after all).", ["topic", "outcome"], registry=self.registry)
        self.redelivered = Counter("newsworker_redelivered_records",
                                   "Records delivered again at an offset already done (taken by this worker, or "
                                   "below its group's commit when the assignment started); skipped.",
                                   ["topic"], registry=self.registry)
        self.story_changes = Counter("newsworker_story_changes",
                                     "Decisions that changed earlier stories: merged (two or more joined as one, "
                                     "or re-rooted), split (one parted in two).", ["change"], registry=self.registry)
        self.frozen = Gauge("newsworker_gc_frozen_objects",
                            "Objects frozen out of the cyclic garbage collector's passes (the worker freezes what "
                            "exists when it starts: modules, the app, its agents, tables and topics).",
                            registry=self.registry)
        self.frozen.set_function(gc.get_freeze_count)

    def observe_stage(self, stage: str, seconds: float, items: int) -> None:
        """``Pipeline.observe``: called from the executor thread (prometheus-client is thread-safe)."""
        self.stage_seconds.labels(stage).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


# --------------------------------------------------------------------------------------------- publishing


class Sender(Protocol):
    """Sends one record and returns an awaitable that resolves when the broker has it (Faust's producer)."""

    async def send(self, topic: str, key: bytes | None, value: bytes | None, partition: int | None,
                   timestamp: float | None, headers: Any) -> Any: ...


class PublishFailed(Exception):
    """A broker error outlasted the retries: the batch is left unacknowledged and the worker stops."""


def _is_retriable(error: BaseException) -> bool:
    # aiokafka marks broker errors ``retriable`` by class. Its producer's own timeout (a batch that expired
    # waiting for a leader) is not marked but is a broker outage all the same, as are asyncio/OS timeouts.
    return bool(getattr(error, "retriable", False)) or isinstance(
        error, (KafkaTimeoutError, asyncio.TimeoutError, ConnectionError))


class Publisher:
    """Delivers messages; retries retriable errors with backoff, dead-letters inputs whose output is refused."""

    def __init__(self, sender: Callable[[], Sender], settings: Settings, metrics: WorkerMetrics,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self._sender = sender
        self._settings = settings
        self._metrics = metrics
        self._sleep = sleep

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Deliver all ``messages`` (in order per topic/key); raises ``PublishFailed`` only for lasting broker errors."""
        failed = await self._deliver(messages)
        if not failed:
            return
        # The broker refused these for what they are (e.g. too large): the input goes to the dead letters instead.
        replacements: list[OutgoingMessage] = []
        seen: set[int] = set()
        for message, error in failed:
            origin = message.source.origin.describe()
            logger.error("cannot publish to %s for input %s: %s: %s", message.topic, origin,
                         type(error).__name__, error)
            if message.dead_letter_code is not None or id(message.source) in seen:
                continue  # a refused dead letter cannot be dead-lettered again; it is logged above
            seen.add(id(message.source))
            rejection = Rejection(RejectCode.PROCESSING_ERROR,
                                  f"publishing to {message.topic} failed: {type(error).__name__}: {error}")
            replacements.append(dead_letter_message(message.source, rejection, self._settings,
                                                    datetime.now(timezone.utc)))
        for message, error in await self._deliver(replacements):
            logger.error("dead letter for input %s refused by the broker: %s",
                         message.source.origin.describe(), error)

    async def _deliver(self, messages: Sequence[OutgoingMessage]) -> list[tuple[OutgoingMessage, BaseException]]:
        pending = list(messages)
        refused: list[tuple[OutgoingMessage, BaseException]] = []
        delay = FIRST_BACKOFF_S
        for attempt in range(1, SEND_ATTEMPTS + 1):
            results = await asyncio.gather(*(self._send_one(m) for m in pending), return_exceptions=True)
            retry: list[OutgoingMessage] = []
            for message, result in zip(pending, results):
                if not isinstance(result, BaseException):
                    self._metrics.produced.labels(message.topic).inc()
                    if message.dead_letter_code is not None:
                        self._metrics.dead_letters.labels(message.dead_letter_code).inc()
                elif _is_retriable(result):
                    retry.append(message)
                elif isinstance(result, Exception):
                    refused.append((message, result))
                else:
                    raise result  # CancelledError and friends are not ours to swallow
            if not retry:
                return refused
            first = retry[0]
            if attempt == SEND_ATTEMPTS:
                raise PublishFailed(f"{len(retry)} messages to {first.topic} still failing after {attempt} attempts "
                                    f"(first input {first.source.origin.describe()})")
            logger.warning("publishing %d messages failed with a retriable error (first: %s for input %s); "
                           "retry %d/%d in %.2f s", len(retry), first.topic, first.source.origin.describe(),
                           attempt, SEND_ATTEMPTS - 1, delay)
            for message in retry:
                self._metrics.send_retries.labels(message.topic).inc()
            await self._sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)
            pending = retry
        return refused

    async def _send_one(self, message: OutgoingMessage) -> Any:
        delivered = await self._sender().send(message.topic, message.key, message.value, None, None,
                                              list(message.headers))
        return await delivered


# --------------------------------------------------------------------------------------------- runtime


# --------------------------------------------------------------------------------------------- pipeline hosts

Observation = tuple[str, float, int]  # what Pipeline.observe reports: stage, seconds, items


class ThreadHost:
    """The pipeline on one thread of this process: built and always run there, so models see one thread.

    Frees the event loop while a batch runs, but shares the GIL with Faust's Kafka I/O. For tests and
    pipeline factories that cannot be pickled.
    """

    def __init__(self, factory: PipelineFactory, settings: Settings) -> None:
        self._factory = factory
        self._settings = settings
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pipeline")
        self._pipeline: Pipeline | None = None

    async def build(self) -> None:
        loop = asyncio.get_running_loop()
        self._pipeline = await loop.run_in_executor(self._executor, self._factory, self._settings, _ignore)

    async def run(self, envelopes: Sequence[Envelope]) -> tuple[list[Outcome], list[Observation]]:
        assert self._pipeline is not None, "build() first"
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _run_observed, self._pipeline, list(envelopes))

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class ProcessHost:
    """The pipeline in one child process: CPU-bound stages run on their own core, outside this process's GIL.

    The child is started with ``spawn`` (forking a process that runs Kafka client threads is unsafe). Records
    cross the boundary pickled, which costs well under a millisecond per article. If the child dies (a crash
    in native code), it is restarted and the batch is retried one input at a time, so only an input that kills
    it again is dead-lettered.
    """

    def __init__(self, factory: PipelineFactory, settings: Settings) -> None:
        self._factory = factory
        self._settings = settings
        self._executor: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_child_build, initargs=(self._factory, self._settings, os.getpid()))

    async def build(self) -> None:
        self._executor = self._start()
        await asyncio.get_running_loop().run_in_executor(self._executor, _child_ping)

    async def run(self, envelopes: Sequence[Envelope]) -> tuple[list[Outcome], list[Observation]]:
        assert self._executor is not None, "build() first"
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, _child_run, list(envelopes))
        except BrokenProcessPool:
            logger.error("the pipeline process died on batch %s; retrying input by input", _span(envelopes))
        outcomes: list[Outcome] = []
        observations: list[Observation] = []
        for envelope in envelopes:
            self._restart_if_broken()
            try:
                single, seen = await loop.run_in_executor(self._executor, _child_run, [envelope])
            except BrokenProcessPool:
                logger.error("the pipeline process died on %s: dead-lettered", envelope.origin.describe())
                single = [Outcome(envelope, rejection=Rejection(
                    RejectCode.PROCESSING_ERROR, "the pipeline process died while processing this input"))]
                seen = []
            outcomes += single
            observations += seen
        self._restart_if_broken()
        return outcomes, observations

    def _restart_if_broken(self) -> None:
        executor = self._executor
        if executor is not None and getattr(executor, "_broken", False):
            executor.shutdown(wait=False)
            self._executor = self._start()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)


def _ignore(stage: str, seconds: float, items: int) -> None:
    return None


def _run_observed(pipeline: Pipeline, envelopes: list[Envelope]) -> tuple[list[Outcome], list[Observation]]:
    observations: list[Observation] = []
    pipeline.observe = lambda stage, seconds, items: observations.append((stage, seconds, items))
    return pipeline.run(envelopes), observations


_CHILD_PIPELINE: Pipeline | None = None  # the pipeline of a ProcessHost child (one per child process)


def _child_build(factory: PipelineFactory, settings: Settings, parent_pid: int) -> None:
    global _CHILD_PIPELINE
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()
    _CHILD_PIPELINE = factory(settings, _ignore)


def _exit_with_parent(parent_pid: int, period: float = 1.0) -> None:
    """End this pipeline child when the worker that started it is gone.

    A pool child waits for work on a queue whose write end it holds itself, so a worker killed with SIGKILL
    (or by the OOM killer) left it waiting for ever, with the model loaded (measured: two 370 MB orphans after
    the restart tests). A stopped worker shuts its pool down in order and never gets here.
    """
    while os.getppid() == parent_pid:
        time.sleep(period)
    os._exit(0)


def _child_ping() -> bool:
    return _CHILD_PIPELINE is not None


def _child_run(envelopes: list[Envelope]) -> tuple[list[Outcome], list[Observation]]:
    assert _CHILD_PIPELINE is not None
    return _run_observed(_CHILD_PIPELINE, envelopes)


HostFactory = Callable[[PipelineFactory, Settings], "ThreadHost | ProcessHost"]


# --------------------------------------------------------------------------------------------- runtime


class Runtime:
    """What the agent needs besides Faust: the pipeline host (built once, off the loop), metrics, the publisher."""

    def __init__(self, settings: Settings, host: ThreadHost | ProcessHost, publisher: Publisher,
                 metrics: WorkerMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.publisher = publisher
        self._host = host
        self._built: asyncio.Future[None] | None = None

    @property
    def pipeline_ready(self) -> bool:
        return self._built is not None and self._built.done() and self._built.exception() is None

    def pipeline(self) -> asyncio.Future[None]:
        """Done once the pipeline is built (loading models takes seconds); starts the build on first call."""
        if self._built is None:
            self._built = asyncio.ensure_future(self._host.build())
        return self._built

    async def process(self, envelopes: Sequence[Envelope]) -> list[OutgoingMessage]:
        """Run the pipeline on a batch off the event loop and route the outcomes. Never raises for bad data."""
        if not envelopes:
            return []
        self.metrics.batch_size.observe(len(envelopes))
        for envelope in envelopes:
            self.metrics.consumed.labels(envelope.origin.topic or "").inc()
        await self.pipeline()
        started = time.perf_counter()
        now = datetime.now(timezone.utc)
        try:
            outcomes, observations = await self._host.run(envelopes)
        except Exception as exc:  # Pipeline.run promises not to raise; if it does anyway, nothing is lost
            logger.exception("pipeline failed on a batch of %d from %s", len(envelopes), _span(envelopes))
            rejection = Rejection(RejectCode.PROCESSING_ERROR, f"pipeline failed: {type(exc).__name__}: {exc}")
            return [dead_letter_message(e, rejection, self.settings, now) for e in envelopes]
        for stage, seconds, items in observations:
            self.metrics.observe_stage(stage, seconds, items)
        for outcome in outcomes:
            if outcome.rejection is not None:
                logger.info("rejected %s: %s: %s", outcome.envelope.origin.describe(), outcome.rejection.code,
                            outcome.rejection.reason)
        logger.debug("processed batch of %d from %s in %.3f s", len(envelopes), _span(envelopes),
                     time.perf_counter() - started)
        # Articles go on to the linking agent through the internal single-partition topic.
        return route_outcomes(outcomes, self.settings, now, articles_topic=stories_topic(self.settings))

    def close(self) -> None:
        self._host.close()


def _span(envelopes: Sequence[Envelope]) -> str:
    """``news.raw[0]@12..40, news.raw[1]@7`` — the offsets a batch covers, for log lines."""
    ranges: dict[tuple[str | None, int | None], list[int]] = {}
    for envelope in envelopes:
        origin = envelope.origin
        ranges.setdefault((origin.topic, origin.partition), []).append(origin.offset or 0)
    parts = []
    for (topic, partition), offsets in ranges.items():
        low, high = min(offsets), max(offsets)
        parts.append(f"{topic}[{partition}]@{low}" + (f"..{high}" if high != low else ""))
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------- the app


class OffsetGuard:
    """Remembers which offsets this process has taken, per partition, to skip records delivered twice.

    A fetch can hand the same record over twice (measured against the embedded broker: the last record of a
    partition arrived twice in one batch, and Faust's fetcher lets an offset equal to the last one read through).
    Processing it again would publish its outputs twice. This process publishes everything it takes (or stops),
    so a record at an offset it has taken has its outputs out already. Only offsets actually taken are skipped:
    the taken offsets are kept as contiguous ranges, because a seek after a rebalance or a recovery can move a
    partition back below where this process started reading it, and those records were never processed here.
    """

    def __init__(self, metrics: WorkerMetrics) -> None:
        self.metrics = metrics
        self.taken: dict[Any, list[list[int]]] = {}  # per partition: [first, last] ranges of offsets taken

    def fresh(self, events: Sequence[Any]) -> list[Any]:
        """The events not taken before, in order; the others are counted and left for the caller to ack."""
        return [event for event in events if self.take(event.message.tp, event.message.offset)]

    def take(self, tp: Any, offset: int) -> bool:
        """Note the record at ``offset`` of ``tp`` as taken; False (counted) when it was taken before."""
        ranges = self.taken.setdefault(tp, [])
        if any(first <= offset <= last for first, last in ranges):
            self.metrics.redelivered.labels(tp.topic).inc()
            logger.debug("skipping %s[%d]@%d: taken before", tp.topic, tp.partition, offset)
            return False
        extended = next((r for r in ranges if r[1] == offset - 1), None)
        if extended is not None:
            extended[1] = offset  # the usual case: the next offset of the range being read
        else:
            ranges.append([offset, offset])
            del ranges[:-64]  # a few seeks per rebalance at most; keep the memory bounded regardless
        return True


class SkippedUnreadable(Exception):
    """Records the consumer skipped could not be read from the broker: the worker stops without committing past
    them (a restart is handed them again), since their bytes are not in hand to dead-letter."""


class Reads(Protocol):
    """The cluster reads beside the consumer that repair its skips (``worker.kafka.clients.BrokerReads``)."""

    async def records(self, topic: str, partition: int, start: int, end: int) -> Sequence[Any]: ...

    async def committed(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int | None]: ...

    async def first_retained(self, topic: str, partition: int) -> int: ...


SKIPPED_READ_AT_ONCE = 50  # records per read of a skipped range: a record can be several MB (max_message_bytes)


async def read_skipped(reads: Reads, metrics: WorkerMetrics, tp: Any, start: int,
                       end: int) -> AsyncIterator[Envelope]:
    """The records at ``start`` .. ``end - 1`` of ``tp``, which the consumer skipped, read straight from the
    broker in order, a few at a time. An offset the broker has no record for (a transaction marker takes one) is
    a hole. Raises ``SkippedUnreadable`` when the broker does not serve them."""
    logger.warning("%s[%d] records %d..%d were skipped by the consumer (offset %d came next); reading them from "
                   "the broker", tp.topic, tp.partition, start, end - 1, end)
    for first in range(start, end, SKIPPED_READ_AT_ONCE):
        last = min(end, first + SKIPPED_READ_AT_ONCE)
        try:
            records = await reads.records(tp.topic, tp.partition, first, last)
        except Exception as exc:
            logger.critical("%s[%d] records %d..%d could not be read again (%s: %s); stopping without committing "
                            "past them", tp.topic, tp.partition, first, end - 1, type(exc).__name__, exc)
            raise SkippedUnreadable(f"{tp.topic}[{tp.partition}] records {first}..{end - 1}") from exc
        metrics.read_gaps.labels(tp.topic, "read_again").inc(len(records))
        if last - first > len(records):
            metrics.read_gaps.labels(tp.topic, "hole").inc(last - first - len(records))
        for record in records:
            yield envelope_from_record(record)


class ReadGaps:
    """Notices records the consumer skipped on an input partition, and reads them straight from the broker.

    Faust can hand a stream the records of a partition with some left out, and then commit past them: on the raw
    topic, while a second worker joined and left the group
    (``test_no_article_is_lost_while_workers_join_and_leave_the_group``), one article in 360 went missing in 3
    runs of 20; a temporary log of each batch's offsets showed a worker take offsets 68..83 of a partition, then
    85..88, and 84 never came again. CI saw it during a clean stop too (offset 11 missing, 12.. handed over). The
    cause is Faust's fetcher, which drops a record that arrives below the highest offset it has handed over (the
    race the stories topic's ``LinkCursor`` repairs the same way), and its commit, which takes offset ``n + 1``
    acked after a commit at ``n`` as contiguous. Within one assignment (one consumer generation) a partition
    comes in order from the offset its group committed, so a record past the next expected offset means records
    were skipped: they are read with a consumer of their own (``read_skipped``) and processed with the batch,
    before it is published and acked, so the commit Faust then makes past them loses nothing. Holding the later
    records back unacked instead, and seeking back, was tried: at a stop the fetcher no longer answers the seek,
    and Faust waits for the held records forever.

    Where an assignment starts is the group's committed offset, asked of the broker at the first batch of each
    generation: counting from the first record handed over instead misses a skip of the first ones, and takes a
    record left over from before the assignment's seek for the start (seen in the churn test: offset 42 of a
    partition came first after a rebalance, then 51, and 43..50 were read again although the worker that had held
    the partition had most likely processed them). Such a record, below the committed offset, is done: the group
    committed past it once its outputs were out, so ``not_committed`` leaves it out. When the broker does not
    answer, the count starts at the first record.
    """

    def __init__(self, reads: Reads, metrics: WorkerMetrics) -> None:
        self.reads, self.metrics = reads, metrics
        self.expected: dict[Any, tuple[Any, int | None]] = {}  # per partition: (consumer generation, next offset)
        self.starts: dict[Any, tuple[Any, int | None]] = {}  # per partition: (generation, the offset committed)

    async def skipped(self, events: Sequence[Any]) -> list[Envelope]:
        """The records the consumer left out before ``events`` (in order), read from the broker; raises
        ``SkippedUnreadable`` when they cannot be read."""
        await self._start_assignments(events)
        found: list[Envelope] = []
        for event in events:
            tp, offset, generation = event.message.tp, event.message.offset, event.message.generation_id
            expected = self.expected[tp][1]
            if expected is not None and offset > expected:
                found += [envelope async for envelope in read_skipped(self.reads, self.metrics, tp, expected, offset)]
            # a lower offset: delivered again, or left over from before the assignment's seek
            self.expected[tp] = (generation, offset + 1 if expected is None else max(expected, offset + 1))
        return found

    async def _start_assignments(self, events: Sequence[Any]) -> None:
        """Where each partition new to this generation starts: the offset the group committed (None: unknown)."""
        starting = {event.message.tp: event.message.generation_id for event in events
                    if self.expected.get(event.message.tp, (None,))[0] != event.message.generation_id}
        if not starting:
            return
        try:
            committed = await self.reads.committed([(tp.topic, tp.partition) for tp in starting])
        except Exception as exc:
            logger.warning("could not read the committed offsets of %s (%s: %s); skips of their first records go "
                           "unnoticed", ", ".join(f"{tp.topic}[{tp.partition}]" for tp in starting),
                           type(exc).__name__, exc)
            committed = {}
        for tp, generation in starting.items():
            self.expected[tp] = self.starts[tp] = (generation, committed.get((tp.topic, tp.partition)))

    def not_committed(self, events: Sequence[Any]) -> list[Any]:
        """The events at or past the offset their group had committed when the assignment started, in order. One
        below it is left over from before the assignment's seek, or delivered again: the group committed past it
        only once its outputs were out. The others are counted and left for the caller to ack."""
        kept = []
        for event in events:
            generation, start = self.starts.get(event.message.tp, (None, None))
            if generation == event.message.generation_id and start is not None and event.message.offset < start:
                self.metrics.redelivered.labels(event.message.tp.topic).inc()
                continue
            kept.append(event)
        return kept


def faust_options(settings: Settings) -> dict[str, Any]:
    """Faust configuration from the settings (both profiles)."""
    session_timeout = settings.effective_session_timeout
    options: dict[str, Any] = {
        "broker": [f"kafka://{host}" for host in settings.bootstrap_servers],
        "broker_credentials": faust_credentials(settings),
        "store": settings.store,
        "datadir": settings.data_dir,
        "web_enabled": settings.web_enabled,
        "web_bind": settings.web_host,
        # Port 0 asks for any free port (tests, several workers on one host); Faust wants a real one.
        "web_port": settings.web_port or free_port(),
        "web_host": settings.web_host,
        "broker_session_timeout": session_timeout,
        "broker_heartbeat_interval": min(3.0, session_timeout / 4),
        # A new consumer group starts at the oldest raw article, not at the next one: nothing is skipped.
        "consumer_auto_offset_reset": "earliest",
        "topic_partitions": settings.partitions_raw,
        "topic_replication_factor": settings.replication_factor,
        # No leader election is used; skipping it saves a topic and a join.
        "topic_disable_leader": True,
        "autodiscover": False,
        # Articles made from large inputs are several MB (aiokafka's default refuses records over 1 MB).
        "producer_max_request_size": settings.max_message_bytes,
        "consumer_max_fetch_size": settings.max_message_bytes,
    }
    if settings.profile == "dev":
        # The embedded broker reports a wrong end offset for multi-record batches (see the README).
        options["producer_max_batch_size"] = 1
    return options


def create_app(settings: Settings, pipeline_factory: PipelineFactory = build_pipeline,
               sender: Callable[[], Sender] | None = None, host: HostFactory = ProcessHost,
               reads: Reads | None = None) -> faust.App:
    """The worker's Faust app; ``app.newsworker`` is its :class:`Runtime`.

    ``host`` decides where the pipeline runs (a child process by default; ``ThreadHost`` for factories that
    cannot be pickled); ``sender`` replaces Faust's producer and ``reads`` the cluster reads that repair the
    consumer's skips (``BrokerReads``) in agent tests.
    """
    app = faust.App(settings.app_id, **faust_options(settings))
    metrics = WorkerMetrics()
    publisher = Publisher(sender or (lambda: app.producer), settings, metrics)
    runtime = Runtime(settings, host(pipeline_factory, settings), publisher, metrics)
    guard = OffsetGuard(metrics)
    reads = reads or BrokerReads(settings)
    gaps = ReadGaps(reads, metrics)
    app.newsworker = runtime  # type: ignore[attr-defined]
    raw_topic = app.topic(settings.topic_raw, key_type=bytes, value_type=bytes,
                          key_serializer="raw", value_serializer="raw", partitions=settings.partitions_raw)

    @app.agent(raw_topic, name="enrich")
    async def enrich(stream: faust.StreamT) -> None:
        """reads: raw records — writes: articles and dead letters; acks a batch only once its outputs are out."""

        async def publish_and_ack(events: Sequence[Any], messages: Sequence[OutgoingMessage]) -> None:
            try:
                await publisher.publish(messages)
            except PublishFailed as exc:
                # The broker is gone for good: leave the batch unacknowledged (it is re-delivered after a
                # restart) and stop the worker so the orchestrator restarts it.
                logger.critical("giving up on batch %s: %s", _span([m.source for m in messages]), exc)
                await app.crash(exc)
                return
            for event in events:
                await stream.ack(event)
            _record_lag(app, metrics, events)

        async def process_batches(batches: asyncio.Queue[Sequence[Any]]) -> None:
            """Batch N+1 runs through the pipeline while batch N is published and batch N+2 is taken."""
            in_flight: asyncio.Future[None] | None = None
            while True:
                events = await batches.get()
                envelopes: list[Envelope] = []
                try:
                    # Records the consumer skipped go first, read from the broker; records delivered twice, or
                    # below the group's commit, are acked with their batch but not processed again.
                    envelopes += [e for e in await gaps.skipped(events)
                                  if guard.take(TP(e.origin.topic, e.origin.partition), e.origin.offset)]
                    envelopes += [envelope_from_message(event.message)
                                  for event in gaps.not_committed(guard.fresh(events))]
                    messages = await runtime.process(envelopes)  # dead-letters bad data, never raises for it
                except Exception as exc:  # skipped records unreadable, or no pipeline (its models failed to load)
                    logger.critical("cannot process batch %s: %s: %s", _span(envelopes) or "(skipped records)",
                                    type(exc).__name__, exc)
                    batches.task_done()
                    await app.crash(exc)
                    return
                if in_flight is not None:
                    await in_flight  # batch N is out (and acked) before batch N+1 starts publishing: order is kept
                    batches.task_done()
                in_flight = asyncio.ensure_future(publish_and_ack(events, messages))
                if batches.empty():
                    await in_flight  # nothing waiting: finish now rather than hold the acks
                    in_flight = None
                    batches.task_done()

        # noack_take: Faust's take() acks a batch as soon as the loop moves on; here acks follow delivery.
        # A queue of one decouples taking from processing, so Faust fills the next batch meanwhile.
        batches: asyncio.Queue[Sequence[Any]] = asyncio.Queue(maxsize=1)
        processor = asyncio.ensure_future(process_batches(batches))
        try:
            async for events in stream.noack_take(settings.batch_size, within=settings.batch_timeout):
                if processor.done():
                    return  # it crashed the app; the worker is stopping
                await batches.put(events)
        finally:
            # A stop or rebalance: let the batches taken so far finish and be acked (Faust waits for unacked
            # events before it commits), then stop the processor.
            if not processor.done():
                drained = asyncio.ensure_future(batches.join())
                await asyncio.wait([drained, processor], return_when=asyncio.FIRST_COMPLETED)
                drained.cancel()
            processor.cancel()

    app.newsworker_agent = enrich  # type: ignore[attr-defined]

    # --- follow-up linking: one agent instance sees every article (single partition) and owns the story index
    link_config = LinkConfig()
    # JSON keys (article ids come back from the changelog as str); entries stay packed bytes in memory (table.py).
    story_table = app.Table("story_index", default=None, partitions=1, value_type=bytes,
                            schema=faust.Schema(key_serializer="json", value_serializer="raw"))
    # Decisions stay compressed JSON bytes in memory (keep_decision in table.py): one is kept per indexed article.
    # (value_type is what Faust reads the serializer from for the changelog; the schema alone is not enough.)
    decisions = app.Table("followup_decisions", default=None, partitions=1, value_type=bytes,
                          schema=faust.Schema(key_serializer="json", value_serializer="raw"))
    stories = app.topic(stories_topic(settings), key_type=bytes, value_type=bytes, key_serializer="raw",
                        value_serializer="raw", partitions=1)

    linker = LinkerState()

    cursor = LinkCursor(decisions, reads, metrics)

    @app.on_partitions_revoked.connect
    async def suspect_story_index(app_: Any, revoked: set[Any], **_: Any) -> None:
        if any(tp.topic == stories.get_topic_name() for tp in revoked):
            linker.revoked()

    async def story_index() -> StoryIndex:
        """The index of the story table as it is now: the one kept, or rebuilt from the table."""
        index = linker.current(decision_count(decisions))
        if index is not None:
            return index
        metrics.index_rebuilds.labels(linker.cause).inc()
        started = time.perf_counter()
        entries = dict(story_table.items())
        unreadable: list[str] = []
        # Off the event loop: it takes seconds for a large table (about 2 s per 100,000 entries measured by bench
        # link), and a loop blocked that long misses heartbeats and gets the worker out of its group.
        index = await asyncio.to_thread(index_from_table, entries, unreadable,
                                        retention_seconds=link_config.retention_seconds, upkeep_on_apply=False)
        logger.info("story index rebuilt from %d table entries in %.1f s", len(index.entries),
                    time.perf_counter() - started)
        if unreadable:
            metrics.unreadable_state.labels("stories").inc(len(unreadable))
            logger.error("%d story table values could not be read and were left out of the index (first: %s)",
                         len(unreadable), ", ".join(unreadable[:5]))
        return index

    async def link_record(envelope: Envelope) -> bool:
        """Link the stories record in ``envelope`` and publish what was decided; False when that failed and the
        worker is stopping."""
        revocations = linker.revocations
        index = await story_index()
        failures: list[str] = []  # why linking failed once the index was being changed, if it did
        now = datetime.now(timezone.utc)
        try:
            article = article_from_plain(codec.loads(envelope.value or b""))
        except Exception as exc:  # only this worker writes the topic; a bad record is a bug, kept for replay
            logger.error("unreadable article on %s: %s: %s", envelope.origin.describe(), type(exc).__name__, exc)
            rejection = Rejection(RejectCode.PROCESSING_ERROR, f"linking input unreadable: {exc}")
            messages = [dead_letter_message(envelope, rejection, settings, now)]
        else:
            messages = link_messages(index, story_table, decisions, article, envelope, settings, link_config,
                                     metrics, on_index_failure=failures.append)
        if failures:  # the index may be half-changed: the table is what was decided
            linker.drop(failures[0])
        elif linker.revocations == revocations:  # not revoked while it was rebuilt: the index is current
            linker.keep(index, decision_count(decisions))
        try:
            await publisher.publish(messages)
        except PublishFailed as exc:
            logger.critical("giving up on %s: %s", envelope.origin.describe(), exc)
            await app.crash(exc)
            return False
        cursor.linked(envelope.origin.offset or 0)
        return True

    async def upkeep() -> None:
        """Drop dead rows and merge large sorted runs of the index when it asks: seconds at a million live articles
        (numpy over every row), so in a thread and the event loop goes on; this agent waits, nothing else touches
        the index meanwhile."""
        index = linker.index
        if index is None or not index.wants_upkeep:
            return
        compacting, started = index.wants_compaction, time.perf_counter()
        try:
            await asyncio.to_thread(index.upkeep)
        except Exception as exc:  # a bug: the index cannot be trusted, but nothing decided is lost
            logger.exception("story index upkeep failed")
            linker.drop(f"its upkeep failed: {type(exc).__name__}: {exc}")
            return
        if compacting:
            logger.info("story index compacted to %d articles in %.1f s", len(index), time.perf_counter() - started)

    @app.agent(stories, name="link")
    async def link_stories(stream: faust.StreamT) -> None:
        """reads: enriched articles, the story table — writes: Article.followup, the story table, both outputs."""
        # noack: the offset is committed only once the outputs are out. With auto-acks, an event in flight when
        # the worker is stopped is acked as the loop is cancelled: its article was never published by anyone
        # (measured: a SIGTERM lost the batch of articles that was being linked).
        async for event in stream.noack().events():
            tp = event.message.tp
            try:
                async for skipped in cursor.skipped(tp, event.message.offset):  # records the consumer left out
                    if guard.take(tp, skipped.origin.offset or 0):
                        if not await link_record(skipped):
                            return
                        await upkeep()
            except SkippedUnreadable as exc:  # not acked; the cursor is where linking got: a restart goes on there
                await app.crash(exc)
                return
            if not guard.fresh([event]):
                await stream.ack(event)  # delivered twice: its outputs are out already
                continue
            if not await link_record(envelope_from_message(event.message)):
                return
            await stream.ack(event)
            await upkeep()

    app.newsworker_link_agent = link_stories  # type: ignore[attr-defined]

    @app.task
    async def build_pipeline_at_start() -> None:
        # Start loading models now, so readiness does not wait for the first message.
        try:
            await runtime.pipeline()
        except Exception:
            logger.exception("building the pipeline failed")
            raise

    @app.page(HEALTH)
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page(READY)
    class Ready(View):
        async def get(self, request: Request) -> Response:
            state = readiness(app)
            return self.json(state, status=200 if state["ready"] else 503)

    @app.page(METRICS)
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(metrics.render(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.on_before_shutdown.connect
    async def finish(app_: Any, **_: Any) -> None:
        runtime.close()

    return app


class LinkerState:
    """The linking agent's story index: the story table in memory, built at the first article after the linking
    partition was assigned, and the count of decisions (``decision_count``) it reflects.

    While another worker has the linking partition, the table here keeps following the changelog (standby or
    recovery) but the index does not. It is kept over a rebalance all the same, and used again when the
    partition comes back and the count in the table is still the index's: nobody linked meanwhile (each
    decision, wherever taken, raises the count), so the ~2 s of CPU per 100,000 entries of a rebuild are saved.
    Otherwise it is rebuilt.
    """

    def __init__(self) -> None:
        self.index: StoryIndex | None = None
        self.linked = -1  # the decision count the index reflects
        self.revocations = 0
        self.cause = "start"  # why there is no index: the label of the rebuild metric

    def current(self, linked: int) -> StoryIndex | None:
        """The index, if it reflects the ``linked`` decisions the table counts now; else None (rebuild it)."""
        if self.index is not None and linked != self.linked:
            logger.info("story index dropped: the table counts %d decisions, the index %d", linked, self.linked)
            self.index, self.cause = None, "linked_elsewhere"
        return self.index

    def keep(self, index: StoryIndex, linked: int) -> None:
        self.index, self.linked = index, linked

    def drop(self, reason: str) -> None:
        """Give the index up after a failure inside it: the next article rebuilds it from the story table, which
        holds every decision taken (the index may be half-way through a change)."""
        logger.error("story index dropped, to be rebuilt from the table: %s", reason)
        self.index, self.cause = None, "failure"

    def revoked(self) -> None:
        self.revocations += 1


# The decisions table's one key that is no article id (ids are strings): how far linking got, whichever worker
# held the linking partition: the count of decisions taken and the next stories offset to link. Changelogged with
# the decisions, in the same write as each new decision, so each worker reads it back.
PROGRESS_KEY = 0


def linking_progress(decisions: Any) -> tuple[int, int | None]:
    """(decisions taken, next stories offset to link) per the decisions table; (0, None) for a new one."""
    stored = decisions.get(PROGRESS_KEY)
    if stored is None:
        return 0, None
    progress = codec.loads(stored)
    if isinstance(progress, int):  # written before the offset was kept beside the count
        return progress, None
    return progress["decisions"], progress["next_offset"]


def decision_count(decisions: Any) -> int:
    return linking_progress(decisions)[0]


def progress_after(decisions: Any, offset: int | None, new_decisions: int = 1) -> bytes:
    """The progress value once the record at ``offset`` is done with ``new_decisions`` taken for it (a record
    below the cursor, a redelivery, never moves it back)."""
    count, next_offset = linking_progress(decisions)
    if offset is not None and (next_offset is None or offset + 1 > next_offset):
        next_offset = offset + 1
    return progress_value(count + new_decisions, next_offset)


def progress_value(decisions: int, next_offset: int | None) -> bytes:
    """The stored form of ``linking_progress``."""
    return codec.dumps({"decisions": decisions, "next_offset": next_offset})


class LinkCursor:
    """Where linking stands on the stories partition, kept in the decisions table, and the records the consumer
    skipped before it.

    Faust can drop records it has fetched: those that reach a stream while a rebalance's recovery has flow
    control suspended are skipped without an ack, and its gap bookkeeping then commits past them (faust-streaming
    issues #596 and #606, open). Measured here: a successor worker took offset 85 of the stories topic, then 117;
    the 31 articles between were never linked nor published. The committed offset cannot be trusted for this,
    so the cursor is table state (``linking_progress``), written with each new decision: an owner after a restart
    or a rebalance reads it back, and when a record past it is handed over, the records between are read straight
    from the broker (``read_skipped``) and linked first, in order. It is written as the decision is taken, before
    its outputs are out: a record below the cursor is still linked when it comes (a redelivery republishes its
    kept decision), so a cursor ahead of the outputs loses nothing. Records that expired before anyone linked
    them (a cursor below the partition's first retained offset) are given up with a warning. Seeking the
    consumer back to the cursor and leaving the later records unacked until the skipped ones came again was the
    first design: a stop or a rebalance then waited for those records, as the raw topic's first ``ReadGaps`` did.
    """

    def __init__(self, decisions: Any, reads: Reads, metrics: WorkerMetrics) -> None:
        self.decisions, self.reads, self.metrics = decisions, reads, metrics

    def expected(self) -> int | None:
        return linking_progress(self.decisions)[1]

    def linked(self, offset: int) -> None:
        """The record at ``offset`` is done. A new decision moved the cursor already; a record without one (a
        redelivered article, an unreadable record, a linking failure) moves it here, or it would be read again
        and again."""
        count, expected = linking_progress(self.decisions)
        if expected is None or offset + 1 > expected:  # otherwise no write: the changelog gets no record
            self.decisions[PROGRESS_KEY] = progress_value(count, offset + 1)

    async def skipped(self, tp: Any, offset: int) -> AsyncIterator[Envelope]:
        """The records between the cursor and ``offset``, the one the consumer handed over, read from the broker
        in order (none when it is the next one, or one linked before); raises ``SkippedUnreadable``."""
        expected = self.expected()
        if expected is None or offset <= expected:
            return
        try:
            first_retained = await self.reads.first_retained(tp.topic, tp.partition)
        except Exception as exc:
            logger.critical("%s[%d] records %d..%d were skipped by the consumer, and where the partition starts "
                            "could not be read (%s: %s)", tp.topic, tp.partition, expected, offset - 1,
                            type(exc).__name__, exc)
            raise SkippedUnreadable(f"{tp.topic}[{tp.partition}] records {expected}..{offset - 1}") from exc
        if expected < first_retained:
            logger.warning("%s[%d] records %d..%d expired before they were linked; going on from %d", tp.topic,
                           tp.partition, expected, first_retained - 1, min(first_retained, offset))
            expected = first_retained
        if expected < offset:
            async for envelope in read_skipped(self.reads, self.metrics, tp, expected, offset):
                yield envelope


# An out-of-order article can re-root a story of tens of thousands of members. What it publishes and restates
# is bounded: its event and followup list this many moves (the old stories' roots first, since their relation
# changes) and count the rest in ``updates_left_out``; only the listed members' decisions are restated and
# published again now. A member left out is restated when its decision is next read (a redelivery). 100 moves
# keep an event near 10 KB, far below the record limit, and the restating near 10 ms; what stays linear in the
# story's size is moving it in the index and the table (~1 s per 100,000 members, measured).
MAX_RESTATED = 100


def link_messages(index: StoryIndex, table: Any, decisions: Any, article: Article, envelope: Envelope,
                  settings: Settings, config: LinkConfig, metrics: WorkerMetrics,
                  max_restated: int = MAX_RESTATED,
                  on_index_failure: Callable[[str], Any] = lambda reason: None) -> list[OutgoingMessage]:
    """Link one article: update the index and its tables, and say what to publish (article + follow-up event,
    then the restated decision of the first ``max_restated`` articles this one moved to another story).

    ``decisions`` keeps each published decision (JSON bytes of {followup, event}, and ``relinked``: the members
    whose links a split made by it took away) until its article leaves the index: a redelivered article gets the
    very same output again instead of being linked to itself (or, when a later article moved it to another story
    without restating it, its decision restated now). A linking failure must not cost the article: it is
    published unlinked, with a notice saying why. When it came once the index was being changed,
    ``on_index_failure`` is told why: the index may be half-changed, or no longer what the table holds.
    """
    moved: dict[str, dict[str, Any] | None] = {}  # the members this decision moved: as kept now (None: unreadable)
    relinked: dict[str, dict[str, Any]] = {}  # members left in their story that lost links to moved ones
    earlier = decisions.get(article.id)
    if earlier is not None:
        kept = kept_decision(earlier, article.id, metrics)
        if kept is None:  # delivered again, and what was decided for it cannot be read: it goes out unlinked
            return [unlinked_message(article, envelope, settings, "its kept decision could not be read")]
        kept = current_decision(index, decisions, article.id, kept)
        followup_plain, event = kept["followup"], kept["event"]
        # restated again when the crash came before the restatement was kept, else as kept
        relinked = relinked_members(index, decisions, event["updates"], metrics, kept.get("relinked", ()))
        for member_id, member in relinked.items():
            decisions[member_id] = keep_decision(member)
    else:
        started, changing = time.perf_counter(), False
        try:
            change, followup = link(index, article, config)  # pure: a failure here leaves the index as it was
            changing = True
            index.apply(change)
            write_change(table, index, change)
            if change.restory:
                metrics.story_changes.labels("merged").inc()
            if change.move:
                metrics.story_changes.labels("split").inc()
            for evicted in change.evict:
                decisions.pop(evicted, None)
            listed, left_out = bounded_updates(followup.updates, max_restated)
            followup = dataclasses.replace(followup, updates=listed)
            followup_plain, event = codec.to_plain(followup), followup_event(article, followup)
            if left_out:
                followup_plain["updates_left_out"] = event["updates_left_out"] = left_out
            story_of = story_in(index)
            for update in event["updates"]:
                member_id = update["article_id"]
                member = kept_decision(decisions.get(member_id), member_id, metrics)
                moved[member_id] = None if member is None else restated_decision(member, update, event, story_of)
            if change.move:
                relinked = relinked_members(index, decisions, event["updates"], metrics)
            kept = {"followup": followup_plain, "event": event}
            if relinked:
                kept["relinked"] = sorted(relinked)  # republished with this decision on a redelivery
            decisions[article.id] = keep_decision(kept)
            decisions[PROGRESS_KEY] = progress_after(decisions, envelope.origin.offset)
            for member_id, member in (*moved.items(), *relinked.items()):
                if member is not None:
                    decisions[member_id] = keep_decision(member)
        except Exception as exc:
            logger.exception("linking failed for article %s from %s", article.id, envelope.origin.describe())
            reason = f"linking failed: {type(exc).__name__}: {exc}"
            if changing:
                on_index_failure(reason)
            return [unlinked_message(article, envelope, settings, reason)]
        finally:
            metrics.observe_stage("followup", time.perf_counter() - started, 1)
    linked = dataclasses.replace(article, followup=followup_plain)
    messages = [
        OutgoingMessage(settings.topic_articles, article.id.encode(), codec.dumps(linked), envelope),
        OutgoingMessage(settings.topic_followups, event["story_id"].encode(), codec.dumps(event), envelope),
    ]
    # Earlier decisions this one changed go out again, as they stand now (a redelivery republishes them too:
    # the crash may have come before they were out).
    for update in event["updates"]:
        if update["article_id"] == article.id:
            continue  # a restated decision names its own move: its event above is already the current one
        member_id = update["article_id"]
        # read once per decision: restated just now, or (a redelivery) as kept
        member = moved[member_id] if member_id in moved else kept_decision(decisions.get(member_id), member_id,
                                                                            metrics)
        if member is None:  # evicted meanwhile (or unreadable): nothing left to correct
            logger.warning("no decision kept for %s, moved to story %s by %s", update["article_id"],
                           update["story_id"], article.id)
            continue
        restated = member["event"]
        messages.append(OutgoingMessage(settings.topic_followups, restated["story_id"].encode(),
                                        codec.dumps(restated), envelope))
    for member in relinked.values():
        messages.append(OutgoingMessage(settings.topic_followups, member["event"]["story_id"].encode(),
                                        codec.dumps(member["event"]), envelope))
    return messages


def relinked_members(index: StoryIndex, decisions: Any, updates: list[dict[str, Any]], metrics: WorkerMetrics,
                     members: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """The decisions of the members a split left in their story that link to articles it moved out of it, each
    restated by ``relinked_decision`` (to be kept so). On a redelivery, the decisions of ``members`` (those the
    split restated), each restated again (the crash may have come before it was kept) or else as kept.

    A kept member's links were made when the moved articles were in its story: it can only be in a story one of
    the moves left (their ``previous_story_id``), and a split weighs stories of at most ``LinkConfig.split_most``
    articles, so few decisions are read.
    """
    story_of, listed = story_in(index), members is not None
    if members is None:
        moved = {update["article_id"] for update in updates}
        members = sorted({member for update in updates if (story := index.story(update["previous_story_id"]))
                          for member in story.members if member not in moved})
    restated = {}
    for member_id in members:
        member = kept_decision(decisions.get(member_id), member_id, metrics)
        if member is not None and ((changed := relinked_decision(member, updates, story_of)) is not None or listed):
            restated[member_id] = changed or member
    return restated


def bounded_updates(updates: Sequence[StoryUpdate], most: int) -> tuple[tuple[StoryUpdate, ...], int]:
    """The first ``most`` of a decision's updates, the moved stories' roots first (their relation changes), and
    how many are left out.

    Pure.

    >>> moves = [StoryUpdate(member, "a", "m0") for member in ("m2", "m1", "m0")]
    >>> listed, left_out = bounded_updates(moves, 2)
    >>> [u.article_id for u in listed], left_out
    (['m0', 'm2'], 1)
    """
    if len(updates) <= most:
        return tuple(updates), 0
    roots = [u for u in updates if u.article_id == u.previous_story_id]
    others = (u for u in updates if u.article_id != u.previous_story_id)
    return (*roots[:most], *itertools.islice(others, max(most - len(roots), 0))), len(updates) - most


def unlinked_message(article: Article, envelope: Envelope, settings: Settings, reason: str) -> OutgoingMessage:
    """``article`` as it goes out when it could not be linked: without a followup, with a notice saying why."""
    notice = {"stage": "followup", "reason": reason}
    unlinked = dataclasses.replace(article, notices=(*article.notices, notice))
    return OutgoingMessage(settings.topic_articles, article.id.encode(), codec.dumps(unlinked), envelope)


def kept_decision(value: bytes | None, article_id: str, metrics: WorkerMetrics) -> dict[str, Any] | None:
    """The decision kept for ``article_id`` (its stored ``value``); None when none is kept or it cannot be read
    (logged and counted, and left as it is: the decision it belongs to goes on without it)."""
    if value is None:
        return None
    try:
        return read_decision(value)
    except Exception as exc:  # zlib, UTF-8 or JSON: a damaged value, or one a newer version wrote
        metrics.unreadable_state.labels("decisions").inc()
        logger.error("the decision kept for %s could not be read: %s: %s", article_id, type(exc).__name__, exc)
        return None


def current_decision(index: StoryIndex, decisions: Any, article_id: str, kept: dict[str, Any]) -> dict[str, Any]:
    """The kept decision of ``article_id``, restated (and kept so) when its story moved without restating it:
    a re-rooted story's members beyond the ``MAX_RESTATED`` first are corrected when read again."""
    entry = index.entries.get(article_id)
    if entry is None or entry.story_id == kept["event"]["story_id"]:
        return kept
    update = {"article_id": article_id, "story_id": entry.story_id, "previous_story_id": kept["event"]["story_id"]}
    kept = restated_decision(kept, update, {"article_id": entry.story_id, "links": []}, story_in(index))
    decisions[article_id] = keep_decision(kept)
    return kept


def story_in(index: StoryIndex) -> Callable[[str], str | None]:
    """The story an article is in now, as the index says (None: not indexed)."""

    def story_of(article_id: str) -> str | None:
        entry = index.entries.get(article_id)
        return None if entry is None else entry.story_id

    return story_of


def restated_decision(decision: dict[str, Any], update: dict[str, Any], cause: dict[str, Any],
                      story_of: Callable[[str], str | None] = lambda article_id: None) -> dict[str, Any]:
    """A kept decision ({followup, event}) after the article of event ``cause`` moved it to another story.

    Pure. The article keeps its links and new facts; it gets the new story id and the update saying so. When its
    story split, the links to articles now in the other story (``story_of`` an article, None when not known) are
    dropped. Its relation follows where it now stands in its story:
    - its story's first article (a split gave the part it is in its id): ``new_story``, with no new facts, its
      links to the later articles of its story ``same_story`` (or ``duplicate``, a near copy);
    - an article that had opened its story and no longer does: linked back to ``cause``'s article when that one
      linked to it, and ``duplicate`` when that one found it a near copy, else ``same_story``;
    - any other left with no link opens its story: ``new_story``, with no new facts and no evidence.

    >>> kept = {"followup": {"story_id": "b", "relation": "new_story", "links": [], "updates": []},
    ...         "event": {"article_id": "b", "story_id": "b", "relation": "new_story", "links": [], "updates": []}}
    >>> cause = {"article_id": "a", "links": [{"article_id": "b", "relation": "same_story", "score": 0.6}]}
    >>> update = {"article_id": "b", "story_id": "a", "previous_story_id": "b"}
    >>> event = restated_decision(kept, update, cause)["event"]
    >>> event["story_id"], event["relation"], event["links"]
    ('a', 'same_story', [{'article_id': 'a', 'relation': 'same_story', 'score': 0.6}])
    """
    own, links = decision["event"]["article_id"], decision["event"]["links"]
    changed = {"story_id": update["story_id"], "updates": [update]}
    if update["story_id"] == own:
        later = [{**x, "relation": "duplicate" if x["relation"] == "duplicate" else "same_story"}
                 for x in _links_within(links, own, story_of)]
        return _restated(decision, {**changed, "relation": "new_story", "links": later})
    if decision["event"]["relation"] == "new_story":
        found = [x for x in cause["links"] if x["article_id"] == update["article_id"]]
        relation = "duplicate" if any(x["relation"] == "duplicate" for x in found) else "same_story"
        back = [{"article_id": cause["article_id"], "relation": relation, "score": x["score"]} for x in found]
        return _restated(decision, {**changed, "relation": relation, "links": back + list(links)})
    return _restated(decision, changed, _links_within(links, update["story_id"], story_of))


def relinked_decision(decision: dict[str, Any], moves: list[dict[str, Any]],
                      story_of: Callable[[str], str | None]) -> dict[str, Any] | None:
    """A kept decision whose article stayed in its story when a split moved articles it links to out of it: the
    links to them dropped, and the moves that dropped them as its updates (None: it links to none of them).

    Pure. As in ``restated_decision``, an article left with no link opens its story.

    >>> kept = {"followup": {"story_id": "a", "relation": "same_story", "updates": [],
    ...                      "links": [{"article_id": "c", "relation": "same_story", "score": 0.3}]},
    ...         "event": {"article_id": "b", "story_id": "a", "relation": "same_story", "updates": [],
    ...                   "links": [{"article_id": "c", "relation": "same_story", "score": 0.3}]}}
    >>> moves = [{"article_id": "c", "story_id": "c", "previous_story_id": "a"}]
    >>> event = relinked_decision(kept, moves, {"a": "a", "b": "a", "c": "c"}.get)["event"]
    >>> event["story_id"], event["relation"], event["links"], [u["article_id"] for u in event["updates"]]
    ('a', 'new_story', [], ['c'])
    """
    story_id, links = decision["event"]["story_id"], decision["event"]["links"]
    kept = _links_within(links, story_id, story_of)
    if len(kept) == len(links):
        return None
    gone = {x["article_id"] for x in links} - {x["article_id"] for x in kept}
    return _restated(decision, {"updates": [move for move in moves if move["article_id"] in gone]}, kept)


def _links_within(links: list[dict[str, Any]], story_id: str, story_of: Callable[[str], str | None]
                  ) -> list[dict[str, Any]]:
    """The ``links`` to articles of ``story_id``, or to articles whose story is not known (no longer indexed)."""
    return [x for x in links if story_of(x["article_id"]) in (None, story_id)]


def _restated(decision: dict[str, Any], changed: dict[str, Any], links: list[dict[str, Any]] | None = None
              ) -> dict[str, Any]:
    """``decision`` with ``changed`` in its followup and event and, when given, only the ``links`` kept of its
    links (none kept: it opens its story). One that becomes ``new_story`` has no new facts, and one left with no
    link no evidence. The moves it had made itself are not restated: what it says now is why it changed."""
    if links is not None and len(links) < len(decision["event"]["links"]):
        changed = {**changed, "links": links}
        if not links:
            changed["relation"] = "new_story"
    in_followup: dict[str, Any] = {}
    in_event: dict[str, Any] = {}
    if changed.get("relation") == "new_story":
        in_followup["new_facts"] = []
        in_event["new_fact_count"] = 0
    if "links" in changed and not changed["links"]:
        in_followup["evidence"] = codec.to_plain(Evidence())
    followup, event = ({name: value for name, value in part.items() if name != "updates_left_out"}
                       for part in (decision["followup"], decision["event"]))
    return {"followup": {**followup, **changed, **in_followup}, "event": {**event, **changed, **in_event}}


def readiness(app: faust.App) -> dict[str, Any]:
    """Ready = the pipeline is built and this worker has input partitions assigned (and is not rebalancing)."""
    runtime: Runtime = app.newsworker  # type: ignore[attr-defined]
    raw = runtime.settings.topic_raw
    try:
        assigned = sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == raw)
    except Exception:  # the consumer is not started yet
        assigned = []
    ready = runtime.pipeline_ready and bool(assigned) and not app.rebalancing
    return {"ready": ready, "pipeline": runtime.pipeline_ready, "partitions": assigned,
            "rebalancing": bool(app.rebalancing)}


def _record_lag(app: faust.App, metrics: WorkerMetrics, events: Iterable[Any]) -> None:
    last: dict[Any, int] = {}
    for event in events:
        message = event.message
        last[message.tp] = max(last.get(message.tp, -1), message.offset)
    for tp, offset in last.items():
        try:
            highwater = app.consumer.highwater(tp)
        except Exception:  # no fetch response for this partition yet: lag unknown
            continue
        if highwater is not None:
            metrics.lag.labels(tp.topic, str(tp.partition)).set(max(highwater - offset - 1, 0))


def run_worker(settings: Settings, create_topics: bool = True,
               pipeline_factory: PipelineFactory = build_pipeline) -> int:
    """Run the worker in this process until stopped (SIGTERM/SIGINT); returns the exit code.

    Topics are created first: Faust would otherwise let the broker auto-create the input topic with its own
    partition count.
    """
    from worker.kafka.topics import create_topics_sync
    from worker.security import describe_connection

    logger.info("newsworker %s: %s, profile %s", settings.app_id, describe_connection(settings), settings.profile)
    if create_topics:
        try:
            for name, state in create_topics_sync(settings).items():
                logger.info("topic %s: %s", name, state)
        except Exception as exc:  # e.g. no CREATE permission: the topics may well exist already
            logger.warning("could not create topics (%s: %s); continuing with the existing ones",
                           type(exc).__name__, exc)
    # Faust creates only the last level of its data directory.
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    app = create_app(settings, pipeline_factory)
    # Faust's banner and progress spinner are plain text on the console: off when logs must be JSON lines.
    worker = faust.Worker(app, loglevel=settings.log_level, override_logging=False, quiet=settings.log_json)
    if settings.log_json:
        worker.spinner = None  # Faust makes one whatever ``quiet`` says; it writes terminal escapes on stop
    # What exists by now (modules, the app, its agents, tables and topics) lives as long as the process. Frozen
    # out of the cyclic garbage collector, it is no longer visited by the collector's full passes, each of which
    # stops the event loop. `newsworker bench link --no-freeze` tracks 87,422 objects before it builds anything,
    # nearly all from its imports, and its full passes take tens of milliseconds more than with the freeze.
    gc.collect()
    gc.freeze()
    try:
        worker.execute_from_commandline()
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0
