"""The pipeline's child process (ProcessHost): a crash in it costs only the input that caused it, and it does
not outlive a worker that was killed.

The children are real spawned processes running a small pipeline defined here (no model: a stage that kills
its own process on one marked input), so the tests exercise the pool, the restart and the watchdog themselves.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from worker.app import ProcessHost
from worker.decode import InputLimits
from worker.normalize import NormalizeConfig
from worker.pipeline import Pipeline, Stage
from worker.records import Article, Envelope, Origin, RejectCode
from worker.settings import Settings

HERE = Path(__file__).resolve().parent
POISON = "This input makes the pipeline process exit."


def crash_on_poison(articles: list[Article]) -> list[Article]:
    if any(POISON in article.text for article in articles):
        os._exit(3)  # as a segfault in native code would: no exception, the process is gone
    return articles


def small_pipeline(settings: Settings, observe) -> Pipeline:
    return Pipeline(InputLimits(), NormalizeConfig(), [Stage("crash_on_poison", crash_on_poison)], observe)


def envelope(n: int, text: str) -> Envelope:
    return Envelope(json.dumps({"id": f"in-{n}", "text": text}).encode(), origin=Origin(file="t", line=n))


async def test_an_input_that_kills_the_child_is_dead_lettered_alone_and_the_others_go_through():
    host = ProcessHost(small_pipeline, Settings())
    await host.build()
    try:
        batch = [envelope(0, "The ferry ran late on Monday."), envelope(1, POISON),
                 envelope(2, "The harbour reopened on Tuesday.")]
        outcomes, _ = await host.run(batch)
        assert [o.envelope.origin.line for o in outcomes] == [0, 1, 2]
        assert outcomes[1].rejection is not None and outcomes[1].rejection.code == RejectCode.PROCESSING_ERROR
        assert "died" in outcomes[1].rejection.reason
        assert [o.rejection for o in (outcomes[0], outcomes[2])] == [None, None]
        assert "Monday" in outcomes[0].articles[0].text and "Tuesday" in outcomes[2].articles[0].text
        # the restarted child serves the next batch
        outcomes, _ = await host.run([envelope(3, "The bridge was closed for repairs.")])
        assert outcomes[0].rejection is None
    finally:
        host.close()


def _state(pid: int) -> str | None:
    """The process's state letter (Z: exited, waiting to be reaped), None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def test_the_child_exits_when_its_worker_is_killed(tmp_path: Path):
    # A stand-in for the worker: it starts a ProcessHost, says its child's pid and waits to be killed.
    script = textwrap.dedent(f"""
        import asyncio, sys, time
        sys.path.insert(0, {str(HERE)!r})
        from test_process_host import small_pipeline
        from worker.app import ProcessHost
        from worker.settings import Settings

        host = ProcessHost(small_pipeline, Settings())
        asyncio.run(host.build())
        print(*host._executor._processes, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = None
    try:
        child = int(parent.stdout.readline())
        assert _state(child) not in (None, "Z")
        time.sleep(1.5)
        assert _state(child) not in (None, "Z"), "the child must live as long as its worker"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while _state(child) not in (None, "Z"):
            assert time.monotonic() < deadline, "the pipeline child outlived its killed worker"
            time.sleep(0.1)
    finally:
        if parent.poll() is None:
            parent.kill()
        if child is not None and _state(child) not in (None, "Z"):
            os.kill(child, signal.SIGKILL)  # a failed run must not leave its orphan behind
