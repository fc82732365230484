"""The embedded broker and topic creation, against the real Tansu binary."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from worker.kafka.broker import BrokerStartError, EmbeddedBroker, free_port, wait_for_port
from worker.kafka.clients import BrokerReads, read_range
from worker.kafka.topics import create_topics, worker_topics
from worker.security import aiokafka_options

pytestmark = pytest.mark.integration


async def test_topics_are_created_with_their_partitions_and_creating_again_is_harmless(kafka_settings):
    first = await create_topics(kafka_settings)
    again = await create_topics(kafka_settings)
    names = [t.name for t in worker_topics(kafka_settings)]
    assert first == dict.fromkeys(names, "created")
    assert again == dict.fromkeys(names, "exists")
    admin = AIOKafkaAdminClient(**aiokafka_options(kafka_settings))
    await admin.start()
    try:
        described = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(names)}
    finally:
        await admin.close()
    assert described == {t.name: t.partitions for t in worker_topics(kafka_settings)}
    assert described[kafka_settings.topic_raw] == 2 and described[kafka_settings.topic_deadletter] == 1


async def test_messages_round_trip_with_key_and_headers(kafka_settings):
    await create_topics(kafka_settings)
    topic = kafka_settings.topic_raw
    producer = AIOKafkaProducer(**aiokafka_options(kafka_settings))
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(topic, f"body {n}".encode(), key=f"k{n}".encode(),
                                         headers=[("source", b"test")])
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, auto_offset_reset="earliest", **aiokafka_options(kafka_settings))
    await consumer.start()
    try:
        received = []
        while len(received) < 5:
            batches = await consumer.getmany(timeout_ms=5000)
            assert batches, "no message within 5 s"
            received += [m for messages in batches.values() for m in messages]
    finally:
        await consumer.stop()
    assert sorted((m.key, m.value) for m in received) == [(f"k{n}".encode(), f"body {n}".encode()) for n in range(5)]
    assert all(m.headers == (("source", b"test"),) for m in received)


def test_a_stopped_broker_frees_its_port_and_a_taken_port_is_reported():
    with EmbeddedBroker() as running:
        port = running.port
        assert wait_for_port("127.0.0.1", port, timeout=1)
        clash = EmbeddedBroker(port=port, start_timeout=3)
        with pytest.raises(BrokerStartError):
            clash.start()
    assert not wait_for_port("127.0.0.1", port, timeout=0.3)
    assert free_port() != 0


async def send_one_at_a_time(settings, topic: str, partition: int, count: int) -> None:
    """``body 0`` .. ``body {count - 1}`` to one partition, each its own batch, so a read can start mid-log."""
    producer = AIOKafkaProducer(**aiokafka_options(settings))
    await producer.start()
    try:
        for n in range(count):
            await producer.send_and_wait(topic, f"body {n}".encode(), partition=partition)
    finally:
        await producer.stop()


async def test_a_range_of_one_partition_reads_back_exactly(kafka_settings):
    # What both agents use to read records their consumer skipped (ReadGaps, LinkCursor).
    await create_topics(kafka_settings)
    topic = kafka_settings.topic_raw
    await send_one_at_a_time(kafka_settings, topic, partition=1, count=8)
    records = await read_range(kafka_settings, topic, 1, 3, 6)
    assert [(r.offset, r.value) for r in records] == [(n, f"body {n}".encode()) for n in (3, 4, 5)]
    assert [r.offset for r in await read_range(kafka_settings, topic, 1, 7, 8)] == [7]  # the last one


async def test_the_group_committed_offsets_and_where_a_partition_starts_are_read_back(kafka_settings):
    # Where ReadGaps starts each assignment: the offsets the worker's group committed, read by an admin client.
    await create_topics(kafka_settings)
    topic = kafka_settings.topic_raw
    reads = BrokerReads(kafka_settings)
    assert await reads.committed([(topic, 0), (topic, 1)]) == {(topic, 0): None, (topic, 1): None}
    await send_one_at_a_time(kafka_settings, topic, partition=1, count=4)
    member = AIOKafkaConsumer(group_id=kafka_settings.app_id, enable_auto_commit=False,
                              **aiokafka_options(kafka_settings))
    await member.start()
    try:
        member.assign([TopicPartition(topic, 1)])
        await member.commit({TopicPartition(topic, 1): 3})
    finally:
        await member.stop()
    assert await reads.committed([(topic, 0), (topic, 1)]) == {(topic, 0): None, (topic, 1): 3}
    assert await reads.first_retained(topic, 1) == 0
    assert [r.offset for r in await reads.records(topic, 1, 2, 4)] == [2, 3]
