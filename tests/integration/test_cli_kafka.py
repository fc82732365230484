"""``newsworker topics``, ``produce`` and ``tail`` as a user runs them, against the session broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from worker.kafka.process import settings_environment

pytestmark = pytest.mark.integration


def newsworker(settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings_environment(settings)}
    return subprocess.run([sys.executable, "-m", "worker", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=60)


def test_topics_create_then_describe(kafka_settings):
    created = newsworker(kafka_settings, "topics", "create")
    assert created.returncode == 0, created.stderr
    assert f"{kafka_settings.topic_raw}: created (2 partitions, replication 1)" in created.stdout
    again = newsworker(kafka_settings, "topics", "create")
    assert f"{kafka_settings.topic_raw}: exists" in again.stdout
    described = newsworker(kafka_settings, "topics", "describe")
    assert described.returncode == 0, described.stderr
    assert f"{kafka_settings.topic_deadletter}: 1 partitions, replication 1" in described.stdout


def test_produce_files_then_tail_them(kafka_settings, tmp_path):
    assert newsworker(kafka_settings, "topics", "create").returncode == 0
    lines = tmp_path / "articles.jsonl"
    lines.write_text(json.dumps({"id": "cli-1", "url": "https://cli.example/1", "text": "First story."}) + "\n"
                     + json.dumps({"id": "cli-2", "text": "Second story."}) + "\n"
                     + "{not json\n")
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>A page about the harbour.</p></body></html>")
    produced = newsworker(kafka_settings, "produce", str(lines), "--header", "source=cli-test")
    assert produced.returncode == 0, produced.stderr
    assert "3 messages" in produced.stderr
    produced = newsworker(kafka_settings, "produce", str(page), "--id", "cli-page", "--published-at",
                          "2025-01-02T03:04:05Z")
    assert produced.returncode == 0, produced.stderr

    tailed = newsworker(kafka_settings, "tail", kafka_settings.topic_raw, "--from-beginning", "--max", "4",
                        "--compact", "--timeout", "20")
    assert tailed.returncode == 0, tailed.stderr
    records = [line for line in tailed.stdout.splitlines() if line]
    assert len(records) == 4
    by_key = {line.split("key=")[1].split()[0]: line for line in records}
    assert set(by_key) == {"https://cli.example/1", "cli-2", "-", "cli-page"}
    assert "source=cli-test" in by_key["cli-2"] and "{not json" in by_key["-"]
    assert "content-type=text/html" in by_key["cli-page"] and "published_at=2025-01-02T03:04:05Z" in by_key["cli-page"]
    assert '"text":"First story."' in by_key["https://cli.example/1"]


def test_tail_stops_after_the_idle_timeout_and_bad_usage_is_refused(kafka_settings, tmp_path):
    assert newsworker(kafka_settings, "topics", "create").returncode == 0
    idle = newsworker(kafka_settings, "tail", kafka_settings.topic_articles, "--from-beginning", "--timeout", "1")
    assert idle.returncode == 0 and idle.stdout == "" and "0 messages" in idle.stderr
    bad = newsworker(kafka_settings, "produce", str(tmp_path / "missing.jsonl"))
    assert bad.returncode == 1 and "cannot read" in bad.stderr
    bad = newsworker(kafka_settings, "produce", "-", "--header", "no-equals-sign", stdin="{}\n")
    assert bad.returncode == 2 and "NAME=VALUE" in bad.stderr
