"""The one settings object: read from NEWSWORKER_* variables, validated up front, frozen."""

from __future__ import annotations

import os

import pydantic
import pytest

from worker.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    # A developer's own NEWSWORKER_* variables must not change what these tests see.
    for name in [n for n in os.environ if n.startswith("NEWSWORKER_")]:
        monkeypatch.delenv(name)


def test_defaults_name_the_documented_topics():
    settings = Settings()
    assert (settings.topic_raw, settings.topic_articles, settings.topic_followups, settings.topic_deadletter) == (
        "news.raw", "news.articles", "news.followups", "news.deadletter"
    )
    assert settings.max_body_bytes == 2_000_000 and settings.profile == "production"


def test_environment_variables_with_the_prefix_are_read_and_typed(monkeypatch):
    monkeypatch.setenv("NEWSWORKER_TOPIC_RAW", "crawler.pages")
    monkeypatch.setenv("NEWSWORKER_PARTITIONS_RAW", "12")
    monkeypatch.setenv("NEWSWORKER_WEB_ENABLED", "false")
    monkeypatch.setenv("NEWSWORKER_BATCH_TIMEOUT", "0.05")
    monkeypatch.setenv("TOPIC_RAW", "unprefixed.is.ignored")
    settings = Settings()
    assert settings.topic_raw == "crawler.pages"
    assert settings.partitions_raw == 12
    assert settings.web_enabled is False
    assert settings.batch_timeout == 0.05


def test_brokers_drop_the_kafka_scheme_and_blanks(monkeypatch):
    monkeypatch.setenv("NEWSWORKER_BROKERS", " kafka://k0:9092, k1:9093 ,,")
    settings = Settings()
    assert settings.brokers == "k0:9092,k1:9093"
    assert settings.bootstrap_servers == ["k0:9092", "k1:9093"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NEWSWORKER_BROKERS", " , "),
        ("NEWSWORKER_PARTITIONS_RAW", "0"),
        ("NEWSWORKER_BATCH_SIZE", "many"),
        ("NEWSWORKER_WEB_PORT", "70000"),
        ("NEWSWORKER_PROFILE", "staging"),
        ("NEWSWORKER_SECURITY_PROTOCOL", "TLS"),
        ("NEWSWORKER_MAX_HTML_DEPTH", "3"),
    ],
)
def test_invalid_values_are_refused_at_start(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(pydantic.ValidationError) as refused:
        Settings()
    assert variable.removeprefix("NEWSWORKER_").lower() in str(refused.value)


def test_settings_are_frozen():
    settings = Settings()
    with pytest.raises(pydantic.ValidationError):
        settings.topic_raw = "other"


def test_session_timeout_follows_the_profile_unless_set():
    assert Settings(profile="dev").effective_session_timeout == 10.0
    assert Settings(profile="production").effective_session_timeout == 30.0
    assert Settings(profile="dev", session_timeout=4.5).effective_session_timeout == 4.5


def test_unknown_variables_with_the_prefix_do_not_stop_the_worker(monkeypatch):
    monkeypatch.setenv("NEWSWORKER_NOT_A_SETTING", "1")
    assert Settings().app_id == "newsworker"


def test_every_setting_is_described():
    assert [name for name, field in Settings.model_fields.items() if not field.description] == []


def test_records_must_hold_the_dead_letter_of_the_largest_allowed_input():
    with pytest.raises(pydantic.ValidationError, match="at least twice max_body_bytes"):
        Settings(max_body_bytes=3_000_000, max_message_bytes=4_000_000)
    assert Settings(max_body_bytes=3_000_000, max_message_bytes=6_000_000).max_message_bytes == 6_000_000


def test_worker_topics_and_clients_allow_records_of_max_message_bytes():
    from worker.app import faust_options
    from worker.kafka.topics import worker_topics

    settings = Settings(max_message_bytes=12_000_000)
    for topic in worker_topics(settings):
        assert topic.new_topic().topic_configs == {"max.message.bytes": "12000000"}, topic.name
    options = faust_options(settings)
    assert options["producer_max_request_size"] == options["consumer_max_fetch_size"] == 12_000_000
