"""``newsworker eval stories --ecb DIR``: same-story linking on ECB+ (see ../shared/eval/README.md).

Each ECB+ document becomes a raw article (tokens joined by spaces, sentences by newlines) published in a seeded
shuffled order at increasing times; the raw articles go through the real pipeline (``build_pipeline``: decode,
normalize, and whatever tagging stages exist) and then the story linker, one at a time, as the worker would.
Gold: same story = same topic and same suffix (``ecb`` / ``ecbplus``). Reported: pairwise same-story P/R/F1,
BCubed P/R/F1, the false-link rate on hard-negative pairs (same topic, other suffix), and the same figures for
an online TF-IDF nearest-neighbour baseline measured in the same run (its threshold swept on this data, the
best one reported, as the README's baseline was tuned). After the seeds, an order-free reference: the same
articles clustered at once by average linkage over the linker's own pair scores (``order_free_clusters``).
A document the pipeline rejects (the worker would send it to the dead-letter topic) is linked to nothing and
scored as a story of its own; each run says how many there were and why. Each order also goes through the
worker's own linking path (``worker_path``), to check that what it publishes agrees with the index at the end.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from worker.addresses import address_line
from worker.codec import dumps, loads, to_plain
from worker.pipeline import build_pipeline
from worker.records import Article, Envelope, Origin
from worker.settings import Settings
from worker.stories import Entry, FollowUp, LinkConfig, StoryIndex, StoryLinker, followup_event, signature_of
from worker.stories.link import pair_scores
from worker.stories.signature import prose
from worker.stories.table import encode_entry, keep_decision

_NAME = re.compile(r"^(\d+)_(\d+)(ecbplus|ecb)\.xml$")
_ERROR_KINDS = ("missed", "first_linked", "joined_other", "merged_other")
_START = datetime(2020, 1, 6, 6, 0, tzinfo=timezone.utc)
_REFERENCE_THRESHOLDS = (0.10, 0.15, 0.20)


@dataclass(frozen=True, slots=True)
class Document:
    doc_id: str
    topic: str
    suffix: str
    text: str
    url: str | None = None  # only with ``load_ecb(..., address_line_as_url=True)``

    @property
    def gold(self) -> str:
        return f"{self.topic}{self.suffix}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ecb", type=Path, required=True,
                        help="folder of ECB+ topics (e.g. ../shared/eval/ecbplus-odd)")
    parser.add_argument("--seeds", default="13", help="comma-separated seeds of the streaming order (one run each)")
    parser.add_argument("--gap-minutes", type=float, default=10.0, help="publication time between streamed articles")
    parser.add_argument("--address-line-as-url", action="store_true",
                        help="send a document's opening address line (the source address about half the documents "
                             "start with, spaced out by ECB+'s tokeniser) as the producer's url, as a crawler would, "
                             "instead of as the first line of its text")
    parser.add_argument("--link-threshold", type=float, default=None, help="override LinkConfig.link_threshold")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="overrides",
                        help="override any numeric LinkConfig field, e.g. --set merge_threshold=0.16 (repeatable)")


def link_config(overrides: list[str]) -> LinkConfig:
    """The linker's configuration with ``FIELD=VALUE`` overrides of its numeric fields.

    >>> link_config(["merge_threshold=0.2", "story_sample=8"]).story_sample
    8
    """
    defaults = LinkConfig()
    changes: dict[str, float | int] = {}
    for override in overrides:
        name, _, value = (part.strip() for part in override.partition("="))
        default = getattr(defaults, name, None)
        if not isinstance(default, (int, float)) or isinstance(default, bool):
            raise SystemExit(f"--set {override}: LinkConfig has no numeric field {name!r}")
        changes[name] = float(value) if isinstance(default, float) else int(value)
    return replace(defaults, **changes)


def load_ecb(folder: Path, address_line_as_url: bool = False) -> list[Document]:
    """The ECB+ documents under ``folder``: tokens joined by spaces, sentences by newlines.

    With ``address_line_as_url``, a first sentence that is a web address once its tokens are joined
    (``http : / / www . x . com / a - b``) becomes the document's url and leaves its text, as a crawler sends a
    page. The text then starts with the headline and the date stamp, which normalization reads as such.
    """
    documents = []
    # any depth: ECB+ ships a folder per topic, a copy may put the files in one folder or one more level down
    for path in sorted(folder.rglob("*.xml")):
        match = _NAME.match(path.name)
        if match is None:
            continue
        sentences: dict[int, list[str]] = defaultdict(list)
        for token in ET.parse(path).getroot().iter("token"):
            sentences[int(token.get("sentence", "0"))].append(token.text or "")
        lines = [" ".join(t for t in tokens if t) for _, tokens in sorted(sentences.items())]
        url = address_line("".join(lines[0].split())) if address_line_as_url and lines else None
        text = "\n".join(lines[1:] if url else lines)
        documents.append(Document(path.stem, match.group(1), match.group(3), text, url))
    return documents


def stream_order(documents: list[Document], seed: int, gap: timedelta) -> list[tuple[Document, datetime]]:
    shuffled = list(documents)
    random.Random(seed).shuffle(shuffled)
    return [(doc, _START + i * gap) for i, doc in enumerate(shuffled)]


def run_pipeline(
    stream: list[tuple[Document, datetime]], settings: Settings
) -> tuple[dict[str, Article], dict[str, str]]:
    """The real pipeline stages, on the raw articles as a producer would send them: the article of each document,
    and the reject code of each document the pipeline turned away (the worker would dead-letter it)."""
    envelopes = [
        Envelope(
            value=dumps({"id": doc.doc_id, "url": doc.url, "text": doc.text, "published_at": when.isoformat(),
                         "language": "en"}),
            origin=Origin(file="ecb", line=i),
        )
        for i, (doc, when) in enumerate(stream)
    ]
    pipeline = build_pipeline(settings)
    articles: dict[str, Article] = {}
    rejected: dict[str, str] = {}
    for start in range(0, len(envelopes), 32):
        for (doc, _), outcome in zip(stream[start : start + 32], pipeline.run(envelopes[start : start + 32])):
            if outcome.rejection is not None:
                rejected[doc.doc_id] = str(outcome.rejection.code)
            else:
                articles[doc.doc_id] = outcome.articles[0]  # plain text: one story per document
    return articles, rejected


def link_stream(
    stream: list[tuple[Document, datetime]], articles: dict[str, Article], config: LinkConfig
) -> tuple[dict[str, str], list[tuple[Document, FollowUp]]]:
    """Story id per document after the whole stream (later story updates applied), and each decision in order.

    A document without an article (the pipeline rejected it) is linked to nothing: it is its own story."""
    linker = StoryLinker(config)
    story: dict[str, str] = {}
    decisions = []
    for doc, _ in stream:
        if doc.doc_id not in articles:
            continue
        followup = linker.link_one(articles[doc.doc_id]).followup
        decisions.append((doc, followup))
        story[articles[doc.doc_id].id] = followup.story_id
        for update in followup.updates:
            story[update.article_id] = update.story_id
    return {
        doc.doc_id: story[articles[doc.doc_id].id] if doc.doc_id in articles else _story_of_rejected(doc.doc_id)
        for doc, _ in stream
    }, decisions


def worker_path(
    stream: list[tuple[Document, datetime]], articles: dict[str, Article], predicted: dict[str, str],
    config: LinkConfig, settings: Settings,
) -> str:
    """The same stream through the worker's own linking path (``link_messages``, its two tables as dicts): how
    many decisions it published and how many earlier ones it published again, restated; and whether the last
    event published for each article agrees with the index at the end (its story id, links only to articles of
    its story) and with the ``predicted`` story of the linker scored above, and says what it can (a relation
    other than ``new_story`` with a link, ``new_story`` for its story's first article only, scores in 0..1). A
    line to print."""
    from worker.app import WorkerMetrics, link_messages  # the Faust app's module: loaded only for this check

    index = StoryIndex(retention_seconds=config.retention_seconds)
    table: dict[str, bytes] = {}
    decisions: dict[str, bytes] = {}
    metrics = WorkerMetrics()
    latest: dict[str, dict] = {}
    published = restated = 0
    for i, (doc, _) in enumerate(stream):
        if doc.doc_id not in articles:
            continue
        article = articles[doc.doc_id]
        envelope = Envelope(value=b"", origin=Origin(topic="ecb", partition=0, offset=i))
        for message in link_messages(index, table, decisions, article, envelope, settings, config, metrics):
            if message.topic == settings.topic_followups:
                event = loads(message.value)
                latest[event["article_id"]] = event
                published += 1
                restated += event["article_id"] != article.id
    # an article no longer indexed counts as agreeing (none is: the stream is shorter than the retention)
    story_of = {article_id: entry.story_id for article_id, entry in index.entries.items()}
    other_story = sum(event["story_id"] != story_of.get(article_id, event["story_id"])
                      for article_id, event in latest.items())
    links_out = sum(story_of.get(link["article_id"], story_of.get(article_id)) != story_of.get(article_id)
                    for article_id, event in latest.items() for link in event["links"])
    # a duplicate, same_story or follow_up with nothing to link to; new_story for an article that is not its story's
    # first, or another relation for one that is; and scores the schema refuses (0 < score <= 1)
    unlinked = sum(event["relation"] != "new_story" and not event["links"] for event in latest.values())
    misnamed = sum((event["relation"] == "new_story") != (event["story_id"] == article_id)
                   for article_id, event in latest.items())
    off_scale = sum(not 0 < link["score"] <= 1 for event in latest.values() for link in event["links"])
    differ = sum(story_of.get(articles[doc.doc_id].id) != predicted[doc.doc_id] for doc, _ in stream
                 if doc.doc_id in articles)
    return (f"{'  worker path':<22} {published - restated} decisions published, {restated} restated; the last "
            f"event of each article: {other_story} with another story id than the index, {links_out} links to "
            f"another story, {unlinked} linked with no link, {misnamed} new_story where the article is not its "
            f"story's first or the reverse, {off_scale} scores outside 0..1; {differ} articles in another story than "
            f"the linker's above")


def _story_of_rejected(doc_id: str) -> str:
    """The story of a document the pipeline rejected: its own, shared with no other."""
    return f"rejected:{doc_id}"


def decision_errors(decisions: list[tuple[Document, FollowUp]], articles: dict[str, Article]) -> Counter[str]:
    """Where the pairwise errors come from, one kind per wrong decision, in stream order.

    - ``missed``: nothing linked although earlier reports of its event had come;
    - ``first_linked``: the first report of an event linked to another event (nothing of its own to find yet);
    - ``joined_other``: linked to another event although its own had come before;
    - ``merged_other``: as ``joined_other``, and the decision merged stories, pulling two events into one.
    """
    gold = {articles[doc.doc_id].id: doc.gold for doc, _ in decisions}
    seen: set[str] = set()
    kinds: Counter[str] = Counter()
    for doc, followup in decisions:
        first = doc.gold not in seen
        seen.add(doc.gold)
        if any(gold[link.article_id] != doc.gold for link in followup.links):
            kinds["first_linked" if first else "merged_other" if followup.updates else "joined_other"] += 1
        elif not followup.links and not first:
            kinds["missed"] += 1
    return kinds


def _kept_sizes(decisions: list[tuple[Document, FollowUp]], articles: dict[str, Article]) -> str:
    """What the worker keeps per linked article in its two tables, on these articles: the story-table value and
    the kept decision (what ``link_messages`` writes); and the keys a signature carries, names among them (only
    the names go into the index's postings, unless an article names few things)."""
    entries, entries_json, plain, kept, keys, names = [], [], [], [], [], []
    compressing = 0.0
    for doc, followup in decisions:
        article = articles[doc.doc_id]
        entry = Entry(signature_of(article), followup.story_id)
        entries.append(len(encode_entry(entry)))
        key_array = entry.signature.key_array()
        keys.append(key_array.size)
        names.append(int((key_array & 1).sum()))
        entries_json.append(len(dumps(entry.to_dict())))
        decision = {"followup": to_plain(followup), "event": followup_event(article, followup)}
        plain.append(len(dumps(decision)))
        started = time.perf_counter()
        kept.append(len(keep_decision(decision)))
        compressing += time.perf_counter() - started
    n = max(len(decisions), 1)
    return (f"{'  kept per article':<22} story-table value {sum(entries) / n:.0f} B ({sum(entries_json) / n:.0f} B as "
            f"JSON), decision {sum(kept) / n:.0f} B ({sum(plain) / n:.0f} B of JSON, "
            f"{compressing / n * 1e6:.0f} us to keep), keys {sum(keys) / n:.1f} ({sum(names) / n:.1f} names)")


def order_free_clusters(
    articles: list[Article], config: LinkConfig, thresholds: tuple[float, ...] = _REFERENCE_THRESHOLDS
) -> dict[float, dict[str, int]]:
    """Cluster per article id for each threshold: average linkage over the linker's pair scores, every article
    indexed first.

    A reference, not something the worker can do: it sees the whole stream at once. Against the linker on the
    same articles it tells how much error is in the pair score itself and how much comes from deciding online,
    one article at a time, with only the earlier ones indexed. Scores come from ``pair_scores`` (the linker's
    candidate lookup and scoring, made symmetric by taking the higher of the two directions); a pair the
    lookup does not return scores 0 (a penalised pair can score below that). Two clusters merge while their
    mean pair score reaches the threshold.
    """
    # imported here: the CLI imports this module to build its parser, and the worker has no use for SciPy
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    if len(articles) < 2:
        return {t: {a.id: 1 for a in articles} for t in thresholds}
    linker = StoryLinker(config)
    for article in articles:
        linker.link_one(article)
    position = {article.id: i for i, article in enumerate(articles)}
    similarity = np.full((len(articles), len(articles)), -np.inf)
    for i, article in enumerate(articles):
        for other_id, score in pair_scores(linker.index, article, config):
            j = position.get(other_id)
            if j is not None and j != i:
                similarity[i, j] = max(similarity[i, j], score)
    similarity = np.maximum(similarity, similarity.T)
    similarity[np.isneginf(similarity)] = 0.0  # neither direction's lookup returned the pair
    similarity = np.minimum(similarity, 1.0)  # a date bonus can lift a score over 1
    distance = 1.0 - similarity
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    return {
        t: {a.id: int(c) for a, c in zip(articles, fcluster(tree, t=1.0 - t, criterion="distance"))}
        for t in thresholds
    }


def tfidf_nearest(stream: list[tuple[Document, datetime]]) -> list[tuple[str, str | None, float]]:
    """Online TF-IDF: each document's nearest earlier document and the cosine (vectors fixed when seen).

    It reads what the linker reads: the prose, web addresses blanked (ECB+ gives an address line to every
    ``ecbplus`` document and to no ``ecb`` one, which would tell the two events of a topic apart for free).
    """
    df: Counter[str] = Counter()
    seen: list[tuple[str, dict[str, float]]] = []
    nearest = []
    for n, (doc, _) in enumerate(stream, start=1):
        tf = Counter(w.casefold() for w in re.findall(r"\w+", prose(doc.text)))
        df.update(tf.keys())
        weights = {w: (1 + math.log(c)) * math.log((n + 1) / (df[w] + 1)) for w, c in tf.items()}
        norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
        own = {w: v / norm for w, v in weights.items()}
        best, best_id = 0.0, None
        for other_id, other in seen:
            cosine = sum(v * other.get(w, 0.0) for w, v in own.items())
            if cosine > best:
                best, best_id = cosine, other_id
        nearest.append((doc.doc_id, best_id, best))
        seen.append((doc.doc_id, own))
    return nearest


def tfidf_baseline(nearest: list[tuple[str, str | None, float]], threshold: float) -> dict[str, str]:
    """Join the nearest earlier document's story when the cosine reaches ``threshold``."""
    story: dict[str, str] = {}
    for doc_id, best_id, cosine in nearest:
        story[doc_id] = story[best_id] if best_id is not None and cosine >= threshold else doc_id
    return story


def scores(documents: list[Document], predicted: dict[str, str]) -> dict[str, float]:
    gold = {d.doc_id: d.gold for d in documents}
    topic = {d.doc_id: d.topic for d in documents}
    ids = [d.doc_id for d in documents]
    tp = fp = fn = hard = hard_linked = 0
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            same_gold, same_pred = gold[a] == gold[b], predicted[a] == predicted[b]
            tp += same_gold and same_pred
            fp += same_pred and not same_gold
            fn += same_gold and not same_pred
            if topic[a] == topic[b] and not same_gold:
                hard += 1
                hard_linked += same_pred
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    pred_clusters: dict[str, set[str]] = defaultdict(set)
    gold_clusters: dict[str, set[str]] = defaultdict(set)
    for doc_id in ids:
        pred_clusters[predicted[doc_id]].add(doc_id)
        gold_clusters[gold[doc_id]].add(doc_id)
    b_precision = sum(
        len(pred_clusters[predicted[d]] & gold_clusters[gold[d]]) / len(pred_clusters[predicted[d]]) for d in ids
    ) / len(ids)
    b_recall = sum(
        len(pred_clusters[predicted[d]] & gold_clusters[gold[d]]) / len(gold_clusters[gold[d]]) for d in ids
    ) / len(ids)
    return {
        "pairwise_p": precision,
        "pairwise_r": recall,
        "pairwise_f1": _f1(precision, recall),
        "bcubed_p": b_precision,
        "bcubed_r": b_recall,
        "bcubed_f1": _f1(b_precision, b_recall),
        "hard_negative_false_link": hard_linked / hard if hard else 0.0,
        "stories": len(pred_clusters),
    }


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _line(name: str, s: dict[str, float]) -> str:
    return (
        f"{name:<22} pairwise P {s['pairwise_p']:.3f} R {s['pairwise_r']:.3f} F1 {s['pairwise_f1']:.3f}  "
        f"BCubed F1 {s['bcubed_f1']:.3f}  hard-neg false-link {s['hard_negative_false_link']:.3f}  "
        f"stories {int(s['stories'])}"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    threshold = [] if args.link_threshold is None else [f"link_threshold={args.link_threshold}"]
    config = link_config(threshold + args.overrides)
    documents = load_ecb(args.ecb, args.address_line_as_url)
    if not documents:
        print(f"no ECB+ documents under {args.ecb}")
        return 2
    gold_stories = len({d.gold for d in documents})
    addressed = sum(d.url is not None for d in documents)
    print(f"ECB+ {args.ecb}: {len(documents)} documents, {gold_stories} gold stories"
          + (f", {addressed} address lines sent as urls" if args.address_line_as_url else ""))
    articles: dict[str, Article] = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        articles = evaluate_seed(documents, seed, timedelta(minutes=args.gap_minutes), settings, config)[1]
    print("order-free reference (not the worker): all articles at once, average linkage over the linker's pair "
          "scores")
    ordered = [articles[d.doc_id] for d in documents if d.doc_id in articles]
    for threshold, clusters in order_free_clusters(ordered, config).items():
        predicted = {
            d.doc_id: str(clusters[articles[d.doc_id].id]) if d.doc_id in articles else _story_of_rejected(d.doc_id)
            for d in documents
        }
        print(_line(f"  average t={threshold:.2f}", scores(documents, predicted)))
    return 0


def evaluate_seed(
    documents: list[Document], seed: int, gap: timedelta, settings: Settings, config: LinkConfig
) -> tuple[dict[str, float], dict[str, Article]]:
    """One streaming order: the linker and the TF-IDF baseline on it, printed; the linker's figures and the
    pipeline's articles returned."""
    stream = stream_order(documents, seed, gap)
    started = time.perf_counter()
    articles, rejected = run_pipeline(stream, settings)
    pipeline_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted, decisions = link_stream(stream, articles, config)
    ours = scores(documents, predicted)
    link_seconds = time.perf_counter() - started
    print(f"seed {seed}: pipeline {pipeline_seconds:.1f}s, linking {link_seconds:.2f}s")
    if rejected:
        codes = Counter(rejected.values())
        print(f"  {len(rejected)} documents rejected by the pipeline, each scored as a story of its own: "
              + ", ".join(f"{code} {n}" for code, n in sorted(codes.items())))
    print(_line("story linker", ours))
    errors = decision_errors(decisions, articles)
    print(f"{'  wrong decisions':<22} " + ", ".join(f"{kind} {errors[kind]}" for kind in _ERROR_KINDS)
          + f" (of {len(decisions)})")
    print(_kept_sizes(decisions, articles))
    print(worker_path(stream, articles, predicted, config, settings))
    nearest = tfidf_nearest(stream)
    best = max(
        ((t, scores(documents, tfidf_baseline(nearest, t))) for t in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)),
        key=lambda ts: ts[1]["pairwise_f1"],
    )
    print(_line(f"tf-idf NN (t={best[0]:.2f})", best[1]))
    return ours, articles
