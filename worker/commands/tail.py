"""``newsworker tail TOPIC``: follow a topic and pretty-print its messages as they arrive.

JSON values are indented; other values are shown as text (or as bytes when they are not UTF-8). Nothing is
committed: tailing never moves a consumer group.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timezone

from worker.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", help="topic to follow (e.g. news.articles, news.deadletter)")
    parser.add_argument("--from-beginning", action="store_true", help="start at the oldest message, not the next")
    parser.add_argument("--max", type=int, default=None, metavar="N", help="stop after N messages")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="stop after this many seconds without a message")
    parser.add_argument("--compact", action="store_true", help="one line per message (JSON as received)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.max is not None and args.max < 1:
        print("newsworker tail: --max must be at least 1", file=sys.stderr)
        return 2
    try:
        count = asyncio.run(_tail(args, settings))
    except BrokenPipeError:
        return 0  # `newsworker tail ... | head`
    print(f"newsworker tail: {count} messages", file=sys.stderr)
    return 0


async def _tail(args: argparse.Namespace, settings: Settings) -> int:
    from worker.kafka.clients import follow

    count = 0
    async for record in follow(settings, [args.topic], from_beginning=args.from_beginning,
                               idle_timeout=args.timeout):
        sys.stdout.write(format_record(record, compact=args.compact))
        sys.stdout.flush()
        count += 1
        if args.max is not None and count >= args.max:
            break
    return count


def format_record(record, compact: bool = False) -> str:
    """``topic[partition]@offset  time  key=…`` then the value, indented when it is JSON."""
    from worker import codec

    when = datetime.fromtimestamp(record.timestamp / 1000, timezone.utc).isoformat(timespec="milliseconds")
    key = record.key.decode("utf-8", errors="backslashreplace") if record.key is not None else "-"
    head = f"{record.topic}[{record.partition}]@{record.offset}  {when}  key={key}"
    if record.headers:
        head += "  headers=" + ",".join(f"{k}={v.decode('utf-8', errors='backslashreplace')}"
                                        for k, v in record.headers)
    value = record.value
    if value is None:
        body = "(no value)"
    else:
        try:
            body = (codec.dumps(codec.loads(value)) if compact else codec.dumps_pretty(codec.loads(value))).decode()
        except ValueError:
            try:
                body = value.decode("utf-8")
            except UnicodeDecodeError:
                body = repr(value[:200]) + (" …" if len(value) > 200 else "")
    return f"{head}  {body}\n" if compact else f"{head}\n{body}\n\n"
