"""LinkCursor: the records between the cursor and a stories record handed over past it are read from the broker
in order; nothing is read for the next record or a redelivery; records that expired before anyone linked them are
given up; a read that fails raises instead of moving on. The cursor moves only forward."""

from __future__ import annotations

import pytest
from faust.types import TP

from log_reads import LogReads, full_log, gaps_counted
from worker import codec
from worker.app import PROGRESS_KEY, LinkCursor, SkippedUnreadable, WorkerMetrics, linking_progress, progress_after

STORIES = TP("t-stories", 0)


def cursor_at(offset: int | None, reads: LogReads) -> tuple[LinkCursor, dict, WorkerMetrics]:
    decisions: dict = {} if offset is None else {PROGRESS_KEY: codec.dumps({"decisions": 7, "next_offset": offset})}
    metrics = WorkerMetrics()
    return LinkCursor(decisions, reads, metrics), decisions, metrics


def stories_log(first: int, last: int) -> LogReads:
    return LogReads({("t-stories", 0): full_log(first, last)})


async def skipped(cursor: LinkCursor, offset: int) -> list[int]:
    return [envelope.origin.offset async for envelope in cursor.skipped(STORIES, offset)]


async def test_a_new_table_takes_whatever_comes_first_and_moves_the_cursor_past_each_linked_record():
    broker = stories_log(0, 100)
    cursor, decisions, _ = cursor_at(None, broker)
    assert await skipped(cursor, 40) == []
    decisions[PROGRESS_KEY] = progress_after(decisions, 40)  # as link_messages writes it with the decision
    assert cursor.expected() == 41
    assert await skipped(cursor, 41) == []
    assert broker.reads == []


async def test_the_records_between_the_cursor_and_one_past_it_are_read_in_order_in_chunks():
    broker = stories_log(0, 200)
    cursor, _, metrics = cursor_at(86, broker)
    found = [envelope async for envelope in cursor.skipped(STORIES, 190)]  # 86..189 dropped by the consumer
    assert [envelope.origin.offset for envelope in found] == list(range(86, 190))
    assert found[0].value == b"record 86" and found[0].origin.topic == "t-stories"
    assert broker.reads == [(0, 86, 136), (0, 136, 186), (0, 186, 190)]  # a record can be several MB
    assert gaps_counted(metrics, "read_again", "t-stories") == 104


async def test_a_redelivered_record_reads_nothing_and_does_not_move_the_cursor_back():
    broker = stories_log(0, 100)
    cursor, decisions, _ = cursor_at(90, broker)
    assert await skipped(cursor, 85) == []
    decisions[PROGRESS_KEY] = progress_after(decisions, 85)
    assert linking_progress(decisions) == (8, 90)
    assert broker.reads == []


async def test_records_that_expired_before_anyone_linked_them_are_given_up(caplog):
    broker = stories_log(480, 600)  # 0..479 have expired
    cursor, _, metrics = cursor_at(86, broker)
    assert await skipped(cursor, 500) == list(range(480, 500))  # 86..479 are gone: read from the first one kept
    assert "records 86..479 expired before they were linked" in caplog.text
    assert await skipped(cursor, 480) == [] and gaps_counted(metrics, "hole", "t-stories") == 0


async def test_a_read_that_fails_raises_so_the_record_past_it_is_not_linked_nor_acked(caplog):
    broker = stories_log(0, 100)
    broker.fails = True
    cursor, decisions, _ = cursor_at(86, broker)
    with pytest.raises(SkippedUnreadable):
        await skipped(cursor, 90)
    assert cursor.expected() == 86  # a restart reads 86.. again
    assert "t-stories[0] records 86..89" in caplog.text


def test_a_count_written_before_the_cursor_existed_reads_as_a_count_without_a_cursor():
    decisions = {PROGRESS_KEY: codec.dumps(12)}
    assert linking_progress(decisions) == (12, None)
    decisions[PROGRESS_KEY] = progress_after(decisions, 30)
    assert linking_progress(decisions) == (13, 31)


async def test_a_record_without_a_new_decision_moves_the_cursor_so_the_next_one_is_in_turn():
    broker = stories_log(0, 100)
    cursor, decisions, _ = cursor_at(86, broker)
    cursor.linked(86)  # say a dead letter, or an article delivered again: link_messages wrote no decision
    assert linking_progress(decisions) == (7, 87)
    assert await skipped(cursor, 87) == []
    cursor.linked(85)  # an older record again: the cursor stays
    assert linking_progress(decisions) == (7, 87)
    assert broker.reads == []
