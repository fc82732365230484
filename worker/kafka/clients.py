"""Small aiokafka helpers for the commands and the tests: publish raw messages, follow topics.

Both reach the cluster through ``worker.security.aiokafka_options``, exactly as the worker does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.structs import RecordMetadata

from worker.security import aiokafka_options
from worker.settings import Settings


@dataclass(frozen=True, slots=True)
class RawMessage:
    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


async def publish(settings: Settings, topic: str, messages: Iterable[RawMessage]) -> list[RecordMetadata]:
    """Publish ``messages`` in order and wait until the broker has each; returns where each one landed."""
    producer = AIOKafkaProducer(**aiokafka_options(settings))
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
