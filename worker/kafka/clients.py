"""Small aiokafka helpers for the commands and the tests: publish raw messages, follow topics.

Both reach the cluster through ``worker.security.aiokafka_options``, exactly as the worker does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import RecordMetadata, TopicPartition

from worker import codec
from worker.security import aiokafka_options
from worker.settings import Settings


@dataclass(frozen=True, slots=True)
class RawMessage:
    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


async def publish(settings: Settings, topic: str, messages: Iterable[RawMessage]) -> list[RecordMetadata]:
    """Publish ``messages`` in order and wait until the broker has each; returns where each one landed."""
    producer = AIOKafkaProducer(**aiokafka_options(settings), max_request_size=settings.max_message_bytes)
    await producer.start()
    try:
        futures = [await producer.send(topic, message.value, key=message.key, headers=list(message.headers))
                   for message in messages]
        return list(await asyncio.gather(*futures))
    finally:
        await producer.stop()


async def follow(settings: Settings, topics: Sequence[str], *, from_beginning: bool = True,
                 idle_timeout: float | None = None) -> AsyncIterator[ConsumerRecord]:
    """Yield records of ``topics`` as they arrive (no consumer group: nothing is committed).

    Stops after ``idle_timeout`` seconds without a record (None: never). The caller stops early by breaking.
    """
    consumer = AIOKafkaConsumer(
        *topics, auto_offset_reset="earliest" if from_beginning else "latest", enable_auto_commit=False,
        **aiokafka_options(settings),
    )
    await consumer.start()
    try:
        last = time.monotonic()
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            records = sorted((r for rs in batches.values() for r in rs), key=lambda r: (r.timestamp, r.offset))
            for record in records:
                yield record
            if records:
                last = time.monotonic()
            elif idle_timeout is not None and time.monotonic() - last > idle_timeout:
                return
    finally:
        await consumer.stop()


async def read_range(settings: Settings, topic: str, partition: int, start: int, end: int,
                     timeout: float = 15.0) -> list[ConsumerRecord]:
    """The records at offsets ``start`` .. ``end - 1`` of one partition, read straight from the broker (no consumer
    group: nothing is committed). An offset without a record (a transaction marker) is simply absent. Raises
    ``TimeoutError`` when the broker has not served the range within ``timeout`` seconds."""
    tp = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=settings.max_message_bytes, **aiokafka_options(settings))
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, start)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout
        while await consumer.position(tp) < end:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}[{partition}] offsets {start}..{end - 1} not served in {timeout:.0f} s")
            fetched = await consumer.getmany(tp, timeout_ms=200)
            records += [record for record in fetched.get(tp, []) if record.offset < end]
        return records
    finally:
        await consumer.stop()


class BrokerReads:
    """What the worker reads from the cluster beside its Faust consumer, with clients of its own (no group
    membership, nothing committed): records its consumer skipped, where its group's offsets stand, where a
    partition's log starts."""

    def __init__(self, settings: Settings, timeout: float = 15.0) -> None:
        self.settings, self.timeout = settings, timeout

    async def records(self, topic: str, partition: int, start: int, end: int) -> list[ConsumerRecord]:
        return await read_range(self.settings, topic, partition, start, end, timeout=self.timeout)

    async def committed(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int | None]:
        """The offsets the worker's consumer group has committed for ``partitions`` (None: nothing yet)."""
        wanted = [TopicPartition(topic, partition) for topic, partition in partitions]
        admin = AIOKafkaAdminClient(**aiokafka_options(self.settings))
        await admin.start()
        try:
            found = await asyncio.wait_for(
                admin.list_consumer_group_offsets(self.settings.app_id, partitions=wanted), self.timeout)
        finally:
            await admin.close()
        committed: dict[tuple[str, int], int | None] = {}
        for tp in wanted:
            meta = found.get(tp)  # -1, or no entry: the group has committed nothing there
            committed[(tp.topic, tp.partition)] = meta.offset if meta is not None and meta.offset >= 0 else None
        return committed

    async def first_retained(self, topic: str, partition: int) -> int:
        """The offset of the oldest record the broker still keeps in the partition."""
        tp = TopicPartition(topic, partition)
        consumer = AIOKafkaConsumer(enable_auto_commit=False, **aiokafka_options(self.settings))
        await consumer.start()
        try:
            return (await asyncio.wait_for(consumer.beginning_offsets([tp]), self.timeout))[tp]
        finally:
            await consumer.stop()


@dataclass
class Sent:
    """One published raw message, where it landed, and the id its articles will carry (None: it cannot decode)."""

    message: RawMessage
    where: RecordMetadata
    source_id: str | None


@dataclass
class Output:
    topic: str
    key: bytes | None
    body: dict[str, Any]
    timestamp_ms: int


class OutputTracker:
    """Matches the worker's outputs to the raw messages that caused them.

    Articles carry the id of their input (``source_id``); dead letters carry the input's topic, partition and
    offset. Outputs of other inputs on the same topics are ignored, so several users can share the topics.
    """

    def __init__(self, settings: Settings, sent: Sequence[Sent]) -> None:
        self.settings = settings
        self.sent = list(sent)
        self.articles: list[Output] = []
        self.dead_letters: list[Output] = []
        self._ids = {s.source_id for s in self.sent if s.source_id}
        self._offsets = {(s.where.partition, s.where.offset) for s in self.sent}

    @classmethod
    def for_messages(cls, settings: Settings, messages: Sequence[RawMessage],
                     where: Sequence[RecordMetadata]) -> OutputTracker:
        return cls(settings, [Sent(m, w, source_id(m)) for m, w in zip(messages, where)])

    def add(self, record: ConsumerRecord) -> Output | None:
        """Take one record of the articles or dead-letter topic; returns it parsed when it belongs to us."""
        body = codec.loads(record.value)
        output = Output(record.topic, record.key, body, record.timestamp)
        if record.topic == self.settings.topic_articles and body.get("source_id") in self._ids:
            self.articles.append(output)
            return output
        source = body.get("source") or {}
        if (record.topic == self.settings.topic_deadletter and source.get("topic") == self.settings.topic_raw
                and (source.get("partition"), source.get("offset")) in self._offsets):
            self.dead_letters.append(output)
            return output
        return None

    def articles_of(self, sent: Sent) -> list[dict[str, Any]]:
        """The articles of one input in page order (keyed by their own ids, they arrive on several partitions)."""
        return sorted((o.body for o in self.articles if o.body["source_id"] == sent.source_id),
                      key=lambda body: body["part"])

    def dead_letters_of(self, sent: Sent) -> list[dict[str, Any]]:
        where = (sent.where.partition, sent.where.offset)
        return [o.body for o in self.dead_letters
                if (o.body["source"]["partition"], o.body["source"]["offset"]) == where]

    def resolved(self, sent: Sent) -> bool:
        return bool(self.articles_of(sent) or self.dead_letters_of(sent))

    def pending(self) -> list[Sent]:
        return [s for s in self.sent if not self.resolved(s)]


def source_id(message: RawMessage) -> str | None:
    """The id the worker will give this input's articles, or None when the input will be dead-lettered."""
    from worker.decode import decode
    from worker.records import Envelope, InputRejected

    try:
        return decode(Envelope(value=message.value, key=message.key, headers=message.headers)).id
    except InputRejected:
        return None
