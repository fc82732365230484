"""One real worker for the integration tests: ``newsworker worker`` as a subprocess on the session broker.

A subprocess runs the worker exactly as the container does (CLI, settings from NEWSWORKER_* variables, Faust
worker, signal handling), and a stop is a real SIGTERM. It is started once per session because every consumer
group join on the embedded broker costs half the session timeout; tests tell their messages apart by id and
by the offsets they were written at, never by timing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka.structs import RecordMetadata

from worker import codec
from worker.decode import decode
from worker.kafka.broker import free_port
from worker.kafka.clients import RawMessage, follow, publish
from worker.kafka.topics import create_topics_sync
from worker.records import Envelope, InputRejected
from worker.settings import Settings

READY_TIMEOUT_S = 90.0


def settings_environment(settings: Settings) -> dict[str, str]:
    """The NEWSWORKER_* variables that reproduce ``settings`` in a child process."""
    env = {}
    for name, value in settings.model_dump(exclude_none=True).items():
        env[f"NEWSWORKER_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


@dataclass
class WorkerProcess:
    settings: Settings
    process: subprocess.Popen[bytes]
    log: Path
    base_url: str

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_worker(settings: Settings, log: Path) -> WorkerProcess:
    env = {**os.environ, **settings_environment(settings), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "worker", "worker"], env=env, stdin=subprocess.DEVNULL,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    worker = WorkerProcess(settings, process, log, f"http://127.0.0.1:{settings.web_port}")
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"worker exited with {process.returncode}:\n{worker.log_tail()}")
        try:
            if worker.get("/ready")[0] == 200:
                return worker
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    stop_worker(worker)
    raise AssertionError(f"worker not ready within {READY_TIMEOUT_S:.0f} s:\n{worker.log_tail()}")


def stop_worker(worker: WorkerProcess, timeout: float = 60.0) -> int:
    if worker.process.poll() is None:
        worker.process.send_signal(signal.SIGTERM)
        try:
            worker.process.wait(timeout)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
            raise AssertionError(f"worker ignored SIGTERM for {timeout:.0f} s:\n{worker.log_tail()}")
    return worker.process.returncode


@pytest.fixture(scope="session")
def worker_settings(settings_for: Callable[..., Settings]) -> Settings:
    prefix = f"w{uuid.uuid4().hex[:8]}"
    settings = settings_for(prefix, web_enabled=True, web_host="127.0.0.1", web_port=free_port(),
                                 data_dir=f"/tmp/newsworker-tests/{prefix}")
    create_topics_sync(settings)
    return settings


@pytest.fixture(scope="session")
def running_worker(worker_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    worker = start_worker(worker_settings, tmp_path_factory.mktemp("worker") / "worker.log")
    yield worker
    code = stop_worker(worker)
    assert code == 0, f"worker exited with {code} on SIGTERM:\n{worker.log_tail()}"


# --------------------------------------------------------------------------------------------- exchanges


@dataclass
class Sent:
    message: RawMessage
    where: RecordMetadata
    source_id: str | None  # the id its articles will carry, None when it cannot decode


@dataclass
class Exchange:
    """What a test published and everything the worker produced for exactly those inputs."""

    sent: list[Sent]
    articles: list[tuple[bytes | None, dict]] = field(default_factory=list)  # (key, body)
    dead_letters: list[tuple[bytes | None, dict]] = field(default_factory=list)

    def articles_of(self, sent: Sent) -> list[dict]:
        """The articles of one input in page order (they are keyed by their own ids, so partitions differ)."""
        return sorted((body for _, body in self.articles if body["source_id"] == sent.source_id),
                      key=lambda body: body["part"])

    def dead_letters_of(self, sent: Sent) -> list[dict]:
        return [body for _, body in self.dead_letters
                if (body["source"]["partition"], body["source"]["offset"]) == (sent.where.partition, sent.where.offset)]

    def resolved(self, sent: Sent) -> bool:
        return bool(self.articles_of(sent) or self.dead_letters_of(sent))


def _source_id(message: RawMessage) -> str | None:
    try:
        return decode(Envelope(value=message.value, key=message.key, headers=message.headers)).id
    except InputRejected:
        return None


async def exchange(settings: Settings, messages: Sequence[RawMessage], timeout: float = 60.0,
                   done: Callable[[Exchange], bool] | None = None) -> Exchange:
    """Publish ``messages`` to the raw topic, then collect outputs until every input has come out (or ``done``)."""
    where = await publish(settings, settings.topic_raw, messages)
    result = Exchange([Sent(m, w, _source_id(m)) for m, w in zip(messages, where)])
    wanted_ids = {s.source_id for s in result.sent if s.source_id}
    wanted_offsets = {(s.where.partition, s.where.offset) for s in result.sent}

    async def collect() -> None:
        async for record in follow(settings, [settings.topic_articles, settings.topic_deadletter]):
            body = codec.loads(record.value)
            if record.topic == settings.topic_articles and body.get("source_id") in wanted_ids:
                result.articles.append((record.key, body))
            elif record.topic == settings.topic_deadletter and (
                body["source"]["topic"] == settings.topic_raw
                and (body["source"]["partition"], body["source"]["offset"]) in wanted_offsets
            ):
                result.dead_letters.append((record.key, body))
            if done(result) if done else all(result.resolved(s) for s in result.sent):
                return

    try:
        await asyncio.wait_for(collect(), timeout)
    except asyncio.TimeoutError:
        missing = [s for s in result.sent if not result.resolved(s)]
        raise AssertionError(f"{len(missing)} of {len(result.sent)} inputs produced nothing within {timeout:.0f} s: "
                             f"{[m.message.value[:60] for m in missing]}") from None
    return result
