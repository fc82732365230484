"""The one settings object. Read once at the edge (the CLI), then passed inward.

Every field can be set from the environment with the ``NEWSWORKER_`` prefix, e.g.
``NEWSWORKER_BROKERS=kafka-0:9092,kafka-1:9092`` or ``NEWSWORKER_TOPIC_RAW=crawler.pages``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSWORKER_", frozen=True, extra="ignore")

    # --- Kafka connection -------------------------------------------------------------------------
    brokers: str = Field(
        "localhost:9092", description="Comma-separated bootstrap servers (host:port, kafka:// prefix optional)."
    )
    app_id: str = Field("newsworker", description="Faust app id: the consumer group and the prefix of internal topics.")
    profile: Literal["production", "dev"] = Field(
        "production",
        description="`dev` tunes the clients for the embedded broker: short session timeout, one record per producer batch.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How to reach the brokers."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism, with SASL_PLAINTEXT or SASL_SSL."
    )
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(None, description="SASL password (never logged).")
    ssl_cafile: str | None = Field(None, description="CA bundle that signs the brokers' certificates (PEM).")
    ssl_certfile: str | None = Field(None, description="Client certificate for mutual TLS (PEM).")
    ssl_keyfile: str | None = Field(None, description="Client private key for mutual TLS (PEM).")
    ssl_key_password: SecretStr | None = Field(None, description="Password of the client private key.")
    ssl_check_hostname: bool = Field(True, description="Check that the broker certificate names the host.")

    # --- topics -----------------------------------------------------------------------------------
    topic_raw: str = Field("news.raw", description="Input: raw articles from crawlers and feed readers.")
    topic_articles: str = Field("news.articles", description="Output: one enriched article per story.")
    topic_followups: str = Field("news.followups", description="Output: one link event per follow-up decision.")
    topic_deadletter: str = Field("news.deadletter", description="Output: rejected inputs with their original bytes.")
    partitions_raw: int = Field(4, ge=1, description="Partitions of the input topic (the most workers that share the load).")
    partitions_articles: int = Field(4, ge=1, description="Partitions of the articles topic.")
    partitions_followups: int = Field(1, ge=1, description="Partitions of the follow-ups topic.")
    partitions_deadletter: int = Field(1, ge=1, description="Partitions of the dead-letter topic.")
    replication_factor: int = Field(1, ge=1, description="Replication factor of the topics the worker creates.")

    # --- worker -----------------------------------------------------------------------------------
    store: str = Field("memory://", description="Faust table store (memory:// or rocksdb://).")
    data_dir: str = Field("/tmp/newsworker", description="Faust data directory (table stores, local state).")
    web_host: str = Field("0.0.0.0", description="Interface of the web server (health, readiness, metrics).")
    web_port: int = Field(6066, ge=0, le=65535, description="Port of the web server.")
    web_enabled: bool = Field(True, description="Serve /health, /ready and /metrics.")
    batch_size: int = Field(32, ge=1, description="Raw articles taken from the stream per pipeline batch.")
    batch_timeout: float = Field(0.2, gt=0, description="Longest wait (s) to fill a batch.")
    session_timeout: float | None = Field(None, description="Consumer session timeout in s (default: by profile).")
    log_level: str = Field("INFO", description="Root log level.")
    log_json: bool = Field(False, description="Log one JSON object per line.")

    # --- input limits -----------------------------------------------------------------------------
    max_body_bytes: int = Field(2_000_000, ge=1, description="Larger inputs are dead-lettered (too_large).")
    max_message_bytes: int = Field(
        8 * 1024 * 1024, ge=1024,
        description="Largest record the worker publishes (producer max.request.size; its topics are created with "
                    "this max.message.bytes). An article's JSON is about 3x its text, a dead letter 1.4x the input: "
                    "at least 2x max_body_bytes, so every rejected input's dead letter fits.")
    max_html_depth: int = Field(400, ge=10, description="Deeper HTML nesting is dead-lettered (html_too_complex).")
    max_html_elements: int = Field(100_000, ge=10, description="HTML with more elements is dead-lettered.")

    @field_validator("brokers")
    @classmethod
    def _strip_scheme(cls, value: str) -> str:
        hosts = [h.strip().removeprefix("kafka://") for h in value.split(",") if h.strip()]
        if not hosts:
            raise ValueError("at least one broker is needed")
        return ",".join(hosts)

    @model_validator(mode="after")
    def _dead_letters_fit(self) -> Settings:
        # A dead letter carries the input's bytes in base64 (4/3 of them) plus its metadata: if it did not fit in
        # one record, an oversized input could be neither published nor dead-lettered.
        if self.max_message_bytes < 2 * self.max_body_bytes:
            raise ValueError(f"max_message_bytes ({self.max_message_bytes}) must be at least twice max_body_bytes "
                             f"({self.max_body_bytes}), so that every rejected input's dead letter fits")
        return self

    @property
    def bootstrap_servers(self) -> list[str]:
        return self.brokers.split(",")

    @property
    def effective_session_timeout(self) -> float:
        # The embedded broker makes every group join wait half the session timeout (see the README).
        if self.session_timeout is not None:
            return self.session_timeout
        return 10.0 if self.profile == "dev" else 30.0
