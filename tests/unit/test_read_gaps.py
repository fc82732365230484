"""ReadGaps: records the consumer left out of a partition within an assignment are read from the broker and
come first; offsets the broker has no record for are a hole; a read that fails is logged with what to replay;
a new assignment starts anywhere. OffsetGuard then skips a record read this way when Faust delivers it after all."""

from __future__ import annotations

from types import SimpleNamespace

from faust.types import TP

from worker.app import OffsetGuard, ReadGaps, WorkerMetrics

RAW, OTHER = TP("news.raw", 0), TP("news.raw", 1)


def events(*offsets: int, tp: TP = RAW, generation: int = 1) -> list[SimpleNamespace]:
    return [SimpleNamespace(message=SimpleNamespace(tp=tp, offset=offset, generation_id=generation))
            for offset in offsets]


class Broker:
    """Serves ``read_range`` from a log per partition (offset -> value); records the reads asked for."""

    def __init__(self, logs: dict[TP, dict[int, bytes]], fails: bool = False) -> None:
        self.logs, self.fails = logs, fails
        self.reads: list[tuple[int, int, int]] = []

    async def read_range(self, topic: str, partition: int, start: int, end: int) -> list[SimpleNamespace]:
        self.reads.append((partition, start, end))
        if self.fails:
            raise TimeoutError("not served")
        log = self.logs[TP(topic, partition)]
        return [SimpleNamespace(topic=topic, partition=partition, offset=offset, value=log[offset], key=None,
                                headers=[], timestamp=1_700_000_000_000)
                for offset in range(start, end) if offset in log]


def count(metrics: WorkerMetrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value("newsworker_read_gaps_total", {"topic": "news.raw", "outcome": outcome})
    return value or 0.0


def full_log(first: int, last: int) -> dict[int, bytes]:
    return {offset: f"record {offset}".encode() for offset in range(first, last + 1)}


async def test_records_in_order_read_nothing():
    broker = Broker({RAW: full_log(0, 100)})
    gaps = ReadGaps(broker.read_range, WorkerMetrics())
    assert await gaps.skipped(events(68, 69, 70) + events(5, 6, tp=OTHER)) == []
    assert await gaps.skipped(events(71, 71, 70)) == []  # delivered again: OffsetGuard's business
    assert broker.reads == []


async def test_skipped_records_are_read_from_the_broker_whole_and_in_order():
    broker = Broker({RAW: full_log(0, 100)})
    metrics = WorkerMetrics()
    gaps = ReadGaps(broker.read_range, metrics)
    assert await gaps.skipped(events(82, 83)) == []
    found = await gaps.skipped(events(86, 87) + events(7, tp=OTHER))
    assert broker.reads == [(0, 84, 86)]
    assert [(e.origin.partition, e.origin.offset, e.value) for e in found] == [
        (0, 84, b"record 84"), (0, 85, b"record 85")]
    assert found[0].origin.topic == "news.raw" and found[0].origin.timestamp_ms == 1_700_000_000_000
    assert await gaps.skipped(events(88)) == []  # in order again
    assert count(metrics, "read_again") == 2 and count(metrics, "hole") == 0


async def test_offsets_without_a_record_are_a_hole():
    log = full_log(0, 20)
    del log[11]  # say a transaction marker
    broker = Broker({RAW: log})
    metrics = WorkerMetrics()
    gaps = ReadGaps(broker.read_range, metrics)
    await gaps.skipped(events(10))
    assert await gaps.skipped(events(12, 13)) == []
    assert count(metrics, "hole") == 1 and count(metrics, "read_again") == 0


async def test_a_read_that_fails_is_counted_as_lost_and_the_batch_goes_on(caplog):
    broker = Broker({RAW: full_log(0, 20)}, fails=True)
    metrics = WorkerMetrics()
    gaps = ReadGaps(broker.read_range, metrics)
    await gaps.skipped(events(5))
    assert await gaps.skipped(events(9)) == []
    assert count(metrics, "lost") == 3
    assert "replay them from offset 6" in caplog.text


async def test_a_new_assignment_starts_where_the_consumer_was_sent():
    broker = Broker({RAW: full_log(0, 100)})
    gaps = ReadGaps(broker.read_range, WorkerMetrics())
    await gaps.skipped(events(10, 11))
    assert await gaps.skipped(events(40, 41, generation=2)) == []  # another worker had 12..39
    assert await gaps.skipped(events(5, generation=3)) == []  # sent back to an older commit
    assert broker.reads == []


async def test_a_record_read_again_is_skipped_when_faust_delivers_it_after_all():
    guard = OffsetGuard(WorkerMetrics())
    assert guard.take(RAW, 84)  # read from the broker
    assert [e.message.offset for e in guard.fresh(events(84, 85))] == [85]
