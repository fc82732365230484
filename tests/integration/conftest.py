"""One real worker for the integration tests: ``newsworker worker`` as a subprocess on the session broker.

A subprocess runs the worker exactly as the container does (CLI, settings from NEWSWORKER_* variables, Faust
worker, signal handling), and a stop is a real SIGTERM. It is started once per session because every consumer
group join on the embedded broker costs half the session timeout; tests tell their messages apart by id and
by the offsets they were written at, never by timing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator, Sequence

import pytest
from aiokafka import AIOKafkaConsumer

from worker import codec
from worker.kafka.broker import free_port
from worker.kafka.clients import OutputTracker, RawMessage, follow, publish
from worker.kafka.process import WorkerProcess
from worker.kafka.topics import create_topics_sync
from worker.security import aiokafka_options
from worker.settings import Settings

from schema_check import schema_errors

READY_TIMEOUT_S = 90.0


@pytest.fixture(autouse=True)
def outputs_follow_their_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every article and dead letter a test collects through an ``OutputTracker`` is checked against its schema
    file. The tests that read outputs another way check them there: ``OutputReader`` in test_followups (articles,
    follow-up events, dead letters), test_redelivery's direct read and test_worker_stream's
    assert_valid. At the end of the session everything on the output topics is checked once more."""
    take = OutputTracker.add

    def checked(self: OutputTracker, record):  # type: ignore[no-untyped-def]
        output = take(self, record)
        if output is not None:
            name = "article" if record.topic == self.settings.topic_articles else "deadletter"
            assert not (errors := schema_errors(name, output.body)), errors
        return output

    monkeypatch.setattr(OutputTracker, "add", checked)


# the output topics downstream services read, by the suffix every test's settings give them (tests/conftest.py)
_OUTPUT_SCHEMAS = {".articles": "article", ".followups": "followup", ".deadletter": "deadletter"}


@pytest.fixture(scope="session", autouse=True)
def every_output_on_the_session_broker_follows_its_schema(settings_for: Callable[..., Settings]) -> Iterator[None]:
    """At the end of the session, every message on every output topic of the session broker is checked against
    its schema file, whichever test made it and whether or not the test read it (most tests never read the
    follow-up events their worker publishes)."""
    yield
    errors = asyncio.run(_output_schema_errors(settings_for("schema-sweep")))
    assert not errors, f"{len(errors)} output messages break their schema, e.g. {errors[:10]}"


async def _output_schema_errors(settings: Settings) -> list[str]:
    consumer = AIOKafkaConsumer(**aiokafka_options(settings))
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if t.endswith(tuple(_OUTPUT_SCHEMAS)))
    finally:
        await consumer.stop()
    if not topics:
        return []
    errors: list[str] = []
    read = 0
    async for record in follow(settings, topics, idle_timeout=3):
        read += 1
        name = next(schema for suffix, schema in _OUTPUT_SCHEMAS.items() if record.topic.endswith(suffix))
        try:
            body = codec.loads(record.value)
        except ValueError as exc:
            errors.append(f"{record.topic}@{record.partition}:{record.offset}: not JSON ({exc})")
            continue
        errors += [f"{record.topic}@{record.partition}:{record.offset}: {e}" for e in schema_errors(name, body)]
    print(f"schema sweep: {read} messages on {len(topics)} output topics, {len(errors)} errors")
    return errors


@pytest.fixture(scope="session")
def worker_settings(settings_for: Callable[..., Settings], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    prefix = f"w{uuid.uuid4().hex[:8]}"
    settings = settings_for(prefix, web_enabled=True, web_host="127.0.0.1", web_port=free_port(),
                            data_dir=str(tmp_path_factory.mktemp("worker-data")), log_json=True)
    create_topics_sync(settings)
    return settings


@pytest.fixture(scope="session")
def running_worker(worker_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(worker_settings, tmp_path_factory.mktemp("worker") / "worker.log").start()
    try:
        worker.wait_ready(READY_TIMEOUT_S)
        yield worker
    finally:
        code = worker.stop()
    # A clean exit on SIGTERM: the batch in flight finished and the offsets were committed.
    assert code == 0, f"worker exited with {code} on SIGTERM:\n{worker.log_tail()}"


# --------------------------------------------------------------------------------------------- exchanges


async def exchange(settings: Settings, messages: Sequence[RawMessage], timeout: float = 60.0,
                   done: Callable[[OutputTracker], bool] | None = None) -> OutputTracker:
    """Publish ``messages`` to the raw topic, then collect outputs until every input has come out (or ``done``)."""
    where = await publish(settings, settings.topic_raw, messages)
    result = OutputTracker.for_messages(settings, messages, where)

    async def collect() -> None:
        async for record in follow(settings, [settings.topic_articles, settings.topic_deadletter]):
            result.add(record)
            if done(result) if done else not result.pending():
                return

    try:
        await asyncio.wait_for(collect(), timeout)
    except asyncio.TimeoutError:
        missing = result.pending()
        raise AssertionError(f"{len(missing)} of {len(result.sent)} inputs produced nothing within {timeout:.0f} s: "
                             f"{[m.message.value[:60] for m in missing]}") from None
    return result
