"""``newsworker demo --once`` as a user runs it: its own broker and worker, every sample out, clean exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from worker.samples import sample_messages

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_once_shows_every_sample_and_exits_cleanly():
    result = subprocess.run([sys.executable, "-m", "worker", "demo", "--once", "--timeout", "120"],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    samples = sample_messages()
    out = result.stdout
    assert f"all {len(samples)} samples came out" in out
    assert out.count("● article") >= sum(s.expect == "article" for s in samples)
    # The multi-story page shows all three of its stories before the demo calls it done, not just the first.
    assert out.count("from river-page.txt") == 3, out
    # The library's first-week report is linked to the opening, whichever partition delivered which first.
    assert out.count("(follow_up, ") + out.count("(same_story, ") >= 1, out
    for code in {s.expect for s in samples if s.expect != "article"}:
        assert f"dead letter  {code}:" in out
    assert "stopping the worker … exit code 0" in out and "stopping the broker … done" in out
