"""``newsworker`` command line: the edge where settings are read and logging is configured.

Subcommands live in their own modules and are imported only when called, so ``newsworker enrich`` does not
pay for Faust and ``newsworker tail`` does not load the NER model. A command module defines
``add_arguments(parser)`` and ``run(args, settings) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# name → (module, help). Grouped commands ("bench", "eval") take a second word.
COMMANDS: dict[str, tuple[str, str]] = {
    "worker": ("worker.commands.worker", "run the stream worker (the container's entry point)"),
    "demo": ("worker.commands.demo", "embedded broker + worker + sample articles, printed as they come out"),
    "enrich": ("worker.commands.enrich", "run the pipeline offline on files: JSON lines in, JSON lines out"),
    "produce": ("worker.commands.produce", "publish raw articles from files to the input topic"),
    "tail": ("worker.commands.tail", "follow a topic and pretty-print its messages"),
    "topics": ("worker.commands.topics", "create the worker's topics with the configured partitions"),
}
GROUPS: dict[str, dict[str, tuple[str, str]]] = {
    "bench": {
        "normalize": ("worker.bench.normalize", "normalization throughput, plain text and HTML"),
        "pipeline": ("worker.bench.pipeline", "end-to-end throughput and latency through the embedded broker"),
        "ner": ("worker.bench.ner", "entity tagging throughput against bare spaCy"),
        "link": ("worker.bench.link", "follow-up linking time as the story index grows"),
        "reroot": ("worker.bench.reroot", "linking one out-of-order article that re-roots a large story"),
    },
    "eval": {
        "ner": ("worker.evaluation.ner", "entity P/R/F1 on CoNLL-2003"),
        "geo": ("worker.evaluation.geo", "geotagging and geocoding on GeoWebNews"),
        "stories": ("worker.evaluation.stories", "same-story linking on ECB+"),
    },
}


def _add(sub: argparse._SubParsersAction, name: str, module: str, help_text: str) -> None:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(_module=module)
    try:
        importlib.import_module(module).add_arguments(parser)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        parser.set_defaults(_missing=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsworker", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default=None, help="override NEWSWORKER_LOG_LEVEL")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        _add(sub, name, module, help_text)
    for group, commands in GROUPS.items():
        group_parser = sub.add_parser(group, help=f"{group} commands")
        group_sub = group_parser.add_subparsers(dest="subcommand", required=True)
        for name, (module, help_text) in commands.items():
            _add(group_sub, name, module, help_text)
    return parser


def configure_logging(level: str, json_lines: bool) -> None:
    from worker.logs import configure

    configure(level, json_lines)


def main(argv: Sequence[str] | None = None) -> int:
    from worker.settings import Settings

    args = build_parser().parse_args(argv)
    if getattr(args, "_missing", False):
        print(f"newsworker: '{args._module}' is not available in this build", file=sys.stderr)
        return 2
    settings = Settings()
    configure_logging(args.log_level or settings.log_level, settings.log_json)
    try:
        return int(importlib.import_module(args._module).run(args, settings) or 0)
    except KeyboardInterrupt:
        logging.getLogger(__name__).info("interrupted")
        return 130
