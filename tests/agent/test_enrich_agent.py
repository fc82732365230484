"""The enrich agent through Faust's ``agent.test_context()``: no broker, the real pipeline, a recording sender.

The sender stands in for Faust's producer only (the thing under test is the agent: batching, routing, retry and
dead-lettering); it records what would have been sent, and can be told to fail the way aiokafka fails.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from worker import app as app_module
from worker import codec
from worker.app import Publisher, PublishFailed, ThreadHost, WorkerMetrics, create_app, readiness, web_routes
from worker.kafka.topics import stories_topic
from worker.pipeline import Pipeline, build_pipeline
from worker.settings import Settings

from log_reads import LogReads
from schema_check import schema_errors

SETTINGS = Settings(profile="dev", app_id="agent-test", topic_raw="in.raw", topic_articles="out.articles",
                    topic_followups="out.followups", topic_deadletter="out.dead", batch_size=4, batch_timeout=0.05,
                    web_enabled=False)
STORIES = stories_topic(SETTINGS)  # where enrich sends articles on to the linking agent


# Every message an agent test sends out is checked against the schema of its topic (the stories topic carries
# enriched articles on to the linking agent, in the article format).
OUTPUT_SCHEMAS = {SETTINGS.topic_articles: "article", STORIES: "article", SETTINGS.topic_followups: "followup",
                  SETTINGS.topic_deadletter: "deadletter"}


class RecordingSender:
    """Records sends, each checked against its topic's schema; ``failures(topic, attempt)`` may return an exception
    to fail that send with."""

    def __init__(self, failures: Callable[[str, int], BaseException | None] = lambda topic, attempt: None) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, list]] = []
        self.attempts: dict[str, int] = {}
        self.invalid: list[str] = []  # schema errors of the messages sent
        self._failures = failures

    async def send(self, topic, key, value, partition, timestamp, headers) -> Any:
        self.attempts[topic] = self.attempts.get(topic, 0) + 1
        delivered = asyncio.get_running_loop().create_future()
        error = self._failures(topic, self.attempts[topic])
        if error is not None:
            delivered.set_exception(error)
        else:
            if topic in OUTPUT_SCHEMAS:  # kept, not raised: the agent would take a raise for a broker refusal
                self.invalid += schema_errors(OUTPUT_SCHEMAS[topic], codec.loads(value))
            self.sent.append((topic, key, value, headers))
            delivered.set_result(None)
        return delivered

    def bodies(self, topic: str) -> list[dict]:
        assert not self.invalid, self.invalid
        return [codec.loads(value) for t, _, value, _ in self.sent if t == topic]


def make_app(sender: RecordingSender, pipeline_factory=build_pipeline, settings: Settings = SETTINGS,
             reads: LogReads | None = None):
    # ThreadHost: the factories below are closures, which a child process could not receive. LogReads: no
    # broker here; with no commits and an empty log, nothing is found skipped unless a test says so.
    app = create_app(settings, pipeline_factory, sender=lambda: sender, host=ThreadHost,
                     reads=reads or LogReads({}))
    app.conf.store = "memory://"
    app.finalize()
    app.flow_control.resume()
    return app


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


GOOD = codec.dumps({"id": "ag-1", "url": "https://agent.example/1", "title": "Bridge reopens",
                    "text": "The river bridge reopened on Monday after repairs.",
                    "published_at": "2025-05-07T08:00:00Z"})
BAD = b'{"id": "ag-2", "text": '


async def test_articles_go_out_keyed_by_id_and_bad_input_to_the_dead_letters():
    sender = RecordingSender()
    app = make_app(sender)
    async with app.newsworker_agent.test_context() as agent:
        await agent.put(GOOD, key=b"https://agent.example/1", partition=1, wait=False)
        await agent.put(BAD, key=b"k2", partition=1, headers=[("trace", b"abc")], wait=False)
        await until(lambda: len(sender.sent) == 2)
    (article,) = sender.bodies(STORIES)
    (letter,) = sender.bodies("out.dead")
    assert article["source_id"] == "ag-1" and article["headline"] == "Bridge reopens"
    assert [key for topic, key, _, _ in sender.sent if topic == STORIES] == [article["id"].encode()]
    assert letter["error"]["code"] == "invalid_json"
    assert base64.b64decode(letter["value_base64"]) == BAD
    assert base64.b64decode(letter["key_base64"]) == b"k2"
    assert letter["headers"] == [{"key": "trace", "value_base64": base64.b64encode(b"abc").decode()}]
    assert letter["source"]["topic"] == "in.raw" and letter["source"]["partition"] == 1
    assert letter["source"]["offset"] == 1  # the test channel numbers messages from 0
    metrics = app.newsworker.metrics.render().decode()
    assert 'newsworker_dead_letters_total{code="invalid_json"} 1.0' in metrics
    assert f'newsworker_produced_messages_total{{topic="{STORIES}"}} 1.0' in metrics
    assert 'newsworker_stage_seconds_count{stage="normalize"}' in metrics


def raw_article(n: int) -> bytes:
    return codec.dumps({"id": f"ag-skip-{n}", "url": f"https://agent.example/skip/{n}", "title": f"Lock {n} reopens",
                        "text": f"Canal lock number {n} reopened on Monday after repairs.",
                        "published_at": "2025-05-07T08:00:00Z"})


async def test_raw_records_the_consumer_skipped_are_read_from_the_broker_and_processed_first():
    """The first records of an assignment never reach the stream (a Faust fetch race): counted from the group's
    committed offset, they are read from the broker and go out before the record handed over."""
    sender = RecordingSender()
    reads = LogReads({("in.raw", 0): {0: raw_article(0), 1: raw_article(1)}}, committed={("in.raw", 0): 0})
    app = make_app(sender, reads=reads)
    async with app.newsworker_agent.test_context() as agent:
        agent.sent_offset = 2
        await agent.put(raw_article(2), key=b"k", partition=0, wait=False)
        await until(lambda: len(sender.sent) == 3)
    assert [article["source_id"] for article in sender.bodies(STORIES)] == ["ag-skip-0", "ag-skip-1", "ag-skip-2"]
    assert reads.reads == [(0, 0, 2)]
    metrics = app.newsworker.metrics.registry
    assert metrics.get_sample_value("newsworker_read_gaps_total", {"topic": "in.raw", "outcome": "read_again"}) == 2


async def test_a_raw_record_below_the_committed_offset_is_acked_without_being_processed_again():
    """A record left over from before an assignment's seek: the group committed past it once its outputs were
    out (by whichever worker held the partition), so processing it again would publish them twice."""
    sender = RecordingSender()
    reads = LogReads({("in.raw", 0): {}}, committed={("in.raw", 0): 5})
    app = make_app(sender, reads=reads)
    async with app.newsworker_agent.test_context() as agent:
        agent.sent_offset = 3
        await agent.put(raw_article(3), key=b"k", partition=0, wait=False)
        agent.sent_offset = 5
        await agent.put(raw_article(5), key=b"k", partition=0, wait=False)
        await until(lambda: len(sender.sent) >= 1)
        await asyncio.sleep(0.3)  # room for a second output, which must not come
    assert [article["source_id"] for article in sender.bodies(STORIES)] == ["ag-skip-5"]
    assert reads.reads == []


async def test_messages_are_processed_in_batches_no_larger_than_the_setting():
    sizes: list[int] = []

    def counting_pipeline(settings, observe) -> Pipeline:
        pipeline = build_pipeline(settings, observe)
        run = pipeline.run
        pipeline.run = lambda envelopes: (sizes.append(len(envelopes)), run(envelopes))[1]  # type: ignore[method-assign]
        return pipeline

    sender = RecordingSender()
    app = make_app(sender, counting_pipeline)
    async with app.newsworker_agent.test_context() as agent:
        for n in range(10):
            await agent.put(codec.dumps({"id": f"b{n}", "text": f"Story number {n} happened today."}), wait=False)
        await until(lambda: len(sender.sent) == 10)
    assert sum(sizes) == 10 and max(sizes) <= SETTINGS.batch_size and len(sizes) >= 3
    assert sorted(b["source_id"] for b in sender.bodies(STORIES)) == sorted(f"b{n}" for n in range(10))


async def test_retriable_broker_errors_are_retried_until_delivered():
    # The first two attempts to reach the articles topic time out, the third gets through.
    sender = RecordingSender(lambda topic, attempt: KafkaTimeoutError() if attempt <= 2 else None)
    app = make_app(sender)
    async with app.newsworker_agent.test_context() as agent:
        await agent.put(GOOD, wait=False)
        await until(lambda: len(sender.sent) == 1)
    assert sender.attempts == {STORIES: 3}
    assert sender.bodies(STORIES)[0]["source_id"] == "ag-1"
    assert f'newsworker_send_retries_total{{topic="{STORIES}"}} 2.0' in app.newsworker.metrics.render().decode()


async def test_an_output_the_broker_refuses_turns_its_input_into_a_processing_error_dead_letter():
    refuse_articles = lambda topic, attempt: MessageSizeTooLargeError() if topic == STORIES else None  # noqa: E731
    sender = RecordingSender(refuse_articles)
    app = make_app(sender)
    async with app.newsworker_agent.test_context() as agent:
        await agent.put(GOOD, key=b"k", wait=False)
        await until(lambda: len(sender.sent) == 1)
    (letter,) = sender.bodies("out.dead")
    assert letter["error"]["code"] == "processing_error"
    assert STORIES in letter["error"]["reason"] and "MessageSizeTooLarge" in letter["error"]["reason"]
    assert base64.b64decode(letter["value_base64"]) == GOOD
    assert sender.attempts[STORIES] == 1  # not retried: the error's class says it will not get better


async def test_a_pipeline_that_raises_dead_letters_the_whole_batch_and_the_agent_goes_on():
    calls = {"n": 0}

    def flaky_pipeline(settings, observe) -> Pipeline:
        pipeline = build_pipeline(settings, observe)
        run = pipeline.run

        def first_call_fails(envelopes):
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("model crashed")
            return run(envelopes)

        pipeline.run = first_call_fails  # type: ignore[method-assign]
        return pipeline

    sender = RecordingSender()
    app = make_app(sender, flaky_pipeline)
    async with app.newsworker_agent.test_context() as agent:
        await agent.put(GOOD, wait=False)
        await until(lambda: len(sender.sent) == 1)
        await agent.put(codec.dumps({"id": "after", "text": "The agent kept going after the crash."}), wait=False)
        await until(lambda: len(sender.sent) == 2)
    (letter,) = sender.bodies("out.dead")
    assert letter["error"]["code"] == "processing_error" and "model crashed" in letter["error"]["reason"]
    assert base64.b64decode(letter["value_base64"]) == GOOD
    assert [a["source_id"] for a in sender.bodies(STORIES)] == ["after"]


async def test_publisher_gives_up_after_bounded_retries(monkeypatch):
    monkeypatch.setattr(app_module, "SEND_ATTEMPTS", 3)
    sender = RecordingSender(lambda topic, attempt: KafkaTimeoutError())
    slept: list[float] = []

    async def no_sleep(seconds: float) -> None:
        slept.append(seconds)

    publisher = Publisher(lambda: sender, SETTINGS, WorkerMetrics(), sleep=no_sleep)
    app = make_app(RecordingSender())
    messages = app_module.route_outcomes(
        build_pipeline(SETTINGS).run([app_module.Envelope(value=GOOD)]), SETTINGS,
        app_module.datetime.now(app_module.timezone.utc))
    with pytest.raises(PublishFailed):
        await publisher.publish(messages)
    assert sender.attempts == {"out.articles": 3}  # route_outcomes without a topic: the public one
    assert slept == [0.25, 0.5]  # doubling backoff between attempts


async def test_not_ready_until_the_pipeline_is_built_and_partitions_are_assigned():
    app = make_app(RecordingSender())
    state = readiness(app)
    assert state == {"ready": False, "pipeline": False, "partitions": [], "rebalancing": False}
    await app.newsworker.pipeline()
    state = readiness(app)
    assert state["pipeline"] is True and state["ready"] is False  # built, but no input partition assigned yet
    assert web_routes() == ("/health", "/ready", "/metrics")
