"""``newsworker produce FILE ...``: publish raw articles to the input topic.

JSON-lines files give one message per line, keyed by the article's ``url`` (or ``id``); lines that are not
JSON objects are sent as they are, without a key (handy to watch the dead letters). A ``.txt`` / ``.html`` /
``.htm`` file is one message: its body, with its metadata in headers (``--id``, ``--url``, ``--published-at``,
``--title``, or any ``--header NAME=VALUE``). Files are read the same way as by ``newsworker enrich``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from worker.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="JSON-lines or .txt/.html/.htm files; '-' is stdin")
    parser.add_argument("--topic", help="topic to publish to (default: NEWSWORKER_TOPIC_RAW)")
    parser.add_argument("--header", action="append", default=[], metavar="NAME=VALUE",
                        help="add a header to every message (repeatable)")
    parser.add_argument("--key", help="key of every message (default: the article's url or id)")
    single = parser.add_argument_group("metadata of .txt / .html files (sent as headers)")
    single.add_argument("--id", dest="article_id", help="the article's id")
    single.add_argument("--url", help="the page's URL")
    single.add_argument("--title", help="the article's title")
    single.add_argument("--published-at", help="publication time, ISO 8601")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from worker.commands.enrich import UsageError, read_inputs

    try:
        headers = _headers(args)
        envelopes = list(read_inputs(args.files, (), stdin=sys.stdin.buffer))
    except UsageError as exc:
        print(f"newsworker produce: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"newsworker produce: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    from worker.kafka.clients import RawMessage, publish

    messages = []
    for envelope in envelopes:
        is_body_file = envelope.origin.line is None  # a whole .txt/.html file rather than a JSON line
        extra = headers if is_body_file else tuple(h for h in headers if h[0] not in _BODY_ONLY)
        key = args.key.encode() if args.key else _key(envelope.value, dict(envelope.headers + extra))
        messages.append(RawMessage(envelope.value, key, envelope.headers + extra))
    topic = args.topic or settings.topic_raw
    try:
        where = asyncio.run(publish(settings, topic, messages))
    except Exception as exc:
        print(f"newsworker produce: publishing to {topic} on {settings.brokers} failed: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    partitions = sorted({w.partition for w in where})
    print(f"newsworker produce: {len(where)} messages to {topic} (partitions {partitions})", file=sys.stderr)
    return 0


_BODY_ONLY = {"id", "url", "title", "published_at"}


def _headers(args: argparse.Namespace) -> tuple[tuple[str, bytes], ...]:
    from datetime import datetime

    from worker.commands.enrich import UsageError

    headers: list[tuple[str, bytes]] = []
    for item in args.header:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--header wants NAME=VALUE, got {item!r}")
        headers.append((name, value.encode()))
    if args.published_at is not None:
        try:
            datetime.fromisoformat(args.published_at)
        except ValueError:
            raise UsageError(f"--published-at is not an ISO 8601 time: {args.published_at!r}") from None
    for name, value in (("id", args.article_id), ("url", args.url), ("title", args.title),
                        ("published_at", args.published_at)):
        if value:
            headers.append((name, value.encode()))
    return tuple(headers)


def _key(value: bytes | None, headers: dict[str, bytes]) -> bytes | None:
    """The article's url or id: from the JSON object, else from the headers; None for anything else."""
    from worker import codec

    if value is not None and value.lstrip()[:1] == b"{":
        try:
            obj = codec.loads(value)
        except ValueError:
            return None
        if isinstance(obj, dict):
            key = obj.get("url") or obj.get("id")
            return key.encode() if isinstance(key, str) and key else None
        return None
    key = headers.get("url") or headers.get("id")
    return key or None
