"""Graceful shutdown against the real broker: a clean stop loses nothing and duplicates nothing.

A backlog of raw records (articles and broken inputs) is published; a worker starts on it and gets SIGTERM
while it is part way through. It must exit 0 well within the Kubernetes grace period (the batch in flight
finished and published, its offsets committed, the group left). A second worker in the same consumer group then
takes over from the committed offsets and the linking cursor (in about half the runs Faust drops some of the
stories records the successor fetches while it recovers, and commits past them: ``LinkCursor`` reads them
from the broker; without it those articles are lost). At the end, counted by source id on the articles topic and by source
offset on the dead-letter topic, every input has exactly one output: none lost, none published twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import yaml

from worker.kafka.broker import free_port
from worker.kafka.clients import OutputTracker, RawMessage, follow, publish
from worker.kafka.process import WorkerProcess
from worker.kafka.topics import create_topics
from worker.settings import Settings

from schema_check import assert_valid

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BACKLOG = 1200
BROKEN_EVERY = 10  # every tenth input cannot be decoded: it must come out as exactly one dead letter
STOP_AFTER_ARTICLES = 80  # SIGTERM once this many articles are out: part way through the backlog


def grace_period_s() -> float:
    """What Kubernetes gives a pod between SIGTERM and SIGKILL (deploy/k8s/deployment.yaml)."""
    deployment = yaml.safe_load((ROOT / "deploy" / "k8s" / "deployment.yaml").read_text())
    return float(deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"])


def backlog() -> list[RawMessage]:
    messages = []
    for n in range(BACKLOG):
        if n % BROKEN_EVERY == BROKEN_EVERY - 1:
            messages.append(RawMessage(f'{{"id": "stop-{n}", "text": '.encode(), key=f"stop-{n}".encode()))
            continue
        text = (f"The council of ward {n} approved a budget of {n + 100} thousand pounds on Tuesday. "
                f"The vote was {n % 7 + 5} to {n % 5}, the clerk said.")
        messages.append(RawMessage(json.dumps({"id": f"stop-{n}", "text": text}).encode(), key=f"stop-{n}".encode()))
    return messages


async def wait_until(condition, worker: WorkerProcess, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert worker.process.poll() is None, f"the worker exited while {what}:\n{worker.log_tail()}"
        assert time.monotonic() < deadline, f"not {what} within {timeout:.0f} s:\n{worker.log_tail()}"
        await asyncio.sleep(0.05)


async def collect_outputs(settings: Settings, outputs: OutputTracker) -> OutputTracker:
    """Everything on the articles and dead-letter topics, read from the start once no worker is running."""
    async for record in follow(settings, [settings.topic_articles, settings.topic_deadletter], idle_timeout=2):
        outputs.add(record)
    return outputs


async def every_input_resolved(settings: Settings, outputs: OutputTracker) -> None:
    """Follow the outputs until every input has at least one (duplicates are counted after the stop)."""
    async for record in follow(settings, [settings.topic_articles, settings.topic_deadletter]):
        outputs.add(record)
        if not outputs.pending():
            return


def output_counts(outputs: OutputTracker) -> list[int]:
    return [len(outputs.articles_of(sent)) + len(outputs.dead_letters_of(sent)) for sent in outputs.sent]


async def test_sigterm_mid_backlog_then_restart_gives_every_input_exactly_one_output(settings_for, topic_prefix,
                                                                                   tmp_path):
    settings = settings_for(topic_prefix, web_enabled=True, web_host="127.0.0.1", data_dir=str(tmp_path / "data"))
    await create_topics(settings)
    messages = backlog()
    where = await publish(settings, settings.topic_raw, messages)

    first = WorkerProcess(settings.model_copy(update={"web_port": free_port()}), tmp_path / "first.log").start()
    try:
        await asyncio.to_thread(first.wait_ready)
        await wait_until(lambda: first.produced(settings.topic_articles) >= STOP_AFTER_ARTICLES, first, 90, "busy")
    finally:
        stopping = time.monotonic()
        code = await asyncio.to_thread(first.stop, grace_period_s())
        stop_seconds = time.monotonic() - stopping
    assert code == 0, f"exit code {code} on SIGTERM:\n{first.log_tail()}"
    # Half the grace period at most, so a loaded node still has room before Kubernetes sends SIGKILL.
    assert stop_seconds < grace_period_s() / 2, f"the stop took {stop_seconds:.1f} s"

    after_first = output_counts(await collect_outputs(settings, OutputTracker.for_messages(settings, messages, where)))
    assert 0 < sum(after_first) < BACKLOG, f"{sum(after_first)} of {BACKLOG} out: the stop was not mid-backlog"

    second = WorkerProcess(settings.model_copy(update={"web_port": free_port()}), tmp_path / "second.log").start()
    try:
        await asyncio.to_thread(second.wait_ready)
        tracker = OutputTracker.for_messages(settings, messages, where)
        try:
            await asyncio.wait_for(every_input_resolved(settings, tracker), timeout=90)
        except asyncio.TimeoutError:
            pending = tracker.pending()
            raise AssertionError(f"{len(pending)} inputs without output after 90 s, e.g. "
                                 f"{[(s.source_id, s.where.partition, s.where.offset) for s in pending[:8]]}")
    finally:
        code = await asyncio.to_thread(second.stop, grace_period_s())
    assert code == 0, second.log_tail()

    outputs = await collect_outputs(settings, OutputTracker.for_messages(settings, messages, where))
    for article in outputs.articles:
        assert_valid("article", article.body)
    for letter in outputs.dead_letters:
        assert_valid("deadletter", letter.body)
    counts = output_counts(outputs)
    lost = [n for n, count in enumerate(counts) if count == 0]
    repeated = [n for n, count in enumerate(counts) if count > 1]
    assert not lost, f"{len(lost)} inputs have no output, e.g. stop-{lost[:5]}"
    assert not repeated, f"{len(repeated)} inputs came out more than once, e.g. stop-{repeated[:5]}"
