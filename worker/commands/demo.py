"""``newsworker demo``: embedded broker + worker + the sample articles, each output printed as it comes out.

Starts the embedded Kafka-protocol broker on a free loopback port, creates the topics, starts ``newsworker
worker`` as a child process and waits until it is ready, publishes the invented samples of ``worker/samples``
(good articles and deliberately bad inputs) and prints every article and dead letter as it arrives. Runs until
Ctrl-C; with ``--once`` it exits 0 as soon as every sample has come out (1 on timeout). The worker and the
broker are stopped cleanly in every case.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from worker.settings import Settings


# --once: seconds without a new output, after every sample has come out, before the demo calls it done.
SETTLE_S = 1.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true",
                        help="exit once every sample has come out (0), or after --timeout (1)")
    parser.add_argument("--timeout", type=float, default=180.0,
                        help="with --once: seconds to wait for all samples after the worker is ready (default 180)")


class _Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def bold(self, text: str) -> str:
        return self(text, "1")

    def dim(self, text: str) -> str:
        return self(text, "2")

    def green(self, text: str) -> str:
        return self(text, "32")

    def red(self, text: str) -> str:
        return self(text, "31")

    def cyan(self, text: str) -> str:
        return self(text, "36")


class _Terminate(Exception):
    """SIGTERM to the demo: unwind like Ctrl-C so the worker and the broker are stopped."""


def run(args: argparse.Namespace, settings: Settings) -> int:
    from worker.kafka.broker import EmbeddedBroker, free_port
    from worker.kafka.process import WorkerProcess, WorkerStartError
    from worker.kafka.topics import create_topics_sync, worker_topics

    out = sys.stdout
    style = _Style(out.isatty())
    if args.log_level is None:
        # The demo's own lines tell the story; client chatter on stderr would only interleave with them.
        logging.getLogger().setLevel(logging.WARNING)

    def step(text: str) -> None:
        out.write(f"{style.cyan('▸')} {text}")
        out.flush()

    def raise_terminate(signum: int, frame: Any) -> None:
        raise _Terminate()

    previous = signal.signal(signal.SIGTERM, raise_terminate)
    workdir = Path(tempfile.mkdtemp(prefix="newsworker-demo-"))
    broker = EmbeddedBroker()
    worker: WorkerProcess | None = None
    try:
        step("starting the embedded broker … ")
        started = time.monotonic()
        broker.start()
        out.write(f"{broker.bootstrap} ({time.monotonic() - started:.2f} s)\n")
        demo = settings.model_copy(update={
            "brokers": broker.bootstrap, "profile": "dev", "security_protocol": "PLAINTEXT",
            "ssl_cafile": None, "ssl_certfile": None, "ssl_keyfile": None,
            "web_enabled": True, "web_host": "127.0.0.1", "web_port": free_port(),
            "data_dir": str(workdir / "data"), "store": "memory://",
        })
        step("creating topics … ")
        create_topics_sync(demo)
        out.write(", ".join(f"{t.name} ({t.partitions})" for t in worker_topics(demo)) + "\n")
        step(f"starting the worker (log: {workdir / 'worker.log'}) ")
        worker = WorkerProcess(demo, workdir / "worker.log").start()
        waited = worker.wait_ready(tick=lambda: (out.write("."), out.flush()))
        out.write(f" ready in {waited:.1f} s, web on {worker.base_url} (/health /ready /metrics)\n")
        return asyncio.run(_show(demo, args, out, style))
    except WorkerStartError as exc:
        out.write("\n")
        print(f"newsworker demo: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _Terminate):
        out.write("\n")
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
        if worker is not None:
            step("stopping the worker … ")
            code = worker.stop()
            out.write(f"exit code {code}\n")
        step("stopping the broker … ")
        broker.stop()
        out.write("done\n")
        signal.signal(signal.SIGTERM, previous)


async def _show(settings: Settings, args: argparse.Namespace, out: TextIO, style: _Style) -> int:
    from worker.kafka.clients import OutputTracker, RawMessage, follow, publish
    from worker.samples import sample_messages

    samples = sample_messages()
    messages = [RawMessage(s.value, s.key, s.headers) for s in samples]
    out.write(f"{style.cyan('▸')} publishing {len(messages)} samples to {settings.topic_raw} "
              f"({sum(s.expect == 'article' for s in samples)} articles, "
              f"{sum(s.expect != 'article' for s in samples)} bad inputs)\n\n")
    where = await publish(settings, settings.topic_raw, messages)
    tracker = OutputTracker.for_messages(settings, messages, where)
    names_by_id = {sent.source_id: sample.name for sample, sent in zip(samples, tracker.sent) if sent.source_id}
    names_by_offset = {(sent.where.partition, sent.where.offset): sample.name
                       for sample, sent in zip(samples, tracker.sent)}
    started = time.monotonic()
    announced = False

    async def watch() -> None:
        nonlocal announced
        records = follow(settings, [settings.topic_articles, settings.topic_deadletter]).__aiter__()
        last_output = started
        while True:
            # --once: after every input has come out, wait a little for the other stories of a page, which
            # follow its first article, and finish when nothing more arrives.
            settling = args.once and not tracker.pending()
            wait = max(0.0, last_output + SETTLE_S - time.monotonic()) if settling else None
            try:
                record = await asyncio.wait_for(records.__anext__(), wait)
            except asyncio.TimeoutError:
                out.write(_summary(tracker, last_output - started, style))
                return
            last_output = time.monotonic()
            output = tracker.add(record)
            body = output.body if output else _parse(record.value)
            if body is None:
                continue
            if record.topic == settings.topic_articles:
                out.write(_describe_article(body, names_by_id.get(body.get("source_id")), style))
            elif record.topic == settings.topic_deadletter:
                source = body.get("source") or {}
                name = names_by_offset.get((source.get("partition"), source.get("offset"))) if output else None
                out.write(_describe_dead_letter(body, name, style))
            out.flush()
            if not tracker.pending() and not announced and not args.once:
                announced = True
                out.write(_summary(tracker, time.monotonic() - started, style))
                out.write(f"{style.cyan('▸')} still watching: publish more with\n"
                          f"    NEWSWORKER_BROKERS={settings.brokers} newsworker produce FILE ...\n"
                          f"  Ctrl-C stops the worker and the broker.\n\n")
                out.flush()

    if not args.once:
        await watch()
        return 0
    try:
        await asyncio.wait_for(watch(), args.timeout)
    except asyncio.TimeoutError:
        pending = tracker.pending()
        out.write(style.red(f"\n{len(pending)} of {len(tracker.sent)} samples did not come out within "
                            f"{args.timeout:.0f} s\n"))
        return 1
    return 0


def _parse(value: bytes) -> dict[str, Any] | None:
    from worker import codec

    try:
        parsed = codec.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _describe_article(article: dict[str, Any], sample: str | None, style: _Style) -> str:
    headline = article.get("headline") or _first_words(article.get("text", ""), 12)
    published = (article.get("published_at") or "")[:10] or "no date"
    tags = [article.get("kind", "main"), article.get("language") or "?", published,
            f"{article.get('word_count', 0)} words"]
    lines = [f"{style.green('● article')}  {style.bold(headline)}",
             f"    {style.dim(' · '.join(tags) + (f'   from {sample}' if sample else ''))}"]
    if article.get("standfirst"):
        lines.append(f"    standfirst: {_first_words(article['standfirst'], 20)}")
    details = []
    if article.get("dateline"):
        details.append(f"dateline {article['dateline']['place']}")
    if article.get("byline"):
        details.append(article["byline"])
    if details:
        lines.append(f"    {' · '.join(details)}")
    dates = [f"“{d['text']}” → {d['value'] or '?'}" for d in article.get("dates", [])[:4]]
    if dates:
        lines.append(f"    dates: {', '.join(dates)}")
    entities = [f"{e.get('name')} ({e.get('type')})" for e in (article.get("entities") or [])[:6]]
    if entities:
        lines.append(f"    entities: {', '.join(entities)}")
    places = [p.get("name") or p.get("text") for p in (article.get("focus_locations") or [])[:4]
              if isinstance(p, dict)]
    if places:
        lines.append(f"    places: {', '.join(str(p) for p in places)}")
    for quote in (article.get("quotes") or [])[:2]:
        lines.append(f"    quote: “{_first_words(quote.get('text', ''), 10)}” — {quote.get('speaker') or 'unattributed'}")
    followup = article.get("followup")
    if isinstance(followup, dict) and followup.get("relation"):
        links = [f"{link.get('article_id')} ({link.get('relation')}, {link.get('score', 0):.2f})"
                 for link in (followup.get("links") or [])[:2]]
        # a new story's links go to articles published after it that arrived before it
        joiner = ", published before " if followup["relation"] == "new_story" else " of "
        lines.append(f"    story {followup.get('story_id')}: {style.cyan(followup['relation'])}"
                     + (f"{joiner}{', '.join(links)}" if links else ""))
        facts = followup.get("new_facts") or []
        if links and facts:
            lines.append(f"    new: {_first_words(facts[0].get('text', ''), 16)}"
                         + (f" (+{len(facts) - 1} more)" if len(facts) > 1 else ""))
    return "\n".join(lines) + "\n\n"


def _describe_dead_letter(letter: dict[str, Any], sample: str | None, style: _Style) -> str:
    error = letter.get("error", {})
    source = letter.get("source", {})
    value = base64.b64decode(letter["value_base64"]) if letter.get("value_base64") else b""
    preview = value[:60].decode("utf-8", errors="replace").replace("\n", "⏎")
    printable = "".join(c if c.isprintable() else "·" for c in preview)
    where = f"{source.get('topic')}[{source.get('partition')}]@{source.get('offset')}"
    kept = f"{where} · {letter.get('value_size') or 0} bytes kept" + (f"   from {sample}" if sample else "")
    shown = repr(printable) if printable else "(no value)"
    return (f"{style.red('✖ dead letter')}  {style.bold(error.get('code', '?'))}: {error.get('reason', '')}\n"
            f"    {style.dim(kept)}\n    {style.dim(shown)}\n\n")


def _summary(tracker: Any, seconds: float, style: _Style) -> str:
    inputs = len(tracker.sent)
    rejected = sum(1 for s in tracker.sent if tracker.dead_letters_of(s))
    return style.bold(f"✔ all {inputs} samples came out in {seconds:.1f} s: {len(tracker.articles)} articles from "
                      f"{inputs - rejected} inputs, {rejected} dead letters\n\n")


def _first_words(text: str, count: int) -> str:
    words = text.split()
    return " ".join(words[:count]) + (" …" if len(words) > count else "")
