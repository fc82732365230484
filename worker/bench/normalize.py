"""``newsworker bench normalize``: normalization throughput per core, plain text and HTML.

Each form of the same synthetic corpus (``worker.bench.corpus``) is normalized in this one process (one core)
and compared with a baseline measured in the same run on the same inputs: the plain library calls a first
version would make.

* plain text — ours: the whole of ``normalize`` (repair, clean, split stories, headline/standfirst/byline/
  dateline, paragraphs, sentences, dates, language, ids, fingerprint); baseline: ``ftfy.fix_text`` on the
  whole text, then split into paragraphs.
* HTML — ours: the whole of ``normalize`` on the page; baseline: ``trafilatura.extract`` with its defaults.

Targets (issue 2): plain text >= 1,000 articles/s per core, HTML >= 100 articles/s per core.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from datetime import datetime

import ftfy
import trafilatura

from worker.bench.corpus import make_corpus
from worker.normalize import NormalizeConfig, normalize
from worker.records import RawArticle
from worker.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--articles", type=int, default=1000, help="articles per form (plain text, HTML)")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes; the best is reported")
    parser.add_argument("--seed", type=int, default=7)


def _rate(work: Callable[[], int], rounds: int) -> tuple[float, int]:
    """Best articles/s over ``rounds`` passes (the least disturbed by other processes), and the output count."""
    best, produced = float("inf"), 0
    work()  # warm-up: lazy imports, model files, regex caches
    for _ in range(rounds):
        gc.collect()
        started = time.perf_counter()
        produced = work()
        best = min(best, time.perf_counter() - started)
    return best, produced


def run(args: argparse.Namespace, settings: Settings) -> int:
    corpus = make_corpus(args.articles, args.seed)
    config = NormalizeConfig(max_html_depth=settings.max_html_depth, max_html_elements=settings.max_html_elements)
    texts = [RawArticle(id=a.id, body=a.text, body_type="text", published_at=datetime.fromisoformat(a.published_at))
             for a in corpus]
    pages = [RawArticle(id=a.id, body=a.html, body_type="html") for a in corpus]
    n = len(corpus)
    text_kb = sum(len(a.text.encode()) for a in corpus) / n / 1024
    html_kb = sum(len(a.html.encode()) for a in corpus) / n / 1024
    print(f"corpus: {n} synthetic articles (seed {args.seed}), plain text {text_kb:.1f} KB, HTML {html_kb:.1f} KB "
          f"on average; one process, one core; best of {args.rounds} passes")

    ours_text, stories = _rate(lambda: sum(len(normalize(raw, config)) for raw in texts), args.rounds)
    base_text, _ = _rate(lambda: sum(len(ftfy.fix_text(raw.body).split("\n")) for raw in texts), args.rounds)
    ours_html, html_stories = _rate(lambda: sum(len(normalize(raw, config)) for raw in pages), args.rounds)
    base_html, _ = _rate(lambda: sum(1 for raw in pages if trafilatura.extract(raw.body)), args.rounds)

    print(f"{'form':<12}{'ours art/s':>12}{'baseline art/s':>16}{'ours/baseline':>15}{'target':>9}  stories out")
    for form, ours, base, target, out in (("plain text", ours_text, base_text, 1000, stories),
                                          ("HTML", ours_html, base_html, 100, html_stories)):
        rate, base_rate = n / ours, n / base
        verdict = "met" if rate >= target else "MISSED"
        print(f"{form:<12}{rate:>12.0f}{base_rate:>16.0f}{rate / base_rate:>15.2f}{target:>9}  {out} ({verdict})")
    print("baselines: plain text = ftfy.fix_text + line split; HTML = trafilatura.extract with defaults")
    return 0
