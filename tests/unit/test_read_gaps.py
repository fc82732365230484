"""ReadGaps: a record past the next one of its partition is held back and the partition read again from the
next one; a gap the broker keeps answering across is a hole, read past; a new assignment starts anywhere."""

from __future__ import annotations

from types import SimpleNamespace

from faust.types import TP

from worker.app import ReadGaps, WorkerMetrics

RAW, OTHER = TP("news.raw", 0), TP("news.raw", 1)


def events(*offsets: int, tp: TP = RAW, generation: int = 1) -> list[SimpleNamespace]:
    return [SimpleNamespace(message=SimpleNamespace(tp=tp, offset=offset, generation_id=generation))
            for offset in offsets]


def taken(kept: list[SimpleNamespace]) -> list[tuple[int, int]]:
    return [(event.message.tp.partition, event.message.offset) for event in kept]


class Consumer:
    """Records seeks; ``now`` is the gaps' clock."""

    def __init__(self) -> None:
        self.seeks: list[tuple[TP, int]] = []
        self.now = 0.0

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))


def gaps_for(consumer: Consumer) -> tuple[ReadGaps, WorkerMetrics]:
    metrics = WorkerMetrics()
    return ReadGaps(consumer.seek, metrics, clock=lambda: consumer.now), metrics


def count(metrics: WorkerMetrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value("newsworker_read_gaps_total", {"topic": "news.raw", "outcome": outcome})
    return value or 0.0


async def test_records_in_order_are_all_taken_and_nothing_is_sought():
    consumer = Consumer()
    gaps, _ = gaps_for(consumer)
    assert taken(await gaps.in_turn(events(68, 69, 70) + events(5, 6, tp=OTHER))) == [
        (0, 68), (0, 69), (0, 70), (1, 5), (1, 6)]
    assert taken(await gaps.in_turn(events(71, 71, 70))) == [(0, 71), (0, 71), (0, 70)]  # again: OffsetGuard's
    assert consumer.seeks == []


async def test_a_skipped_record_is_read_again_before_the_ones_after_it():
    consumer = Consumer()
    gaps, metrics = gaps_for(consumer)
    assert taken(await gaps.in_turn(events(82, 83, 85, 86) + events(7, tp=OTHER))) == [(0, 82), (0, 83), (1, 7)]
    assert consumer.seeks == [(RAW, 84)]
    consumer.now = 0.2
    assert taken(await gaps.in_turn(events(87, 88))) == []  # fetched before the seek: they come again
    assert consumer.seeks == [(RAW, 84)]  # one seek per gap
    assert taken(await gaps.in_turn(events(84, 85, 86, 87))) == [(0, 84), (0, 85), (0, 86), (0, 87)]
    assert count(metrics, "read_again") == 1 and count(metrics, "hole") == 0


async def test_a_gap_the_broker_still_answers_across_after_the_seek_is_a_hole_and_read_past():
    consumer = Consumer()
    gaps, metrics = gaps_for(consumer)
    assert taken(await gaps.in_turn(events(10, 12))) == [(0, 10)]  # 11: say a transaction marker
    consumer.now = ReadGaps.HOLE_AFTER_SECONDS + 0.1
    assert taken(await gaps.in_turn(events(12, 13))) == [(0, 12), (0, 13)]
    assert consumer.seeks == [(RAW, 11)]
    assert count(metrics, "hole") == 1
    assert taken(await gaps.in_turn(events(15))) == []  # a later gap is sought again
    assert consumer.seeks == [(RAW, 11), (RAW, 14)]


async def test_a_new_assignment_starts_where_the_consumer_was_sent():
    consumer = Consumer()
    gaps, _ = gaps_for(consumer)
    assert taken(await gaps.in_turn(events(10, 11))) == [(0, 10), (0, 11)]
    assert taken(await gaps.in_turn(events(40, 41, generation=2))) == [(0, 40), (0, 41)]  # another worker had 12..39
    assert taken(await gaps.in_turn(events(5, generation=3))) == [(0, 5)]  # sent back to an older commit
    assert consumer.seeks == []


async def test_a_refused_seek_is_asked_again_at_the_next_record_past_the_gap():
    consumer = Consumer()
    refusals = [RuntimeError("no current assignment for partition")]

    async def seek(tp: TP, offset: int) -> None:
        consumer.seeks.append((tp, offset))
        if refusals:
            raise refusals.pop()

    gaps = ReadGaps(seek, WorkerMetrics(), clock=lambda: consumer.now)
    assert taken(await gaps.in_turn(events(1, 3))) == [(0, 1)]
    assert taken(await gaps.in_turn(events(3))) == []
    assert consumer.seeks == [(RAW, 2), (RAW, 2)]
