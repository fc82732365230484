"""``newsworker bench pipeline``: end-to-end rate through the embedded broker against the offline pipeline.

Both runs process the same N raw messages, made from the good articles of ``worker/samples`` (each copy with
its own id, so every output is a distinct article):

* **offline**: the worker's work without Kafka, as ``newsworker enrich`` does it — ``Pipeline.run`` in batches of
  ``NEWSWORKER_BATCH_SIZE`` and follow-up linking of every article in order — in this process, after one
  warm-up batch: the most the worker could do;
* **end to end**: the embedded broker, ``newsworker worker`` as a child process (models loaded, group joined
  before the clock starts), the messages published at once, the clock stopped when the last input has come out.
  The worker gets one warm-up batch first (offline gets one too).
* **latency**: messages published one at a time at a modest rate (no backlog), each measured from its input
  record's timestamp to its first article's record timestamp (both stamped by producers on this host).

The ratio end-to-end / offline says what the stream layer costs (target ≥ 0.8). The peak resident set (VmHWM)
of the worker and of its pipeline process is read from /proc at the end; their sum is what one container needs
at most, and ``--rss-record FILE`` writes it where the Kubernetes manifests are sized from
(``deploy/measured-rss.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from worker.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--messages", type=int, default=2000, help="raw messages in each run (default 2000)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up on the end-to-end run after this")
    parser.add_argument("--profile", choices=("dev", "production"), default="production",
                        help="client profile of the end-to-end worker (default production, as deployed; dev sends "
                             "one record per producer request, which caps the rate on the embedded broker)")
    parser.add_argument("--rss-record", type=Path, default=None,
                        help="write the worker's peak RSS (worker + pipeline process) to this JSON file")
    parser.add_argument("--latency-messages", type=int, default=100, help="messages of the paced latency run")
    parser.add_argument("--latency-rate", type=float, default=20.0,
                        help="messages per second of the paced latency run (well under capacity)")


def bench_messages(count: int, prefix: str = "bench") -> list[Any]:
    """``count`` raw messages cycling through the good samples, each with its own id (and key)."""
    from worker import codec
    from worker.kafka.clients import RawMessage
    from worker.samples import sample_messages

    good = [s for s in sample_messages() if s.expect == "article"]
    messages = []
    for n in range(count):
        sample = good[n % len(good)]
        article_id = f"{prefix}-{n}"
        if sample.value.lstrip()[:1] == b"{":
            body = codec.loads(sample.value)
            body.update(id=article_id, url=f"https://bench.example/{prefix}/{n}")
            messages.append(RawMessage(codec.dumps(body), body["url"].encode(), sample.headers))
        else:
            headers = tuple((k, v) for k, v in sample.headers if k not in ("id", "url"))
            messages.append(RawMessage(sample.value, article_id.encode(), (("id", article_id.encode()), *headers)))
    return messages


def offline_rate(settings: Settings, messages: list[Any]) -> tuple[float, list[int]]:
    """Messages per second of the worker's work done offline, as ``newsworker enrich`` does it: ``Pipeline.run``
    in batches, then follow-up linking of every article in order (in-memory index). After a warm-up batch.
    Returns the rate and each message's article count.
    """
    from worker.pipeline import build_pipeline
    from worker.records import Envelope, Origin
    from worker.stories import StoryLinker

    pipeline = build_pipeline(settings)
    linker = StoryLinker()
    envelopes = [Envelope(value=m.value, key=m.key, headers=m.headers, origin=Origin(topic="bench", offset=i))
                 for i, m in enumerate(messages)]
    pipeline.run(envelopes[: settings.batch_size])  # warm-up: first-call costs (lazy imports, caches)
    counts: list[int] = []
    started = time.perf_counter()
    for start in range(0, len(envelopes), settings.batch_size):
        for outcome in pipeline.run(envelopes[start : start + settings.batch_size]):
            counts.append(len(outcome.articles))
            for article in outcome.articles:
                linker.link_one(article)
    return len(envelopes) / (time.perf_counter() - started), counts


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_by_role(roles: dict[str, list[int]]) -> dict[str, float]:
    return {role: sum(_cpu_seconds(pid) for pid in pids) for role, pids in roles.items()}


def _peak_rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _through(settings: Settings, worker: Any, messages: list[Any], expected_articles: int,
             timeout: float) -> tuple[float, float, float]:
    """Publish ``messages`` at once; wait until the worker reports their articles published.

    Returns (start, time the last article was seen, articles published). The worker's /metrics is polled every
    20 ms instead of consuming the outputs, so the measuring costs the machine almost nothing.
    """
    from worker.kafka.clients import publish

    before = worker.produced(settings.topic_articles)
    started = time.time()
    asyncio.run(publish(settings, settings.topic_raw, messages))
    deadline = time.monotonic() + timeout
    while (produced := worker.produced(settings.topic_articles) - before) < expected_articles:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {produced:.0f} of {expected_articles} articles within {timeout:.0f} s")
        time.sleep(0.02)
    return started, time.time(), produced


async def _paced_latencies(settings: Settings, messages: list[Any], rate: float) -> list[float]:
    """Publish one message every 1/rate s, then collect; seconds from each input record to its first article."""
    from aiokafka import AIOKafkaProducer

    from worker.kafka.clients import OutputTracker, follow
    from worker.security import aiokafka_options

    producer = AIOKafkaProducer(**aiokafka_options(settings))
    await producer.start()
    where = []
    try:
        for message in messages:
            where.append(await producer.send_and_wait(settings.topic_raw, message.value, key=message.key,
                                                      headers=list(message.headers)))
            await asyncio.sleep(1 / rate)
    finally:
        await producer.stop()
    tracker = OutputTracker.for_messages(settings, messages, where)
    async for record in follow(settings, [settings.topic_articles, settings.topic_deadletter]):
        tracker.add(record)
        if not tracker.pending():
            break
    input_ms = {s.source_id: s.where.timestamp for s in tracker.sent}
    first_ms: dict[str, int] = {}
    for output in tracker.articles:
        source = output.body["source_id"]
        first_ms[source] = min(first_ms.get(source, output.timestamp_ms), output.timestamp_ms)
    return [(first_ms[s] - input_ms[s]) / 1000 for s in first_ms]


async def _broker_floor_latencies(settings: Settings, samples: int = 10) -> list[float]:
    """Produce → consume latency of a bare aiokafka consumer fetching like Faust's (fetch_max_wait_ms=1500).

    The baseline for the worker's latency: on the embedded broker a waiting fetch is answered on the broker's
    own schedule, not when the record arrives, and no worker can be faster than that.
    """
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from worker.security import aiokafka_options

    topic = f"{settings.app_id}.latency-floor"
    producer = AIOKafkaProducer(**aiokafka_options(settings))
    consumer = AIOKafkaConsumer(topic, auto_offset_reset="earliest", fetch_max_wait_ms=1500,
                                **aiokafka_options(settings))
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"start")
        await consumer.start()
        try:
            await consumer.getone()
            latencies = []
            for _ in range(samples):
                receiving = asyncio.ensure_future(consumer.getone())
                await asyncio.sleep(0.2)  # the consumer is waiting in a fetch, as an idle worker is
                metadata = await producer.send_and_wait(topic, b"ping")
                record = await receiving
                latencies.append(time.time() - metadata.timestamp / 1000 if record.value == b"ping" else 0.0)
            return latencies
        finally:
            await consumer.stop()
    finally:
        await producer.stop()


def end_to_end(settings: Settings, messages: list[Any], counts: list[int], timeout: float, profile: str,
               latency_messages: int, latency_rate: float) -> dict[str, Any]:
    from worker.kafka.broker import EmbeddedBroker, free_port
    from worker.kafka.process import WorkerProcess
    from worker.kafka.topics import create_topics_sync

    workdir = Path(tempfile.mkdtemp(prefix="newsworker-bench-"))
    with EmbeddedBroker() as broker:
        run_settings = settings.model_copy(update={
            "brokers": broker.bootstrap, "profile": profile, "security_protocol": "PLAINTEXT",
            "ssl_cafile": None, "ssl_certfile": None, "ssl_keyfile": None, "app_id": "newsworker-bench",
            "web_enabled": True, "web_host": "127.0.0.1", "web_port": free_port(), "data_dir": str(workdir),
            "log_level": os.environ.get("NEWSWORKER_BENCH_WORKER_LOG_LEVEL", "WARNING"),
        })
        create_topics_sync(run_settings)
        worker = WorkerProcess(run_settings, workdir / "worker.log").start()
        try:
            ready_s = worker.wait_ready()
            # Warm-up outside the clock, as offline: the worker's first batch pays for lazy imports and caches.
            # The same samples in the same order as the first messages, so they make as many articles: waiting
            # for all of them keeps the warm-up's stragglers out of the timed run's count.
            warm = bench_messages(min(settings.batch_size, len(messages)), prefix="warm")
            _through(run_settings, worker, warm, sum(counts[: len(warm)]), timeout)
            roles = {"worker (Faust, Kafka I/O)": [worker.pid], "pipeline process": _descendants(worker.pid),
                     "broker": [broker.pid], "bench (producer)": [os.getpid()]}
            cpu_before = _cpu_by_role(roles)
            started, last, articles = _through(run_settings, worker, messages, sum(counts), timeout)
            cpu_after = _cpu_by_role(roles)
            latencies = asyncio.run(asyncio.wait_for(
                _paced_latencies(run_settings, bench_messages(latency_messages, prefix="paced"), latency_rate),
                timeout))
            floor = asyncio.run(asyncio.wait_for(_broker_floor_latencies(run_settings), timeout))
            peak_mb = {"worker (Faust, Kafka I/O)": _peak_rss_mb(worker.pid),
                       "pipeline process": sum(_peak_rss_mb(pid) or 0 for pid in _descendants(worker.pid))}
            redelivered = worker.metric("newsworker_redelivered_records_total")
        finally:
            code = worker.stop()
    return {
        "rate": len(messages) / (last - started),
        "seconds": last - started,
        "articles": int(articles),
        "latency_p50": _percentile(latencies, 0.5),
        "latency_p99": _percentile(latencies, 0.99),
        "floor_p50": _percentile(floor, 0.5),
        "peak_rss_mb": peak_mb,
        "redelivered": redelivered,
        "ready_s": ready_s,
        "worker_exit": code,
        "cpu": {role: cpu_after[role] - cpu_before[role] for role in roles},
        "log": workdir / "worker.log",
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.messages < 1 or args.latency_messages < 1 or args.latency_rate <= 0:
        print("newsworker bench pipeline: --messages and --latency-messages must be at least 1, "
              "--latency-rate positive", file=sys.stderr)
        return 2
    messages = bench_messages(args.messages)
    print(f"bench pipeline: {len(messages)} messages (the good samples, cycled), batch size {settings.batch_size}")
    offline, counts = offline_rate(settings, messages)
    print(f"  offline     Pipeline.run + linking in this process: {offline:8.1f} msg/s ({sum(counts)} articles)")
    e2e = end_to_end(settings, messages, counts, args.timeout, args.profile, args.latency_messages,
                     args.latency_rate)
    print(f"  end to end  embedded broker + worker ({args.profile}): {e2e['rate']:8.1f} msg/s "
          f"({e2e['articles']} articles in {e2e['seconds']:.2f} s)")
    print(f"  latency input → article at {args.latency_rate:g} msg/s ({args.latency_messages} messages): "
          f"p50 {e2e['latency_p50'] * 1000:.0f} ms, p99 {e2e['latency_p99'] * 1000:.0f} ms; "
          f"bare consumer on the same broker p50 {e2e['floor_p50'] * 1000:.0f} ms "
          f"(ratio {e2e['latency_p50'] / e2e['floor_p50']:.2f})")
    peaks = e2e["peak_rss_mb"]
    print(f"  peak RSS: " + ", ".join(f"{role} {mb:.0f} MB" for role, mb in peaks.items() if mb is not None)
          + f"; the container's peak at most {sum(mb or 0 for mb in peaks.values()):.0f} MB"
          + f"; ready {e2e['ready_s']:.1f} s after start (not timed); log {e2e['log']}")
    if args.rss_record is not None:
        record = {"peak_rss_mib": round(sum(mb or 0 for mb in peaks.values()), 1),
                  "parts_mib": {role: round(mb or 0, 1) for role, mb in peaks.items()},
                  "command": f"newsworker bench pipeline --messages {len(messages)} --rss-record {args.rss_record}",
                  "python": platform.python_version(), "measured": time.strftime("%Y-%m-%d", time.gmtime())}
        args.rss_record.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(f"  peak RSS recorded in {args.rss_record}")
    if e2e["articles"] != sum(counts):
        print(f"  articles out: {e2e['articles']} end to end vs {sum(counts)} offline; records delivered twice and "
              f"skipped by the worker: {e2e['redelivered']:.0f}")
    cpu = e2e["cpu"]
    print(f"  CPU during the end-to-end run ({os.cpu_count()} cores, {e2e['seconds']:.2f} s wall): " + ", ".join(
        f"{role} {seconds:.2f} s ({seconds * 1000 / len(messages):.2f} ms/msg)" for role, seconds in cpu.items()))
    ratio = e2e["rate"] / offline
    print(f"  ratio end-to-end / offline: {ratio:.2f} ({'meets' if ratio >= 0.8 else 'misses'} the 0.8 target)")
    return 0 if e2e["worker_exit"] == 0 and e2e["articles"] == sum(counts) else 1
