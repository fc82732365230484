"""LinkCursor: a stories record past the cursor sends the consumer back to the cursor; nothing is linked out of
turn, and a cursor below the first retained offset is given up instead of sought forever."""

from __future__ import annotations

from worker.app import PROGRESS_KEY, LinkCursor, WorkerMetrics, linking_progress, progress_after
from worker import codec

TP = ("t-stories", 0)


class Consumer:
    """Records the seeks asked for and answers the first retained offset."""

    def __init__(self, first_retained: int = 0) -> None:
        self.seeks: list[tuple[object, int]] = []
        self.first_retained = first_retained

    async def seek(self, tp: object, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def earliest(self, tp: object) -> int:
        return self.first_retained


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def cursor_at(offset: int | None, consumer: Consumer, clock: Clock) -> tuple[LinkCursor, dict, WorkerMetrics]:
    decisions: dict = {} if offset is None else {PROGRESS_KEY: codec.dumps({"decisions": 7, "next_offset": offset})}
    metrics = WorkerMetrics()
    return LinkCursor(decisions, consumer.seek, consumer.earliest, metrics, clock), decisions, metrics


def rewinds(metrics: WorkerMetrics) -> float:
    return metrics.registry.get_sample_value("newsworker_link_rewinds_total")


async def test_a_new_table_takes_whatever_comes_first_and_moves_the_cursor_past_each_linked_record():
    consumer = Consumer()
    cursor, decisions, _ = cursor_at(None, consumer, Clock())
    assert not await cursor.out_of_turn(TP, 40)
    decisions[PROGRESS_KEY] = progress_after(decisions, 40)  # as link_messages writes it with the decision
    assert cursor.expected() == 41
    assert not await cursor.out_of_turn(TP, 41)
    assert consumer.seeks == []


async def test_a_record_past_the_cursor_seeks_back_once_and_waits_until_the_skipped_ones_come():
    consumer, clock = Consumer(), Clock()
    cursor, _, metrics = cursor_at(86, consumer, clock)
    assert await cursor.out_of_turn(TP, 117)  # 86..116 were dropped by the consumer
    assert await cursor.out_of_turn(TP, 118)  # fetched before the seek: ignored, no second seek
    assert consumer.seeks == [(TP, 86)]
    assert rewinds(metrics) == 1
    assert not await cursor.out_of_turn(TP, 86)  # the seek answered: linking goes on in turn


async def test_an_unanswered_seek_is_sent_again():
    consumer, clock = Consumer(), Clock()
    cursor, _, metrics = cursor_at(86, consumer, clock)
    assert await cursor.out_of_turn(TP, 117)
    clock.now += LinkCursor.RESEEK_AFTER_SECONDS + 1
    assert await cursor.out_of_turn(TP, 130)
    assert consumer.seeks == [(TP, 86), (TP, 86)]
    assert rewinds(metrics) == 2


async def test_a_redelivered_record_neither_seeks_nor_moves_the_cursor_back():
    consumer = Consumer()
    cursor, decisions, _ = cursor_at(90, consumer, Clock())
    assert not await cursor.out_of_turn(TP, 85)
    decisions[PROGRESS_KEY] = progress_after(decisions, 85)
    assert linking_progress(decisions) == (8, 90)
    assert consumer.seeks == []


async def test_a_cursor_below_the_first_retained_record_is_given_up():
    consumer = Consumer(first_retained=500)
    cursor, _, metrics = cursor_at(86, consumer, Clock())
    assert not await cursor.out_of_turn(TP, 500)  # 86..499 expired while nobody linked: nothing to read again
    assert consumer.seeks == []
    assert rewinds(metrics) == 0


def test_a_count_written_before_the_cursor_existed_reads_as_a_count_without_a_cursor():
    decisions = {PROGRESS_KEY: codec.dumps(12)}
    assert linking_progress(decisions) == (12, None)
    decisions[PROGRESS_KEY] = progress_after(decisions, 30)
    assert linking_progress(decisions) == (13, 31)


async def test_a_record_without_a_new_decision_moves_the_cursor_so_the_next_one_is_in_turn():
    consumer = Consumer()
    cursor, decisions, _ = cursor_at(86, consumer, Clock())
    assert not await cursor.out_of_turn(TP, 86)
    cursor.linked(86)  # say a dead letter, or an article delivered again: link_messages wrote no decision
    assert linking_progress(decisions) == (7, 87)
    assert not await cursor.out_of_turn(TP, 87)
    cursor.linked(85)  # an older record again: the cursor stays
    assert linking_progress(decisions) == (7, 87)
    assert consumer.seeks == []


async def test_a_refused_seek_does_not_raise_and_is_asked_again_at_the_next_record_past_the_cursor():
    from faust.types import TP as FaustTP

    stories = FaustTP("t-stories", 0)
    consumer, clock = Consumer(), Clock()
    refusals = [RuntimeError("no current assignment for partition")]

    async def seek(tp: object, offset: int) -> None:
        consumer.seeks.append((tp, offset))
        if refusals:
            raise refusals.pop()

    cursor = LinkCursor({PROGRESS_KEY: codec.dumps({"decisions": 7, "next_offset": 86})}, seek, consumer.earliest,
                        WorkerMetrics(), clock)
    assert await cursor.out_of_turn(stories, 90)
    assert await cursor.out_of_turn(stories, 91)
    assert consumer.seeks == [(stories, 86), (stories, 86)]
