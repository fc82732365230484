"""``newsworker bench pipeline`` runs on the real embedded broker and reports consistent figures.

A small run: it must exit 0 (every article came out end to end, the worker stopped cleanly), print the ratio of
its own two rates, and record the worker's peak RSS as the sum of its two processes. Nothing asserts a speed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_bench_pipeline_measures_offline_and_end_to_end_on_the_same_messages(tmp_path):
    record = tmp_path / "rss.json"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("newsworker")), "bench", "pipeline", "--messages", "40",
         "--latency-messages", "5", "--rss-record", str(record)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    out = done.stdout
    offline = re.search(r"offline .*?([\d.]+) msg/s \((\d+) articles\)", out)
    e2e = re.search(r"end to end .*?([\d.]+) msg/s \((\d+) articles in", out)
    ratio = re.search(r"ratio end-to-end / offline: ([\d.]+)", out)
    assert offline and e2e and ratio, out
    assert offline.group(2) == e2e.group(2), "both runs must make the same articles from the same messages"
    assert float(ratio.group(1)) == pytest.approx(float(e2e.group(1)) / float(offline.group(1)), abs=0.01)
    assert re.search(r"latency input → article .* p50 \d+ ms, p99 \d+ ms", out), out
    peaks = json.loads(record.read_text())
    assert set(peaks["parts_mib"]) == {"worker (Faust, Kafka I/O)", "pipeline process"}
    # The pipeline process holds the NER model and the gazetteer: it cannot be smaller than the model alone.
    assert peaks["parts_mib"]["pipeline process"] > 100
    assert peaks["peak_rss_mib"] == pytest.approx(sum(peaks["parts_mib"].values()), abs=0.2)
