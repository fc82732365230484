"""ReadGaps: an assignment starts at the offset the group committed, and records below it are done; records the
consumer left out of a partition are read from the broker and come first; offsets the broker has no record for are a
hole; a read that fails raises, so nothing past it is acked. OffsetGuard then skips a record read this way when
Faust delivers it after all."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from faust.types import TP

from log_reads import TIMESTAMP_MS, LogReads, full_log, gaps_counted
from worker.app import OffsetGuard, ReadGaps, SkippedUnreadable, WorkerMetrics

RAW, OTHER = TP("news.raw", 0), TP("news.raw", 1)


def events(*offsets: int, tp: TP = RAW, generation: int = 1) -> list[SimpleNamespace]:
    return [SimpleNamespace(message=SimpleNamespace(tp=tp, offset=offset, generation_id=generation))
            for offset in offsets]


def logs() -> dict[tuple[str, int], dict[int, bytes]]:
    return {("news.raw", 0): full_log(0, 100), ("news.raw", 1): full_log(0, 100)}


async def test_records_in_order_from_the_committed_offset_read_nothing():
    reads = LogReads(logs(), committed={("news.raw", 0): 68, ("news.raw", 1): 5})
    gaps = ReadGaps(reads, WorkerMetrics())
    assert await gaps.skipped(events(68, 69, 70) + events(5, 6, tp=OTHER)) == []
    assert await gaps.skipped(events(71, 71, 70)) == []  # delivered again: OffsetGuard's business
    assert reads.reads == []
    assert reads.committed_asked == [[("news.raw", 0), ("news.raw", 1)]]  # once per assignment, in one request


async def test_skipped_records_are_read_from_the_broker_whole_and_in_order():
    reads = LogReads(logs(), committed={("news.raw", 0): 82, ("news.raw", 1): 7})
    metrics = WorkerMetrics()
    gaps = ReadGaps(reads, metrics)
    assert await gaps.skipped(events(82, 83)) == []
    found = await gaps.skipped(events(86, 87) + events(7, tp=OTHER))
    assert reads.reads == [(0, 84, 86)]
    assert [(e.origin.partition, e.origin.offset, e.value) for e in found] == [
        (0, 84, b"record 84"), (0, 85, b"record 85")]
    assert found[0].origin.topic == "news.raw" and found[0].origin.timestamp_ms == TIMESTAMP_MS
    assert await gaps.skipped(events(88)) == []  # in order again
    assert gaps_counted(metrics, "read_again") == 2 and gaps_counted(metrics, "hole") == 0


async def test_the_first_records_of_an_assignment_skipped_are_read_from_the_committed_offset():
    reads = LogReads(logs(), committed={("news.raw", 0): 40})
    gaps = ReadGaps(reads, WorkerMetrics())
    found = await gaps.skipped(events(43, 44, generation=2))
    assert [e.origin.offset for e in found] == [40, 41, 42]


async def test_a_record_left_over_from_before_the_assignment_seek_is_not_taken_for_its_start():
    reads = LogReads(logs(), committed={("news.raw", 0): 51})  # the worker that held it got to 51
    gaps = ReadGaps(reads, WorkerMetrics())
    assert await gaps.skipped(events(42, 51, 52, generation=2)) == []
    assert reads.reads == []


async def test_records_below_the_committed_offset_are_left_out_as_done_by_the_group():
    reads = LogReads(logs(), committed={("news.raw", 0): 51})
    metrics = WorkerMetrics()
    gaps = ReadGaps(reads, metrics)
    batch = events(42, 51, 52, generation=2) + events(3, tp=OTHER, generation=2)  # OTHER: no commit yet
    await gaps.skipped(batch)
    assert [(e.message.tp.partition, e.message.offset) for e in gaps.not_committed(batch)] == [(0, 51), (0, 52),
                                                                                                 (1, 3)]
    assert metrics.registry.get_sample_value("newsworker_redelivered_records_total", {"topic": "news.raw"}) == 1


async def test_a_group_without_a_commit_counts_from_the_first_record():
    reads = LogReads(logs())
    gaps = ReadGaps(reads, WorkerMetrics())
    assert await gaps.skipped(events(10, 11)) == []
    assert [e.origin.offset for e in await gaps.skipped(events(13))] == [12]


async def test_each_new_assignment_asks_where_it_starts():
    reads = LogReads(logs(), committed={("news.raw", 0): 10})
    gaps = ReadGaps(reads, WorkerMetrics())
    await gaps.skipped(events(10, 11))
    reads.offsets[("news.raw", 0)] = 40  # another worker had 12..39
    assert await gaps.skipped(events(40, 41, generation=2)) == []
    assert reads.reads == [] and len(reads.committed_asked) == 2


async def test_offsets_without_a_record_are_a_hole():
    log = full_log(0, 20)
    del log[11]  # say a transaction marker
    reads = LogReads({("news.raw", 0): log}, committed={("news.raw", 0): 10})
    metrics = WorkerMetrics()
    gaps = ReadGaps(reads, metrics)
    await gaps.skipped(events(10))
    assert await gaps.skipped(events(12, 13)) == []
    assert gaps_counted(metrics, "hole") == 1 and gaps_counted(metrics, "read_again") == 0


async def test_a_read_that_fails_raises_and_says_what_was_skipped(caplog):
    reads = LogReads(logs(), committed={("news.raw", 0): 5})
    gaps = ReadGaps(reads, WorkerMetrics())
    await gaps.skipped(events(5))
    reads.fails = True
    with pytest.raises(SkippedUnreadable):
        await gaps.skipped(events(9))
    assert "news.raw[0] records 6..8 could not be read again" in caplog.text


async def test_without_the_committed_offsets_the_count_starts_at_the_first_record(caplog):
    reads = LogReads(logs(), committed={("news.raw", 0): 0}, fails=True)
    gaps = ReadGaps(reads, WorkerMetrics())
    assert await gaps.skipped(events(5, 6)) == []
    assert "could not read the committed offsets of news.raw[0]" in caplog.text


async def test_a_record_read_again_is_skipped_when_faust_delivers_it_after_all():
    guard = OffsetGuard(WorkerMetrics())
    assert guard.take(RAW, 84)  # read from the broker
    assert [e.message.offset for e in guard.fresh(events(84, 85))] == [85]
