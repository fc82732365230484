"""``newsworker eval geo --gwn FILE``: geotagging and geocoding on GeoWebNews (see ../shared/eval/README.md).

Every article's text goes through the real entity and place stages (the ones ``build_pipeline`` uses). A
predicted place mention counts when its span overlaps a gold toponym that carries coordinates. Reported:
geotagging precision/recall/F1, accuracy@161 km over the overlapping (gold, predicted) pairs, and end-to-end
recall@161 km (gold toponyms found and placed within 161 km, over all gold toponyms with coordinates). The
baseline measured in the same run is the bare spaCy model's GPE/LOC/FAC mentions, each placed at the most
populous gazetteer entry of that name.
"""

from __future__ import annotations

import argparse
import math
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from worker.nlp import EntityStage, PlaceStage
from worker.nlp.gazetteer import Gazetteer, load_gazetteer
from worker.nlp.model import load_ner_model
from worker.records import Article
from worker.settings import Settings

KM = 161.0


@dataclass(frozen=True, slots=True)
class Toponym:
    start: int
    end: int
    lat: float
    lon: float
    name: str


@dataclass(frozen=True, slots=True)
class Document:
    text: str
    gold: tuple[Toponym, ...]  # only the toponyms that carry coordinates


@dataclass(frozen=True, slots=True)
class GeoScores:
    predicted: int
    predicted_matched: int
    gold: int
    gold_found: int
    pairs: int
    pairs_within: int
    gold_placed: int

    @property
    def precision(self) -> float:
        return self.predicted_matched / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.gold_found / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def accuracy_161(self) -> float:
        return self.pairs_within / self.pairs if self.pairs else 0.0

    @property
    def recall_161(self) -> float:
        return self.gold_placed / self.gold if self.gold else 0.0

    def lines(self) -> list[str]:
        return [
            f"  geotagging  P {self.precision:.3f}  R {self.recall:.3f}  F1 {self.f1:.3f}  (pred {self.predicted}, gold {self.gold})",
            f"  accuracy@161km {self.accuracy_161:.3f} over {self.pairs} pairs",
            f"  end-to-end recall@161km {self.recall_161:.3f}  ({self.gold_placed}/{self.gold})",
        ]


# (start, end, lat, lon) of a predicted place mention
Prediction = tuple[int, int, float, float]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gwn", type=Path, required=True, help="GeoWebNews GWN.xml (e.g. ../shared/eval/geowebnews/GWN.xml)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles (quick checks)")
    parser.add_argument("--errors", type=int, default=0, help="print this many missed, spurious and misplaced names")


def load_gwn(path: Path) -> list[Document]:
    documents = []
    for article in ET.parse(path).getroot().iter("article"):
        text = article.findtext("text") or ""
        gold = []
        for toponym in article.iter("toponym"):
            lat, lon = toponym.findtext("latitude"), toponym.findtext("longitude")
            if not lat or not lon:
                continue
            start, end = int(toponym.findtext("start") or 0), int(toponym.findtext("end") or 0)
            gold.append(Toponym(start, end, float(lat), float(lon), text[start:end]))
        documents.append(Document(text, tuple(gold)))
    return documents


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p = math.pi / 180
    a = math.sin((lat2 - lat1) * p / 2) ** 2 + math.cos(lat1 * p) * math.cos(lat2 * p) * math.sin((lon2 - lon1) * p / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def score(documents: Sequence[Document], predictions: Sequence[Sequence[Prediction]]) -> GeoScores:
    predicted = predicted_matched = gold_total = gold_found = pairs = pairs_within = gold_placed = 0
    for document, found in zip(documents, predictions):
        gold = document.gold
        gold_total += len(gold)
        predicted += len(found)
        predicted_matched += sum(1 for p in found if any(_overlap(p, g) for g in gold))
        for g in gold:
            overlapping = [p for p in found if _overlap(p, g)]
            if not overlapping:
                continue
            gold_found += 1
            within = [distance_km(g.lat, g.lon, p[2], p[3]) <= KM for p in overlapping]
            pairs += len(within)
            pairs_within += sum(within)
            gold_placed += any(within)
    return GeoScores(predicted, predicted_matched, gold_total, gold_found, pairs, pairs_within, gold_placed)


def _overlap(prediction: Prediction, gold: Toponym) -> bool:
    return prediction[0] < gold.end and gold.start < prediction[1]


def stage_predictions(entities: EntityStage, places: PlaceStage, texts: Sequence[str]) -> list[list[Prediction]]:
    articles = [Article(id=f"gwn-{i}", source_id=f"gwn-{i}", text=t, language="en") for i, t in enumerate(texts)]
    tagged = places(entities(articles))
    return [[(m.start, m.end, loc.lat, loc.lon) for loc in a.locations for m in loc.mentions] for a in tagged]


def baseline_predictions(nlp, gazetteer: Gazetteer, texts: Sequence[str]) -> list[list[Prediction]]:
    """Bare spaCy place mentions at the most populous gazetteer entry of their name."""
    out = []
    for doc in nlp.pipe(texts, batch_size=32):
        found = []
        for ent in doc.ents:
            if ent.label_ in ("GPE", "LOC", "FAC"):
                entries = gazetteer.lookup(ent.text)
                if entries:
                    place = max(entries, key=lambda e: e.place.population).place
                    found.append((ent.start_char, ent.end_char, place.lat, place.lon))
        out.append(found)
    return out


def run(args: argparse.Namespace, settings: Settings) -> int:
    documents = load_gwn(args.gwn)[: args.limit]
    texts = [d.text for d in documents]
    started = time.perf_counter()
    nlp = load_ner_model()
    model_seconds = time.perf_counter() - started
    started = time.perf_counter()
    gazetteer = load_gazetteer()
    print(f"model load {model_seconds:.1f} s, gazetteer load {time.perf_counter() - started:.1f} s; "
          f"{len(documents)} articles, {sum(len(d.gold) for d in documents)} gold toponyms with coordinates")

    baseline = baseline_predictions(nlp, gazetteer, texts)
    started = time.perf_counter()
    ours = stage_predictions(EntityStage(nlp, gazetteer=gazetteer), PlaceStage(gazetteer), texts)
    seconds = time.perf_counter() - started
    print("\nbaseline: bare spaCy + most populous match")
    print("\n".join(score(documents, baseline).lines()))
    print(f"\nnewsworker entity + place stages ({seconds:.1f} s)")
    print("\n".join(score(documents, ours).lines()))
    if args.errors:
        _print_errors(documents, ours, args.errors)
    return 0


def _print_errors(documents: Sequence[Document], predictions: Sequence[Sequence[Prediction]], limit: int) -> None:
    missed: Counter[str] = Counter()
    spurious: Counter[str] = Counter()
    misplaced: Counter[str] = Counter()
    for document, found in zip(documents, predictions):
        for g in document.gold:
            overlapping = [p for p in found if _overlap(p, g)]
            if not overlapping:
                missed[g.name] += 1
            elif not any(distance_km(g.lat, g.lon, p[2], p[3]) <= KM for p in overlapping):
                p = overlapping[0]
                misplaced[f"{g.name} ({distance_km(g.lat, g.lon, p[2], p[3]):.0f} km)"] += 1
        for p in found:
            if not any(_overlap(p, g) for g in document.gold):
                spurious[document.text[p[0]:p[1]]] += 1
    for title, counter in (("missed", missed), ("spurious", spurious), ("misplaced", misplaced)):
        print(f"\nmost {title}:", ", ".join(f"{k} ×{n}" for k, n in counter.most_common(limit)))
