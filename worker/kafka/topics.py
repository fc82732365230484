"""The worker's topics, created explicitly with the configured partitions before any worker subscribes.

Creating them up front matters: a broker with auto-creation on (the embedded one always is) would otherwise make
them on first use with its own default partition count, and Faust does not create source topics as configured.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import for_code

from worker.security import aiokafka_options
from worker.settings import Settings

logger = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code: creating an existing topic is fine (idempotent)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    max_message_bytes: int | None = None  # the topic's max.message.bytes; None keeps the broker's default

    def new_topic(self) -> NewTopic:
        configs = {} if self.max_message_bytes is None else {"max.message.bytes": str(self.max_message_bytes)}
        return NewTopic(self.name, num_partitions=self.partitions, replication_factor=self.replication,
                        topic_configs=configs)


def stories_topic(settings: Settings) -> str:
    """The internal topic between enrichment and follow-up linking (one partition: one linker sees all)."""
    return f"{settings.app_id}-stories"


def worker_topics(settings: Settings) -> list[TopicSpec]:
    """Input, output, dead-letter and the internal linking topic, with the partition counts asked for.

    >>> [t.name for t in worker_topics(Settings())]
    ['news.raw', 'news.articles', 'news.followups', 'news.deadletter', 'newsworker-stories']
    """
    replication, size = settings.replication_factor, settings.max_message_bytes
    # Kafka's default record limit is about 1 MB; an article made from a 2 MB input is several, so every topic
    # the worker writes (and the raw topic, whose producers send up to max_body_bytes) allows max_message_bytes.
    return [
        TopicSpec(settings.topic_raw, settings.partitions_raw, replication, size),
        TopicSpec(settings.topic_articles, settings.partitions_articles, replication, size),
        TopicSpec(settings.topic_followups, settings.partitions_followups, replication, size),
        TopicSpec(settings.topic_deadletter, settings.partitions_deadletter, replication, size),
        # Internal, so not configurable on its own: it follows the app id like Faust's changelog topics.
        TopicSpec(stories_topic(settings), 1, replication, size),
    ]


async def create_topics(settings: Settings, topics: list[TopicSpec] | None = None,
                        attempts: int = 5) -> dict[str, str]:
    """Create ``topics`` (default: :func:`worker_topics`); returns ``{name: "created" | "exists"}``.

    Existing topics are left as they are (their partition count is not changed). Connection errors are retried
    with backoff, since this runs right after the broker comes up; any other broker error is raised.
    """
    topics = worker_topics(settings) if topics is None else topics
    for attempt in range(1, attempts + 1):
        admin = AIOKafkaAdminClient(**aiokafka_options(settings))
        try:
            await admin.start()
            response = await admin.create_topics(
                [t.new_topic() for t in topics]
            )
            break
        except Exception as exc:
            retriable = getattr(exc, "retriable", False) or isinstance(exc, OSError)
            if not retriable or attempt == attempts:
                raise
            delay = 0.2 * 2 ** attempt
            logger.warning("creating topics failed (%s), retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
        finally:
            await admin.close()
    result: dict[str, str] = {}
    for name, error_code, *rest in response.topic_errors:
        if error_code == 0:
            result[name] = "created"
        elif error_code == _TOPIC_ALREADY_EXISTS:
            result[name] = "exists"
        else:
            message = rest[0] if rest else ""
            raise for_code(error_code)(f"cannot create topic {name}: {message}")
    return result


def create_topics_sync(settings: Settings, topics: list[TopicSpec] | None = None) -> dict[str, str]:
    """:func:`create_topics` for synchronous callers (the CLI, test fixtures)."""
    return asyncio.run(create_topics(settings, topics))
