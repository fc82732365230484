"""At-least-once across a crash and a stop, on topics of its own (no other worker reads them).

Worker A works through a backlog and is killed (SIGKILL: a crash, nothing committed since its last periodic
commit). Worker B, same consumer group, takes over from the committed offsets, so the records A had already
published are delivered again: their articles must come out with the same ids and bodies. B is then stopped
with SIGTERM while still busy: it must exit 0, and every raw record below the offsets it committed must have
its article published, or handed on to the internal linking topic (linked by the next worker to start).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from worker import codec
from worker.kafka.broker import free_port
from worker.kafka.clients import RawMessage, follow, publish
from worker.kafka.process import WorkerProcess
from worker.kafka.topics import create_topics, stories_topic
from worker.security import aiokafka_options
from worker.settings import Settings

from schema_check import schema_errors

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BACKLOG = 3000


async def _until_busy(worker: WorkerProcess, settings: Settings, articles: int) -> None:
    deadline = time.monotonic() + 90
    while worker.process.poll() is None and worker.produced(settings.topic_articles) < articles:
        if time.monotonic() >= deadline:
            # Whether it fetched nothing or published nothing of what it fetched tells a stalled consumer from a
            # stalled agent. The whole log stays in the test's temporary folder (pyproject: pytest keeps those
            # of failed tests).
            raise AssertionError(f"{worker.produced(settings.topic_articles):.0f} articles published, "
                                 f"{worker.consumed(settings.topic_raw):.0f} raw records consumed in 90 s; "
                                 f"log {worker.log}:\n{worker.log_tail()}")
        await asyncio.sleep(0.02)
    assert worker.process.poll() is None, f"the worker exited with {worker.process.returncode}:\n{worker.log_tail()}"


async def _committed(settings) -> dict[int, int]:
    # The consumer API rather than the admin one: the embedded broker answers the admin's OffsetFetch version
    # with a layout aiokafka cannot parse, while the consumer's (the one Faust uses on restart) works.
    consumer = AIOKafkaConsumer(group_id=settings.app_id, enable_auto_commit=False, **aiokafka_options(settings))
    await consumer.start()
    try:
        committed = {p: await consumer.committed(TopicPartition(settings.topic_raw, p))
                     for p in range(settings.partitions_raw)}
    finally:
        await consumer.stop()
    return {p: offset for p, offset in committed.items() if offset is not None}


async def test_crash_redelivers_with_the_same_ids_and_sigterm_loses_nothing(settings_for, topic_prefix, tmp_path):
    settings = settings_for(topic_prefix, web_enabled=True, web_host="127.0.0.1", data_dir=str(tmp_path))
    await create_topics(settings)
    messages = [RawMessage(json.dumps({"id": f"item-{n}", "text": f"Item {n} was reported on Friday by the clerk."})
                           .encode(), key=f"item-{n}".encode()) for n in range(BACKLOG)]
    where = await publish(settings, settings.topic_raw, messages)

    crashed = WorkerProcess(settings.model_copy(update={"web_port": free_port()}), tmp_path / "a.log").start()
    try:
        await asyncio.to_thread(crashed.wait_ready)
        await _until_busy(crashed, settings, 100)
    finally:
        crashed.process.send_signal(signal.SIGKILL)
        crashed.process.wait()

    stopped = WorkerProcess(settings.model_copy(update={"web_port": free_port()}), tmp_path / "b.log").start()
    try:
        await asyncio.to_thread(stopped.wait_ready)
        await _until_busy(stopped, settings, 100)
    finally:
        code = await asyncio.to_thread(stopped.stop)
    assert code == 0, stopped.log_tail()

    committed = await _committed(settings)
    articles: dict[str, list[dict]] = {}
    handed_on: set[str] = set()  # enriched, on the internal topic, linked when the next worker starts
    async for record in follow(settings, [settings.topic_articles, settings.topic_deadletter,
                                          stories_topic(settings)], idle_timeout=2):
        body = codec.loads(record.value)
        assert record.topic != settings.topic_deadletter, body["error"]
        assert not (errors := schema_errors("article", body)), errors  # the stories topic carries articles too
        if record.topic == settings.topic_articles:
            articles.setdefault(body["source_id"], []).append(body)
        else:
            handed_on.add(body["source_id"])

    below = [n for n, w in enumerate(where) if w.offset < committed.get(w.partition, 0)]
    assert below and len(below) < BACKLOG, f"committed {committed}: the stop did not come mid-backlog"
    lost = [n for n in below if f"item-{n}" not in articles and f"item-{n}" not in handed_on]
    assert not lost, f"{len(lost)} records below the committed offsets were dropped, e.g. {lost[:5]}"
    repeated = {source: copies for source, copies in articles.items() if len(copies) > 1}
    assert repeated, "the crash caused no redelivery: nothing was checked"
    for copies in repeated.values():
        assert all(copy == copies[0] for copy in copies)  # same id, same body
