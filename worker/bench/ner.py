"""``newsworker bench ner``: entity tagging throughput of our stages against the bare spaCy NER-only pipeline.

Both run in this process on the same texts, one after the other, several rounds, and the best round of each is
kept (the machine is shared; the best round is the least disturbed). "Bare" is ``nlp.pipe`` over the texts with
the NER-only model; "ours" is what ``build_pipeline`` runs after normalization: the entity stage (truecasing,
chunking, the same ``nlp.pipe``, repairs, canonical entities), the place stage and the quote stage. Reported:
words/s and articles/s per core (CPU seconds of this process, so a second thread would not flatter the
figure) and by wall clock, our throughput as a share of bare spaCy's, model and gazetteer load times, and the
worker's resident memory with everything loaded and after tagging (peak included).

Texts: GeoWebNews articles (``--gwn``), CoNLL-2003 documents (``--conll``), or a file of JSON lines with a
``text`` field (``--jsonl``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from worker.nlp import EntityStage, PlaceStage, QuoteStage
from worker.nlp.gazetteer import load_gazetteer
from worker.nlp.model import load_ner_model
from worker.records import Article
from worker.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--gwn", type=Path, help="GeoWebNews GWN.xml")
    source.add_argument("--conll", type=Path, help="CoNLL-2003 file")
    source.add_argument("--jsonl", type=Path, help="JSON lines with a 'text' field")
    parser.add_argument("--limit", type=int, default=None, help="only the first N texts")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each (best kept)")
    parser.add_argument("--batch-size", type=int, default=16, help="nlp.pipe batch size for both")


def load_texts(args: argparse.Namespace) -> list[str]:
    if args.gwn:
        from worker.evaluation.geo import load_gwn

        texts = [d.text for d in load_gwn(args.gwn)]
    elif args.conll:
        from worker.evaluation.ner import load_conll

        texts = [d.text for d in load_conll(args.conll)]
    else:
        with args.jsonl.open(encoding="utf-8") as lines:
            texts = [json.loads(line)["text"] for line in lines if line.strip()]
    return texts[: args.limit]


def _memory() -> tuple[float, float]:
    """(resident, peak resident) of this process in MB."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _timed(run) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def run(args: argparse.Namespace, settings: Settings) -> int:
    texts = load_texts(args)
    words = sum(len(t.split()) for t in texts)
    started = time.perf_counter()
    nlp = load_ner_model()
    model_seconds = time.perf_counter() - started
    started = time.perf_counter()
    gazetteer = load_gazetteer()
    gazetteer_seconds = time.perf_counter() - started
    loaded_rss, _ = _memory()
    stages = [EntityStage(nlp, gazetteer=gazetteer, batch_size=args.batch_size), PlaceStage(gazetteer), QuoteStage()]
    articles = [Article(id=f"b{i}", source_id=f"b{i}", text=t, language="en") for i, t in enumerate(texts)]

    def bare() -> None:
        for _ in nlp.pipe(texts, batch_size=args.batch_size):
            pass

    def ours() -> None:
        batch = articles
        for stage in stages:
            batch = stage(batch)

    print(f"{len(texts)} texts, {words} words; model load {model_seconds:.2f} s, gazetteer load {gazetteer_seconds:.2f} s, "
          f"RSS with both loaded {loaded_rss:.0f} MB")
    best: dict[str, tuple[float, float]] = {}
    for round_ in range(args.rounds):
        for name, work in (("bare spaCy", bare), ("newsworker", ours)):
            wall, cpu = _timed(work)
            print(f"  round {round_ + 1} {name:10}  wall {wall:6.2f} s  cpu {cpu:6.2f} s")
            if name not in best or cpu < best[name][1]:
                best[name] = (wall, cpu)
    print()
    for name, (wall, cpu) in best.items():
        print(f"{name:10}  {words / cpu:8.0f} words/s per core  {len(texts) / cpu:7.1f} articles/s per core   "
              f"(wall: {words / wall:8.0f} words/s, {len(texts) / wall:6.1f} articles/s)")
    ratio_cpu = best["bare spaCy"][1] / best["newsworker"][1]
    ratio_wall = best["bare spaCy"][0] / best["newsworker"][0]
    rss, peak = _memory()
    print(f"\nnewsworker / bare spaCy throughput: {ratio_cpu:.1%} per core, {ratio_wall:.1%} wall clock")
    print(f"worker RSS after tagging {rss:.0f} MB (peak {peak:.0f} MB)")
    return 0
