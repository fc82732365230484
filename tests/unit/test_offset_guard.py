"""OffsetGuard: a record taken before in this process is skipped; one never taken is never skipped."""

from __future__ import annotations

from types import SimpleNamespace

from faust.types import TP

from worker.app import OffsetGuard, WorkerMetrics

RAW = TP("news.raw", 0)


def events(*offsets: int, tp: TP = RAW) -> list[SimpleNamespace]:
    return [SimpleNamespace(message=SimpleNamespace(tp=tp, offset=offset)) for offset in offsets]


def offsets(kept: list[SimpleNamespace]) -> list[int]:
    return [event.message.offset for event in kept]


def test_a_record_handed_over_twice_is_taken_once():
    guard = OffsetGuard(WorkerMetrics())
    assert offsets(guard.fresh(events(10, 11, 12, 12))) == [10, 11, 12]
    assert offsets(guard.fresh(events(12, 13))) == [13]


def test_a_seek_below_where_this_process_started_reads_those_records():
    # A worker that started reading at 100 and is then moved back to 40 (a recovery or rebalance seek) has never
    # processed 40..99: skipping them would lose them. 100..102 it has processed, so those are skipped.
    guard = OffsetGuard(WorkerMetrics())
    assert offsets(guard.fresh(events(100, 101, 102))) == [100, 101, 102]
    assert offsets(guard.fresh(events(40, 41, 99, 100, 102, 103))) == [40, 41, 99, 103]


def test_partitions_are_apart_and_skips_are_counted():
    metrics = WorkerMetrics()
    guard = OffsetGuard(metrics)
    other = TP("news.raw", 1)
    assert offsets(guard.fresh(events(5) + events(5, tp=other))) == [5, 5]
    assert offsets(guard.fresh(events(5) + events(5, tp=other))) == []
    assert metrics.redelivered.labels("news.raw")._value.get() == 2
