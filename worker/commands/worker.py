"""``newsworker worker``: run the stream worker (the container's entry point).

Creates the topics first (idempotent; a cluster that forbids it only logs a warning), then runs the Faust
worker until SIGTERM or Ctrl-C, which finish the batch in flight and commit before exiting.
"""

from __future__ import annotations

import argparse
import logging

from worker.settings import Settings

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-create-topics", action="store_true",
                        help="do not create the topics first (they are managed elsewhere)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from worker.app import run_worker

    return run_worker(settings, create_topics=not args.no_create_topics)
