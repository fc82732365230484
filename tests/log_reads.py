"""A stand-in for ``BrokerReads`` (the cluster reads that repair the consumer's skips) for unit and agent tests:
records from a log per partition, committed offsets and first retained offsets as given, each read recorded.
The real reads have their own tests against the embedded broker (tests/integration/test_embedded_broker.py).
Imported through tests/ being on the import path (its conftest)."""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace

TIMESTAMP_MS = 1_700_000_000_000


def gaps_counted(metrics, outcome: str, topic: str = "news.raw") -> float:
    """What ``newsworker_read_gaps_total`` counts for ``topic`` and ``outcome`` (0 when nothing yet)."""
    value = metrics.registry.get_sample_value("newsworker_read_gaps_total", {"topic": topic, "outcome": outcome})
    return value or 0.0


def full_log(first: int, last: int) -> dict[int, bytes]:
    return {offset: f"record {offset}".encode() for offset in range(first, last + 1)}


class LogReads:
    """``logs``: per (topic, partition), offset -> value; ``committed``: the group's offsets (absent: none);
    ``fails``: every read raises, as when the broker is away."""

    def __init__(self, logs: dict[tuple[str, int], dict[int, bytes]],
                 committed: dict[tuple[str, int], int] | None = None, fails: bool = False) -> None:
        self.logs, self.offsets, self.fails = logs, committed or {}, fails
        self.reads: list[tuple[int, int, int]] = []  # (partition, start, end) of each records() call
        self.committed_asked: list[list[tuple[str, int]]] = []

    async def records(self, topic: str, partition: int, start: int, end: int) -> list[SimpleNamespace]:
        self.reads.append((partition, start, end))
        if self.fails:
            raise TimeoutError("not served")
        log = self.logs[(topic, partition)]
        return [SimpleNamespace(topic=topic, partition=partition, offset=offset, value=log[offset], key=None,
                                headers=[], timestamp=TIMESTAMP_MS)
                for offset in range(start, end) if offset in log]

    async def committed(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int | None]:
        asked = sorted(partitions)
        self.committed_asked.append(asked)
        if self.fails:
            raise TimeoutError("not served")
        return {tp: self.offsets.get(tp) for tp in asked}

    async def first_retained(self, topic: str, partition: int) -> int:
        if self.fails:
            raise TimeoutError("not served")
        return min(self.logs[(topic, partition)], default=0)
