"""``newsworker worker`` as a child process: the demo, the benchmark and the integration tests start it so.

A child process runs the worker exactly as the container does (settings from NEWSWORKER_* variables, the Faust
worker, its signal handling); stopping it is a real SIGTERM, which finishes the batch in flight and commits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from worker.settings import Settings


class WorkerStartError(RuntimeError):
    """The worker exited or did not become ready in time; the message ends with its last log lines."""


def settings_environment(settings: Settings) -> dict[str, str]:
    """The NEWSWORKER_* variables that reproduce ``settings`` in a child process (secrets included)."""
    env = {}
    for name, value in settings.model_dump(exclude_none=True).items():
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"NEWSWORKER_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def sample_matches(line: str, name: str, labels: dict[str, str]) -> bool:
    """Whether one line of the Prometheus text format is a sample of ``name`` carrying all of ``labels``.

    >>> sample_matches('x_total{topic="a",code="b"} 3.0', "x_total", {"topic": "a"})
    True
    >>> sample_matches('x_total{topic="ab"} 3.0', "x_total", {"topic": "a"}), sample_matches("x_total 1.0", "x", {})
    (False, False)
    """
    return any(True for _ in _matching(line + "\n", name, labels))


def _matching(text: str, name: str, labels: dict[str, str]) -> Iterator[float]:
    """The values of the samples of ``name`` in Prometheus ``text`` that carry all of ``labels``."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                yield sample.value


class WorkerProcess:
    """A worker child process with its web server on ``settings.web_host:web_port`` (needed for readiness)."""

    def __init__(self, settings: Settings, log: Path) -> None:
        if not settings.web_enabled or not settings.web_port:
            raise ValueError("a worker child process needs its web server on a fixed port to report readiness")
        self.settings = settings
        self.log = log
        host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "") else settings.web_host
        self.base_url = f"http://{host}:{settings.web_port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        env = {**os.environ, **settings_environment(self.settings), "PYTHONUNBUFFERED": "1"}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "worker", "worker"], env=env,
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            # Its own session: a Ctrl-C in the terminal reaches only the
                                            # parent, which then stops the worker in order.
                                            start_new_session=True)
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def get(self, path: str) -> tuple[int, bytes]:
        """GET one of the worker's web routes: (status, body)."""
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples on the worker's /metrics whose labels include ``labels``; 0 when the
        worker has none yet (a counter appears with its first increment)."""
        status, body = self.get("/metrics")
        if status != 200:
            return 0.0
        return sum(_matching(body.decode(), name, labels))

    def produced(self, topic: str) -> float:
        """Messages the worker has published to ``topic`` (its /metrics: cheaper than consuming them)."""
        return self.metric("newsworker_produced_messages_total", topic=topic)

    def consumed(self, topic: str) -> float:
        """Records the worker has consumed from ``topic`` (its /metrics)."""
        return self.metric("newsworker_consumed_messages_total", topic=topic)

    def wait_ready(self, timeout: float = 90.0, tick: Callable[[], None] | None = None) -> float:
        """Block until ``/ready`` answers 200; returns the seconds waited. ``tick`` is called about every 0.25 s."""
        assert self.process is not None, "start() first"
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise WorkerStartError(f"the worker exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if self.get("/ready")[0] == 200:
                    return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if tick:
                tick()
            time.sleep(0.25)
        raise WorkerStartError(f"the worker was not ready within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, wait for the clean exit (kill after ``timeout``); returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
