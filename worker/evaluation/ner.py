"""``newsworker eval ner --conll FILE``: entity-level P/R/F1 for PER/ORG/LOC on CoNLL-2003 (../shared/eval/README.md).

Each document's text is its tokens joined by single spaces and its sentences joined by ``\\n``. The texts go
through the real entity stage (the one ``build_pipeline`` uses) as articles; a predicted entity counts when its
span and class match a gold entity exactly. Label mapping: PERSON→PER, ORG→ORG, GPE/LOC/FAC→LOC (CoNLL tags
buildings, stadiums and airports LOC); NORP is left out like CoNLL's MISC. The baseline, measured in the same
run on the same texts, is the bare spaCy NER-only model with the same mapping.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from worker.nlp import EntityStage
from worker.nlp.gazetteer import load_gazetteer
from worker.nlp.model import load_ner_model
from worker.records import Article
from worker.settings import Settings

CLASSES = ("PER", "ORG", "LOC")
TO_CONLL = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}

# (start, end, class) in a document's text
Gold = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class Document:
    text: str
    gold: frozenset[Gold]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--conll", type=Path, required=True, help="CoNLL-2003 file (e.g. ../shared/eval/conll2003/eng.testa)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N documents (quick checks)")
    parser.add_argument("--errors", type=int, default=0, help="print this many missed and spurious entities")


def load_conll(path: Path) -> list[Document]:
    """Documents with their gold PER/ORG/LOC spans (IOB1: ``B-`` only starts an entity right after one of its class)."""
    documents: list[Document] = []
    sentences: list[list[tuple[str, str]]] = []
    sentence: list[tuple[str, str]] = []

    def end_document() -> None:
        if sentence:
            sentences.append(list(sentence))
            sentence.clear()
        if sentences:
            documents.append(_document(sentences))
            sentences.clear()

    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if not fields:
            if sentence:
                sentences.append(list(sentence))
                sentence.clear()
        elif fields[0] == "-DOCSTART-":
            end_document()
        else:
            sentence.append((fields[0], fields[-1]))
    end_document()
    return documents


def _document(sentences: list[list[tuple[str, str]]]) -> Document:
    gold: set[Gold] = set()
    lines = []
    offset = 0
    for sentence in sentences:
        current: list | None = None  # [start, end, class]
        position = offset
        for token, tag in sentence:
            kind = tag[2:] if tag != "O" else None
            continues = current is not None and kind == current[2] and not tag.startswith("B-")
            if continues:
                current[1] = position + len(token)  # type: ignore[index]
            else:
                if current is not None:
                    gold.add(tuple(current))  # type: ignore[arg-type]
                current = [position, position + len(token), kind] if kind else None
            position += len(token) + 1
        if current is not None:
            gold.add(tuple(current))  # type: ignore[arg-type]
        line = " ".join(token for token, _ in sentence)
        lines.append(line)
        offset += len(line) + 1
    return Document("\n".join(lines), frozenset(g for g in gold if g[2] in CLASSES))


@dataclass(frozen=True, slots=True)
class Scores:
    true_positives: int
    predicted: int
    gold: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self) -> str:
        return f"P {self.precision:.3f}  R {self.recall:.3f}  F1 {self.f1:.3f}  (tp {self.true_positives}, pred {self.predicted}, gold {self.gold})"


def score(golds: Sequence[Iterable[Gold]], predictions: Sequence[Iterable[Gold]], only: str | None = None) -> Scores:
    tp = predicted = gold_count = 0
    for gold, predicted_spans in zip(golds, predictions):
        g = {x for x in gold if only is None or x[2] == only}
        p = {x for x in predicted_spans if only is None or x[2] == only}
        tp += len(g & p)
        predicted += len(p)
        gold_count += len(g)
    return Scores(tp, predicted, gold_count)


def stage_predictions(stage: EntityStage, texts: Sequence[str]) -> list[set[Gold]]:
    """The real entity stage on the texts as articles, mapped to CoNLL classes."""
    articles = [Article(id=f"conll-{i}", source_id=f"conll-{i}", text=t, language="en") for i, t in enumerate(texts)]
    tagged = stage(articles)
    return [
        {(m.start, m.end, TO_CONLL[e.type]) for e in a.entities if e.type in TO_CONLL for m in e.mentions}
        for a in tagged
    ]


def bare_predictions(nlp, texts: Sequence[str]) -> list[set[Gold]]:
    """Bare spaCy: the model's entities as they come, same label mapping."""
    return [
        {(e.start_char, e.end_char, TO_CONLL[e.label_]) for e in doc.ents if e.label_ in TO_CONLL}
        for doc in nlp.pipe(texts, batch_size=64)
    ]


def run(args: argparse.Namespace, settings: Settings) -> int:
    documents = load_conll(args.conll)[: args.limit]
    texts = [d.text for d in documents]
    golds = [d.gold for d in documents]
    started = time.perf_counter()
    nlp = load_ner_model()
    model_seconds = time.perf_counter() - started
    started = time.perf_counter()
    stage = EntityStage(nlp, gazetteer=load_gazetteer())  # as build_pipeline builds it
    print(f"model load {model_seconds:.1f} s, gazetteer load {time.perf_counter() - started:.1f} s; "
          f"{len(documents)} documents, {sum(len(g) for g in golds)} gold entities")

    started = time.perf_counter()
    baseline = bare_predictions(nlp, texts)
    baseline_seconds = time.perf_counter() - started
    started = time.perf_counter()
    ours = stage_predictions(stage, texts)
    ours_seconds = time.perf_counter() - started

    for name, predictions, seconds in (("bare spaCy", baseline, baseline_seconds), ("newsworker", ours, ours_seconds)):
        print(f"\n{name} ({seconds:.1f} s)")
        print(f"  all   {score(golds, predictions).line()}")
        for kind in CLASSES:
            print(f"  {kind:5} {score(golds, predictions, kind).line()}")
    if args.errors:
        _print_errors(texts, golds, ours, args.errors)
    return 0


def _print_errors(texts: Sequence[str], golds: Sequence[frozenset[Gold]], predictions: Sequence[set[Gold]], limit: int) -> None:
    missed: Counter[str] = Counter()
    spurious: Counter[str] = Counter()
    for text, gold, predicted in zip(texts, golds, predictions):
        for s, e, k in gold - predicted:
            missed[f"{k} {text[s:e]}"] += 1
        for s, e, k in predicted - gold:
            spurious[f"{k} {text[s:e]}"] += 1
    print("\nmost missed:", ", ".join(f"{k} ×{n}" for k, n in missed.most_common(limit)))
    print("most spurious:", ", ".join(f"{k} ×{n}" for k, n in spurious.most_common(limit)))
