"""The Faust app: one agent that reads raw articles in batches, runs the pipeline, and publishes what comes out.

The agent only wires: Kafka records → ``Envelope`` → ``Pipeline.run`` (in a one-thread executor, so the CPU-bound
NER model never blocks heartbeats) → ``route_outcomes`` (pure: which message goes to which topic) → ``publish``
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
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import faust
from aiokafka.errors import KafkaTimeoutError
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from worker import codec
from worker.deadletter import dead_letter
from worker.kafka.broker import free_port
from worker.pipeline import Outcome, Pipeline, StageObserver, build_pipeline
from worker.records import Envelope, Origin, Rejection, RejectCode
from worker.security import faust_credentials
from worker.settings import Settings

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


def route_outcomes(outcomes: Sequence[Outcome], settings: Settings, failed_at: datetime) -> list[OutgoingMessage]:
    """Outcomes → messages: each article to the articles topic keyed by its id, each rejection to the dead letters.

    Pure. reads: Outcome.articles, Outcome.rejection — writes: the messages the worker publishes.
    """
    messages: list[OutgoingMessage] = []
    for outcome in outcomes:
        if outcome.rejection is not None:
            messages.append(dead_letter_message(outcome.envelope, outcome.rejection, settings, failed_at))
            continue
        for article in outcome.articles:
            messages.append(OutgoingMessage(settings.topic_articles, article.id.encode(), codec.dumps(article),
                                            outcome.envelope))
    return messages


def dead_letter_message(envelope: Envelope, rejection: Rejection, settings: Settings,
                        failed_at: datetime) -> OutgoingMessage:
    body = dead_letter(envelope, rejection, failed_at, settings.app_id)
    return OutgoingMessage(settings.topic_deadletter, body["id"].encode(), codec.dumps(body), envelope,
                           dead_letter_code=str(rejection.code))


def envelope_from_message(message: Any) -> Envelope:
    """A Faust ``Message`` (one Kafka record) → ``Envelope``, bytes untouched."""
    headers = message.headers or ()
    if isinstance(headers, dict):
        headers = headers.items()
    timestamp = message.timestamp
    return Envelope(
        value=message.value,
        key=message.key,
        headers=tuple((str(name), bytes(value or b"")) for name, value in headers),
        origin=Origin(topic=message.topic, partition=message.partition, offset=message.offset,
                      timestamp_ms=int(timestamp * 1000) if timestamp is not None else None),
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


class Runtime:
    """What the agent needs besides Faust: the pipeline (built once, off the loop), metrics, the publisher."""

    def __init__(self, settings: Settings, pipeline_factory: PipelineFactory, publisher: Publisher,
                 metrics: WorkerMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.publisher = publisher
        self._pipeline_factory = pipeline_factory
        # One thread: the pipeline is built and always run on it, so its models never see two threads.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pipeline")
        self._pipeline: asyncio.Future[Pipeline] | None = None

    @property
    def pipeline_ready(self) -> bool:
        return self._pipeline is not None and self._pipeline.done() and self._pipeline.exception() is None

    def pipeline(self) -> asyncio.Future[Pipeline]:
        """The pipeline, built on first call in the executor (loading models takes seconds)."""
        if self._pipeline is None:
            loop = asyncio.get_running_loop()
            self._pipeline = asyncio.ensure_future(loop.run_in_executor(
                self._executor, self._pipeline_factory, self.settings, self.metrics.observe_stage))
        return self._pipeline

    async def process(self, envelopes: Sequence[Envelope]) -> list[OutgoingMessage]:
        """Run the pipeline on a batch off the event loop and route the outcomes. Never raises for bad data."""
        self.metrics.batch_size.observe(len(envelopes))
        for envelope in envelopes:
            self.metrics.consumed.labels(envelope.origin.topic or "").inc()
        pipeline = await self.pipeline()
        loop = asyncio.get_running_loop()
        now = datetime.now(timezone.utc)
        try:
            outcomes = await loop.run_in_executor(self._executor, pipeline.run, envelopes)
        except Exception as exc:  # Pipeline.run promises not to raise; if it does anyway, nothing is lost
            logger.exception("pipeline failed on a batch of %d from %s", len(envelopes), _span(envelopes))
            rejection = Rejection(RejectCode.PROCESSING_ERROR, f"pipeline failed: {type(exc).__name__}: {exc}")
            return [dead_letter_message(e, rejection, self.settings, now) for e in envelopes]
        for outcome in outcomes:
            if outcome.rejection is not None:
                logger.info("rejected %s: %s: %s", outcome.envelope.origin.describe(), outcome.rejection.code,
                            outcome.rejection.reason)
        return route_outcomes(outcomes, self.settings, now)

    async def handle_batch(self, envelopes: Sequence[Envelope]) -> None:
        """Process and publish one batch: what the agent does with each batch it takes."""
        started = time.perf_counter()
        messages = await self.process(envelopes)
        processed = time.perf_counter()
        await self.publisher.publish(messages)
        logger.debug("batch of %d from %s → %d messages: processed in %.3f s, published in %.3f s",
                     len(envelopes), _span(envelopes), len(messages), processed - started,
                     time.perf_counter() - processed)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


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
    }
    if settings.profile == "dev":
        # The embedded broker reports a wrong end offset for multi-record batches (see the README).
        options["producer_max_batch_size"] = 1
    return options


def create_app(settings: Settings, pipeline_factory: PipelineFactory = build_pipeline,
               sender: Callable[[], Sender] | None = None) -> faust.App:
    """The worker's Faust app. ``app.newsworker`` is its :class:`Runtime`; ``sender`` replaces the producer in tests."""
    app = faust.App(settings.app_id, **faust_options(settings))
    metrics = WorkerMetrics()
    publisher = Publisher(sender or (lambda: app.producer), settings, metrics)
    runtime = Runtime(settings, pipeline_factory, publisher, metrics)
    app.newsworker = runtime  # type: ignore[attr-defined]
    raw_topic = app.topic(settings.topic_raw, key_type=bytes, value_type=bytes,
                          key_serializer="raw", value_serializer="raw", partitions=settings.partitions_raw)

    @app.agent(raw_topic, name="enrich")
    async def enrich(stream: faust.StreamT) -> None:
        """reads: raw records — writes: articles and dead letters; acks a batch only once its outputs are out."""
        # noack_take: Faust's take() would ack a batch even when publishing it failed; here acks are ours.
        async for events in stream.noack_take(settings.batch_size, within=settings.batch_timeout):
            envelopes = [envelope_from_message(event.message) for event in events]
            # Shielded so a stop or rebalance lets the batch finish (Faust waits for unacked events).
            work = asyncio.ensure_future(runtime.handle_batch(envelopes))
            try:
                await asyncio.shield(work)
            except asyncio.CancelledError:
                await asyncio.wait([work])
                raise
            except PublishFailed as exc:
                # The broker is gone for good: leave the batch unacknowledged (it is re-delivered after a
                # restart) and stop the worker so the orchestrator restarts it.
                logger.critical("giving up on batch %s: %s", _span(envelopes), exc)
                await app.crash(exc)
                return
            except Exception as exc:  # never expected (process() dead-letters data errors); kept as a last guard
                logger.exception("batch %s failed", _span(envelopes))
                now = datetime.now(timezone.utc)
                rejection = Rejection(RejectCode.PROCESSING_ERROR, f"worker failed: {type(exc).__name__}: {exc}")
                try:
                    await publisher.publish([dead_letter_message(e, rejection, settings, now) for e in envelopes])
                except PublishFailed as fatal:
                    logger.critical("giving up on batch %s: %s", _span(envelopes), fatal)
                    await app.crash(fatal)
                    return
            for event in events:
                await stream.ack(event)
            _record_lag(app, metrics, events)

    app.newsworker_agent = enrich  # type: ignore[attr-defined]

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
    worker = faust.Worker(app, loglevel=settings.log_level, override_logging=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0
