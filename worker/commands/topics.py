"""``newsworker topics create|describe``: the worker's topics with the partitions the settings ask for.

``create`` is idempotent (existing topics are left as they are) and is what the deployment runs once before
the workers start; ``describe`` shows what the cluster has.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from worker.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("create", "describe"), help="create the topics, or show them")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from worker.kafka.topics import create_topics_sync, worker_topics

    if args.action == "create":
        try:
            states = create_topics_sync(settings)
        except Exception as exc:
            print(f"newsworker topics: cannot create topics on {settings.brokers}: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
            return 1
        for spec in worker_topics(settings):
            print(f"{spec.name}: {states.get(spec.name, '?')} ({spec.partitions} partitions, "
                  f"replication {spec.replication})")
        return 0
    return asyncio.run(_describe(settings, [t.name for t in worker_topics(settings)]))


async def _describe(settings: Settings, names: list[str]) -> int:
    from aiokafka.admin import AIOKafkaAdminClient

    from worker.security import aiokafka_options

    admin = AIOKafkaAdminClient(**aiokafka_options(settings))
    await admin.start()
    try:
        # Listing first: describing a missing topic would make an auto-creating broker create it.
        existing = set(await admin.list_topics())
        present = [name for name in names if name in existing]
        described = {t["topic"]: t for t in await admin.describe_topics(present)} if present else {}
    finally:
        await admin.close()
    for name in names:
        topic = described.get(name)
        if topic is None:
            print(f"{name}: missing")
        else:
            replicas = max((len(p["replicas"]) for p in topic["partitions"]), default=0)
            print(f"{name}: {len(topic['partitions'])} partitions, replication {replicas}")
    return 0 if len(described) == len(names) else 1
