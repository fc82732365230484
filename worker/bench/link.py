"""``newsworker bench link``: follow-up linking time as the story index grows, against a brute-force scan.

The corpus is synthetic and built here. Indexed articles are synthetic *signatures* built directly (random
MinHash rows, keys drawn from a Zipf-distributed vocabulary, stories of a few articles sharing most of their
keys), each indexed in its story as linking leaves it (so the memory includes the objects of the stories of
several articles, and a linked follow-up weighs one story of five, not five lone ones). Building a million
real signatures from text would take far longer than the lookups being measured. The articles being linked
are real ``Article`` texts written from the same vocabulary, so each timed call is the whole
``link(index, article)`` decision: signature, candidate lookup, scoring, new facts.

At each size (default 10k, 100k, 1M indexed articles) it reports p50/p99 of ``link`` over the query articles,
the same for a brute-force scan that scores every indexed article with the same (vectorised) scoring, and the
memory per indexed article two ways: the growth of the process's resident set while the index was built
(after handing freed heap back with ``malloc_trim``, so garbage of the build is not counted), and the bytes of
the index's packed arrays. Times are the thread's CPU time per call (the machine is shared: wall time would
measure the neighbours); the wall-clock p50 is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import itertools
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np

from worker import codec
from worker.records import Article
from worker.settings import Settings
from worker.stories import Entry, IndexChange, LinkConfig, StoryIndex, link
from worker.stories.index import Candidates
from worker.stories.link import _score_candidates
from worker.stories.signature import MAX_FACTS, MAX_KEYS, NUM_PERM, Signature, key_hash, signature_of
from worker.stories.table import decode_entry, encode_entry, index_from_table

VOCABULARY = 200_000
KEYS_PER_ARTICLE = MAX_KEYS
STORY_SIZE = 5
APPLY_SAMPLE = 16
START = datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="10000,100000,1000000", help="indexed articles at each step")
    parser.add_argument("--queries", type=int, default=200, help="articles linked (timed) at each step")
    parser.add_argument("--brute-queries", type=int, default=5, help="brute-force scans timed at each step")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-freeze", action="store_true",
                        help="leave what the imports made in the collector's full passes (the worker freezes it)")


RSS_NOISE_BYTES = 8 << 20


def _rss_bytes() -> int:
    """Resident set size after returning freed heap pages to the system (glibc ``malloc_trim``)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the figure then includes free heap the allocator kept
        pass
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def _table_mirror(index: StoryIndex) -> tuple[str, str]:
    """What the worker's story table costs beside the index, and rebuilding the index from it as a worker that
    takes the linking partition over does. Faust's memory store keeps one value per indexed article
    (``encode_entry``), keyed by its id. Built, measured and dropped again."""
    before = _rss_bytes()
    table = {article_id: encode_entry(entry) for article_id, entry in index.entries.items()}
    growth = _rss_bytes() - before
    value = sum(len(v) for v in table.values()) / len(table)
    sample = list(itertools.islice(index.entries.values(), 10_000))
    as_json = sum(len(codec.dumps(entry.to_dict())) for entry in sample) / len(sample)
    per_article = f"{growth / len(index):.0f} B" if growth >= RSS_NOISE_BYTES else "(noise)"
    memory = f"story table mirror: {per_article} RSS per article, values {value:.0f} B (as JSON {as_json:.0f} B)"
    rebuilt, stall = _beside_a_loop(lambda: index_from_table(table))
    # the same rebuild with the garbage collector left running, as before index_from_table paused it
    baseline, baseline_stall = _beside_a_loop(
        lambda: StoryIndex.from_entries(decode_entry(v) for v in table.values()))
    rebuild = (f"rebuild from the table: {rebuilt:.2f} s, longest event-loop stall {stall * 1e3:.0f} ms; "
               f"with the collector running {baseline:.2f} s, stall {baseline_stall * 1e3:.0f} ms")
    return memory, rebuild


class _FullCollections:
    """Times the garbage collector's full passes (generation 2) while it is installed, in CPU time of the thread
    that runs them, as the other timings here: each stops every thread for as long as it takes to visit every
    object the collector tracks (the index's, and those of the whole process)."""

    def __init__(self) -> None:
        self.passes: list[float] = []
        self._started = 0.0

    def __enter__(self) -> _FullCollections:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.passes.append(time.thread_time() - self._started)

    def summary(self) -> str:
        slowest = (f", median {statistics.median(self.passes) * 1e3:.0f} ms, slowest {max(self.passes) * 1e3:.0f} ms"
                   if self.passes else "")
        # gc.get_objects() leaves frozen objects out: the count is what a full pass visits
        frozen = f", {gc.get_freeze_count()} frozen" if gc.get_freeze_count() else ""
        return f"{len(self.passes)} full collector passes{slowest}; {len(gc.get_objects())} objects tracked{frozen}"


def _beside_a_loop(work: Callable[[], object]) -> tuple[float, float]:
    """Run ``work`` in a thread, as the linking agent runs a rebuild or a compaction, while the event loop ticks
    every 10 ms: (seconds taken, longest time the loop stood still)."""

    async def measure() -> tuple[float, float]:
        longest, done = 0.0, asyncio.Event()

        async def tick() -> None:
            nonlocal longest
            while not done.is_set():
                before = time.perf_counter()
                await asyncio.sleep(0.01)
                longest = max(longest, time.perf_counter() - before - 0.01)

        ticker = asyncio.ensure_future(tick())
        started = time.perf_counter()
        await asyncio.to_thread(work)
        took = time.perf_counter() - started
        done.set()
        await ticker
        return took, longest

    return asyncio.run(measure())


class SyntheticCorpus:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.words = [f"w{i}" for i in range(VOCABULARY)]
        # every other word is a name (an entity, place or number key), the others topic words, as in ECB+ dev
        # articles (16.5 names among 31.0 keys: eval stories); the index posts only an article's names
        self.key_of = np.array([key_hash("e" if i % 2 else "t", w) for i, w in enumerate(self.words)], dtype="<u4")
        # how an article writes them: names capitalised, so its keys are the ones its story was indexed with
        self.written = [w.capitalize() if i % 2 else w for i, w in enumerate(self.words)]
        ranks = np.arange(1, VOCABULARY + 1, dtype=np.float64)
        self.cumulative = np.cumsum(1 / ranks)  # Zipf: a few common words, a long tail
        self.cumulative /= self.cumulative[-1]

    def _sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.minimum(np.searchsorted(self.cumulative, rng.random(size)), VOCABULARY - 1)

    def _story_words(self, story: int) -> np.ndarray:
        return self._sample(np.random.default_rng(story), KEYS_PER_ARTICLE)

    @staticmethod
    def article_id(n: int) -> str:
        return f"https://news.example.com/{n // 1000:05d}/story-{n:09d}"

    def story_id(self, n: int) -> str:
        """The story of the ``n``th article, as linking leaves it: the id of the story's first article."""
        return self.article_id(n - n % STORY_SIZE)

    def signatures(self, first: int, count: int) -> list[Signature]:
        out = []
        minhashes = self.rng.integers(0, 2**16, size=(count, NUM_PERM), dtype=np.uint16)
        facts = self.rng.integers(0, 2**16, size=(count, MAX_FACTS), dtype=np.uint16)
        for i in range(count):
            n = first + i
            words = self._story_words(n // STORY_SIZE)
            own = self._sample(self.rng, KEYS_PER_ARTICLE // 4)
            words = np.concatenate([words[: KEYS_PER_ARTICLE - len(own)], own])
            out.append(
                Signature(
                    article_id=self.article_id(n),
                    published=START + n * 0.5,  # 1M articles span under 6 days: all inside the retention window
                    minhash=minhashes[i].astype("<u2").tobytes(),
                    keys=np.unique(self.key_of[words]).astype("<u4").tobytes(),
                    quotes=b"",
                    facts=np.unique(facts[i]).astype("<u2").tobytes(),
                    fact_limit=2**16,
                    words=600,
                )
            )
        return out

    def query_article(self, story: int, published: float, serial: int) -> Article:
        words = [self.written[i] for i in self._story_words(story)]
        filler = [self.written[i] for i in self._sample(self.rng, 200)]
        sentences = [" ".join(words[j : j + 8] + filler[j * 5 : j * 5 + 10]) + "." for j in range(0, 40, 8)]
        return Article(
            id=f"query-{serial}",
            source_id=f"query-{serial}",
            text=" ".join(s[:1].upper() + s[1:] for s in sentences),
            published_at=datetime.fromtimestamp(published, timezone.utc),
        )


def brute_force(index: StoryIndex, signature: Signature, config: LinkConfig, chunk: int = 50_000) -> float:
    """Score every indexed article (what the candidate lookup avoids) with the same vectorised scoring, a chunk
    of rows at a time: the best score found."""

    class Rows:
        """The index as ``_score_candidates`` reads it, with the given rows as the candidates."""

        def __init__(self, inner: StoryIndex, rows: np.ndarray) -> None:
            self.inner, self.rows = inner, rows

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def __len__(self) -> int:
            return len(self.inner)

        def candidate_block(self, sig: Signature, limit: int) -> Candidates:
            return self.inner.block(self.rows)

    rows = index.live_rows()
    best = 0.0
    for start in range(0, rows.size, chunk):
        view = Rows(index, rows[start : start + chunk])
        scanned = _score_candidates(view, signature, signature.published, config)  # type: ignore[arg-type]
        best = max([best] + [c.score for c in scanned[:1]])
    return best


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return _measure(args)
    finally:
        if not args.no_freeze:
            gc.unfreeze()  # called in-process (the tests do), the bench leaves the collector as it found it


def _measure(args: argparse.Namespace) -> int:
    sizes = sorted(int(s) for s in args.sizes.split(","))
    corpus = SyntheticCorpus(args.seed)
    config = LinkConfig()
    # as the worker keeps it: the slow upkeep (large merges of sorted runs, compaction) is not done in ``apply``
    # but afterwards, in a thread beside the event loop
    index = StoryIndex(retention_seconds=config.retention_seconds, upkeep_on_apply=False)
    if not args.no_freeze:
        # as the worker does before it starts: what the imports made is frozen out of the collector's passes
        gc.collect()
        gc.freeze()
    print(f"synthetic corpus: {VOCABULARY} words (Zipf), {KEYS_PER_ARTICLE} keys/article, stories of {STORY_SIZE}")
    print("size        link p50    link p99  (wall p50)   brute p50   brute/link  RSS/article  packed/article  build")
    rss_before = _rss_bytes()
    first_p50 = None
    for size in sizes:
        started = time.perf_counter()
        # every APPLY_SAMPLE-th apply time is kept: a float per indexed article would grow the resident set
        # measured below by 32 bytes an article
        applies, upkeeps, slowest_apply = [], [], 0.0
        with _FullCollections() as collections:
            while len(index) < size:
                batch = corpus.signatures(len(index), min(20_000, size - len(index)))
                for n, signature in enumerate(batch, len(index)):
                    t0 = time.thread_time()
                    # indexed as linking leaves them: each article in its story
                    index.apply(IndexChange(add=Entry(signature, corpus.story_id(n))))
                    took = time.thread_time() - t0
                    slowest_apply = max(slowest_apply, took)
                    if n % APPLY_SAMPLE == 0:
                        applies.append(took)
                    if index.wants_upkeep:
                        upkeeps.append(_beside_a_loop(index.upkeep))
        del batch
        build_seconds = time.perf_counter() - started
        growth = _rss_bytes() - rss_before
        # Below a few MB the allocator's own churn (arenas kept or returned, freed batches) outweighs the index:
        # a per-article figure from it would be noise, and can even come out negative.
        rss_cell = f"{growth / len(index):10.0f} B" if growth >= RSS_NOISE_BYTES else f"{'(noise)':>12}"
        now = START + size * 0.5
        timings, wall = [], []
        for q in range(args.queries):
            # alternately a follow-up of an indexed story and a story nobody has seen
            story = int(corpus.rng.integers(0, size // STORY_SIZE)) if q % 2 == 0 else 10**9 + q
            query = corpus.query_article(story, now + q, q)
            w0, t0 = time.perf_counter(), time.thread_time()
            link(index, query, config)
            timings.append(time.thread_time() - t0)
            wall.append(time.perf_counter() - w0)
        brute = []
        for q in range(args.brute_queries):
            signature = signature_of(corpus.query_article(q, now, q))
            t0 = time.thread_time()
            brute_force(index, signature, config)
            brute.append(time.thread_time() - t0)
        p50, p99 = _percentiles(timings)
        brute_p50 = statistics.median(brute)
        first_p50 = first_p50 or p50
        print(
            f"{size:<10} {p50 * 1e3:8.3f} ms {p99 * 1e3:8.3f} ms ({statistics.median(wall) * 1e3:6.2f} ms)"
            f" {brute_p50 * 1e3:9.1f} ms {brute_p50 / p50:10.0f}x {rss_cell}"
            f" {index.nbytes() / len(index):12.0f} B  {build_seconds:6.1f}s  (p50 vs first size: {p50 / first_p50:.2f}x)"
        )
        # applying a change is cheap but now and then merges a level of sorted runs: show the worst pause, and
        # the merges left to upkeep in a thread (how long, and how long the event loop stood still beside them)
        upkept = (f"; upkeep {len(upkeeps)} times, slowest {max(t for t, _ in upkeeps):.2f} s, longest event-loop "
                  f"stall {max(s for _, s in upkeeps) * 1e3:.0f} ms" if upkeeps else "; no upkeep needed")
        print(f"{'':<10} apply p50 {statistics.median(applies) * 1e3:.3f} ms, slowest {slowest_apply * 1e3:.0f} ms"
              + upkept)
        print(f"{'':<10} while building: {collections.summary()}")
        for line in _table_mirror(index):
            print(f"{'':<10} {line}")
        # With a retention window the index compacts once over half its rows are dead, rewriting every live
        # row and sorted run; this rewrites them all (none is dead here), in a thread as the worker does
        took, stall = _beside_a_loop(index.compact)
        print(f"{'':<10} compaction (every row rewritten): {took:.2f} s, longest event-loop stall {stall * 1e3:.0f} ms")
    return 0
