"""WorkerProcess reads counts off the worker's /metrics: the demo, `bench pipeline` and the integration tests
wait on them, so a misread label would make them wait forever or stop early."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from worker.app import WorkerMetrics
from worker.kafka.process import WorkerProcess, sample_matches
from worker.settings import Settings


@pytest.fixture
def served_metrics():
    """The worker's real metrics registry behind a /metrics route on a free port."""
    metrics = WorkerMetrics()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = generate_latest(metrics.registry)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield metrics, server.server_address[1]
    server.shutdown()


def test_counts_are_read_per_topic_and_summed_over_labels(served_metrics, tmp_path: Path):
    metrics, port = served_metrics
    worker = WorkerProcess(Settings(web_enabled=True, web_host="127.0.0.1", web_port=port), tmp_path / "w.log")
    assert worker.produced("news.articles") == 0  # no sample before the first increment
    metrics.produced.labels(topic="news.articles").inc(3)
    metrics.produced.labels(topic="news.articles.dlq").inc(2)
    metrics.consumed.labels(topic="news.raw").inc(7)
    metrics.dead_letters.labels(code="bad_json").inc()
    metrics.dead_letters.labels(code="no_text").inc(4)
    assert worker.produced("news.articles") == 3  # not the topic whose name it prefixes
    assert worker.produced("news.articles.dlq") == 2
    assert worker.consumed("news.raw") == 7
    assert worker.metric("newsworker_dead_letters_total") == 5
    assert worker.metric("newsworker_dead_letters_total", code="no_text") == 4
    # the counter's creation-time sample is another metric, not a second count
    assert worker.metric("newsworker_produced_messages_created", topic="news.articles") > 0
    assert worker.metric("newsworker_produced_messages_total", topic="news.articles") == 3


def test_a_sample_matches_its_name_and_all_requested_labels_only():
    line = 'newsworker_dead_letters_total{code="bad_json",topic="x"} 2.0'
    assert sample_matches(line, "newsworker_dead_letters_total", {"code": "bad_json"})
    assert sample_matches(line, "newsworker_dead_letters_total", {})
    assert not sample_matches(line, "newsworker_dead_letters", {})
    assert not sample_matches(line, "newsworker_dead_letters_total", {"code": "bad"})
    assert not sample_matches("# HELP newsworker_dead_letters_total Inputs.", "newsworker_dead_letters_total", {})
    assert sample_matches("newsworker_redelivered_records_total 1.0", "newsworker_redelivered_records_total", {})
