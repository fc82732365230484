"""``newsworker enrich``: the worker's pipeline offline, without Kafka. JSON lines in, JSON lines out.

Inputs are JSON-lines files of raw articles (``schemas/raw_article.schema.json``), one plain-text (``.txt``) or
HTML (``.html``/``.htm``) article per file, or JSON lines on stdin. Each input becomes an ``Envelope`` whose
origin is its file and line, goes through the same ``build_pipeline(settings)`` as the worker, and each article
comes out on stdout as exactly the message body the worker publishes. Rejected inputs are reported on stderr;
they are not errors of the command, so the exit code stays 0 (2 for usage errors, 1 for unreadable files).
"""

from __future__ import annotations

import argparse
import codecs
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import BinaryIO, TextIO

from worker import codec
from worker.pipeline import Outcome, build_pipeline
from worker.records import Article, Envelope, Origin
from worker.settings import Settings
from worker.stories import StoryLinker

STDIN = "-"
_CONTENT_TYPES = {".txt": "text/plain; charset=utf-8", ".html": "text/html", ".htm": "text/html"}

# Applied to every article in input order after the pipeline, with state kept across batches: the seam where
# the follow-up linking of issue 4 runs over the whole stream with an in-memory index.
StreamPass = Callable[[Article], Article]


class UsageError(Exception):
    """Bad arguments or an unreadable file: the command cannot run as asked."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="JSON-lines files of raw articles, or .txt / .html / .htm files of one article each; "
        "'-' or no FILE reads JSON lines from stdin",
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="inputs per pipeline batch (default: NEWSWORKER_BATCH_SIZE)"
    )
    single = parser.add_argument_group("metadata of a single .txt / .html file")
    single.add_argument("--id", dest="article_id", help="the input's id (default: a hash of its content)")
    single.add_argument("--url", help="the page's URL")
    single.add_argument("--published-at", help="publication time, ISO 8601 (e.g. 2016-10-04T08:00:00Z)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        envelopes = read_inputs(args.files or [STDIN], _metadata_headers(args), stdin=sys.stdin.buffer)
        batch_size = settings.batch_size if args.batch_size is None else args.batch_size
        if batch_size < 1:
            raise UsageError("--batch-size must be at least 1")
        linker = StoryLinker()  # follow-up linking over the whole input, in order (in-memory story index)
        counts = enrich(
            envelopes, settings, batch_size, out=sys.stdout.buffer, err=sys.stderr, stream_pass=linker.link_one
        )
    except UsageError as exc:
        print(f"newsworker enrich: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly; point stdout at /dev/null so the exit flush is silent.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        print(f"newsworker enrich: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    inputs, articles, rejected = counts
    print(f"newsworker enrich: {inputs} inputs, {articles} articles, {rejected} rejected", file=sys.stderr)
    return 0


def enrich(
    envelopes: Iterable[Envelope],
    settings: Settings,
    batch_size: int,
    out: BinaryIO,
    err: TextIO,
    stream_pass: StreamPass | None = None,
) -> tuple[int, int, int]:
    """Run the pipeline over ``envelopes`` in batches; write articles to ``out`` and rejections to ``err``.

    Returns (inputs, articles written, inputs rejected).
    """
    pipeline = build_pipeline(settings)  # models and gazetteers are loaded here, once per run
    stream_pass = stream_pass or _unchanged
    inputs = articles = rejected = 0
    for batch in _batches(envelopes, batch_size):
        for outcome in pipeline.run(batch):
            inputs += 1
            if outcome.rejection is not None:
                rejected += 1
                err.write(_describe_rejection(outcome) + "\n")
                continue
            for article in outcome.articles:
                out.write(codec.dumps(stream_pass(article)) + b"\n")
                articles += 1
        out.flush()
        err.flush()
    return inputs, articles, rejected


def read_inputs(paths: list[str], headers: tuple[tuple[str, bytes], ...], stdin: BinaryIO) -> Iterator[Envelope]:
    """Envelopes for every input of ``paths``, lazily, after checking that every file can be opened."""
    single_file_paths = [p for p in paths if _content_type(p) is not None]
    if headers and (len(paths) != 1 or len(single_file_paths) != 1):
        raise UsageError("--id, --url and --published-at apply to a single .txt / .html / .htm file")
    if paths.count(STDIN) > 1:
        raise UsageError("stdin ('-') can be read only once")
    for path in paths:
        if path != STDIN:
            open(path, "rb").close()  # fail before any output, with the OS's reason and the path
    return _envelopes(paths, headers, stdin)


def _envelopes(paths: list[str], headers: tuple[tuple[str, bytes], ...], stdin: BinaryIO) -> Iterator[Envelope]:
    for path in paths:
        if path == STDIN:
            yield from _json_lines(stdin, "<stdin>")
            continue
        content_type = _content_type(path)
        if content_type is None:
            with open(path, "rb") as stream:
                yield from _json_lines(stream, path)
        else:
            # The whole file is one article; like a Kafka record with a bare body, its metadata rides in headers.
            body = Path(path).read_bytes()
            yield Envelope(value=body, headers=(("content-type", content_type.encode()), *headers),
                           origin=Origin(file=path))


def _json_lines(stream: BinaryIO, name: str) -> Iterator[Envelope]:
    for number, line in enumerate(stream, start=1):
        if number == 1:
            line = line.removeprefix(codecs.BOM_UTF8)  # editors on Windows add one; it is not part of the JSON
        value = line.rstrip(b"\r\n")
        if not value.strip():
            continue  # a blank line separates nothing and is not an input
        yield Envelope(value=value, origin=Origin(file=name, line=number))


def _metadata_headers(args: argparse.Namespace) -> tuple[tuple[str, bytes], ...]:
    if args.published_at is not None:
        try:
            datetime.fromisoformat(args.published_at)
        except ValueError:
            raise UsageError(f"--published-at is not an ISO 8601 time: {args.published_at!r}") from None
    given = (("id", args.article_id), ("url", args.url), ("published_at", args.published_at))
    return tuple((name, value.encode()) for name, value in given if value)


def _content_type(path: str) -> str | None:
    return None if path == STDIN else _CONTENT_TYPES.get(Path(path).suffix.lower())


def _batches(envelopes: Iterable[Envelope], size: int) -> Iterator[list[Envelope]]:
    iterator = iter(envelopes)
    while batch := list(islice(iterator, size)):
        yield batch


def _describe_rejection(outcome: Outcome) -> str:
    rejection = outcome.rejection
    assert rejection is not None
    return f"{outcome.envelope.origin.describe()}: {rejection.code}: {rejection.reason}"


def _unchanged(article: Article) -> Article:
    return article
