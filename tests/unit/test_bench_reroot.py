"""``newsworker bench reroot`` runs end to end on small stories and reports consistent figures: the bounded
agent publishes a fixed number of records whatever the story's size, the baseline one per member."""

from __future__ import annotations

import re

import pytest

from worker.app import MAX_RESTATED
from worker.cli import main


def test_bench_reroot_reports_bounded_and_baseline_records_with_their_cpu_ratio(capsys):
    assert main(["bench", "reroot", "--sizes", "150,400"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^\s*(\d+)\s+([\d.]+) ms\s+(\d+)\s+(\d+) B\s+([\d.]+) ms\s+(\d+)\s+(\d+) B\s+([\d.]+)", out,
                      re.MULTILINE)
    assert [int(row[0]) for row in rows] == [150, 400], out
    for size, bounded_ms, bounded_records, bounded_bytes, all_ms, all_records, all_bytes, ratio in rows:
        assert int(bounded_records) == 2 + MAX_RESTATED  # article, its event, the restated decisions listed
        assert int(all_records) == 2 + int(size)
        assert int(bounded_bytes) < int(all_bytes)
        assert float(ratio) == pytest.approx(float(bounded_ms) / float(all_ms), abs=0.02)
