"""The story index: plain data, changed only by applying an ``IndexChange`` that ``link`` computed.

Layout (the same in memory and in a Faust table, so an agent can mirror every change as small table writes):
- ``entries[article_id]`` → ``Entry(signature, story_id)``: the only state that must be stored. In a Faust
  table (worker/stories/table.py) the key is the article id and the value ``encode_entry(entry)``; a change writes
  one entry, deletes the evicted ones and rewrites the ``story_id`` of the members of a merged/re-rooted story.
- the LSH buckets, the key postings, the stories and the time order are derived from the entries, rebuilt by
  ``StoryIndex.from_entries`` after a restart or rebalance (table recovery), never stored separately.

Memory: an indexed article is one row of packed numpy columns (MinHash, keys, leads, fact hashes, quote
fingerprints, years, event day, time, story) plus its UTF-8 id in one shared arena; its LSH buckets, its keys and
its id hash are (hash, row) pairs packed in one uint64 each and kept in sorted runs (``_PackedMultiMap``); the
document frequency of each key is one slot of a hash table. No Python object is made per article, nor one the garbage
collector tracks per story of several (``_Stories``), so an article costs 0.78 KB (0.89–0.95 KB of resident memory
with the stories: ``newsworker bench link`` at a million) instead of kilobytes of dicts, lists and tuples.
``entries`` is a read-only view that rebuilds an ``Entry`` from its row when asked. Evicted rows are marked dead
and skipped; when half the rows are dead they are compacted away.

Upkeep: compaction, merges of over a million sorted pairs, doubling the columns and rehashing the key counts each
take from a tenth of a second to seconds at a million articles. ``StoryIndex(upkeep_on_apply=False)`` (the worker's)
leaves them out of ``apply``: the owner calls ``upkeep()`` when ``wants_upkeep``, in a thread, so ``apply`` on the
event loop stays short. A merge, the doubling or the rehash is still done in ``apply`` when it can wait no longer
(compaction always can), so the index is right whether or not the owner keeps up.

Lookup is sublinear: an article's candidates are the members of its 8 LSH band buckets plus the postings of
its keys, skipping keys more common than ``max_posting`` (they say nothing about which story it is); each lookup
is a binary search in each of O(log n) runs, and scoring reads the candidates' rows as arrays. Only the keys that
name something (entities, places, detail numbers) are posted, not the topic words, unless an article names fewer
than ``MIN_POSTED_NAMES`` things (``_posted``): two reports of one story share names, and a story found through
one of its members is scored on a sample of all of them (``link``). That halves the postings, the largest part of
an article's memory after its columns: ECB+ dev articles carry 16.5 names among 31.0 keys (``eval stories``).
``eval stories`` over five orders: the online linker's mean F1 0.862 → 0.861, other-event pairs linked 7.7% →
7.8%; ``bench link`` at a million articles: packed bytes 889 → 772 per article, linking p50 2.5 → 1.9 ms.
"""

from __future__ import annotations

import itertools
import math
import mmap
import zlib
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from worker.stories.signature import BANDS, MAX_FACTS, MAX_KEYS, MAX_LEADS, MAX_QUOTES, NUM_PERM, Signature

DEFAULT_RETENTION_SECONDS = 14 * 24 * 3600.0
_ROW_MASK = np.uint64(0xFFFFFFFF)
_MEMBER = np.dtype("<i4")  # a story member's row, as the stories keep it


@dataclass(slots=True)
class Entry:
    signature: Signature
    story_id: str

    @property
    def published(self) -> float | None:
        return self.signature.published

    def to_dict(self) -> dict:
        return {"s": self.signature.to_dict(), "story": self.story_id}

    @classmethod
    def from_dict(cls, data: dict) -> Entry:
        return cls(Signature.from_dict(data["s"]), data["story"])


@dataclass(frozen=True, slots=True)
class IndexChange:
    """What one decision does to the index: add (or replace) an entry, re-root stories, move articles of a story
    that split to the new story (its first article first), evict old entries."""

    add: Entry | None = None
    restory: tuple[tuple[str, str], ...] = ()  # (old story id, new story id)
    evict: tuple[str, ...] = ()
    move: tuple[tuple[str, str], ...] = ()  # (article id, new story id), applied after restory, before add


@dataclass
class StoryInfo:
    """A story as ``link`` reads it: its root (earliest published article) and its members' ids."""

    first_id: str
    first_published: float
    members: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Candidates:
    """Candidate articles, best first, one array row each (keys and leads zero-padded past their counts)."""

    article_ids: list[str]
    story_ids: list[str]
    published: np.ndarray  # NaN: no publication time
    minhash: np.ndarray  # (n, NUM_PERM) uint16
    keys: np.ndarray  # (n, MAX_KEYS) uint32
    key_count: np.ndarray
    leads: np.ndarray  # (n, MAX_LEADS) uint32
    lead_count: np.ndarray
    year: np.ndarray
    event_day: np.ndarray  # packed YYYYMMDD, 0: none
    years: np.ndarray  # uint64, bit ``year % 64`` per year named

    def __len__(self) -> int:
        return len(self.article_ids)


class _Stories:
    """The stories of two or more articles (a lone article is its own story and needs no entry), numbered, in
    parallel sequences: the story id, its first article's id and publication time, and its member rows in the
    order they joined (int32 in a bytearray).

    Python's cyclic garbage collector tracks none of these values (strings, doubles in an ``array``, bytearrays,
    and a dict of strings to ints), so there is no object per story for its full passes to visit. A slots object
    per story holding an ``array`` put 400,000 more objects in every full pass at a million articles in stories of
    five, and the slowest ``apply`` of ``newsworker bench link`` was the one a pass fell in: 94–105 ms.
    """

    def __init__(self) -> None:
        self.ids: list[str | None] = []  # None: a free number
        self.first_ids: list[str] = []
        self.first_published = array("d")  # raw doubles: no float object per story for the collector to visit
        self.members: list[bytearray] = []
        self.number_of: dict[str, int] = {}  # story id → number
        self._free: list[int] = []

    def new(self, story_id: str, first_id: str, first_published: float, rows: list[int]) -> int:
        members = bytearray(np.asarray(rows, dtype=_MEMBER).tobytes())
        if self._free:
            number = self._free.pop()
            self.ids[number], self.first_ids[number] = story_id, first_id
            self.first_published[number], self.members[number] = first_published, members
        else:
            number = len(self.ids)
            self.ids.append(story_id)
            self.first_ids.append(first_id)
            self.first_published.append(first_published)
            self.members.append(members)
        self.number_of[story_id] = number
        return number

    def drop(self, number: int) -> None:
        story_id = self.ids[number]
        assert story_id is not None
        del self.number_of[story_id]
        self.ids[number], self.members[number] = None, bytearray()
        self._free.append(number)

    def rows(self, number: int) -> np.ndarray:
        """The member rows, oldest join first (a copy: the bytearray cannot grow while a view of it lives)."""
        return np.frombuffer(self.members[number], dtype=_MEMBER).copy()

    def size(self, number: int) -> int:
        return len(self.members[number]) // 4

    def append(self, number: int, row: int) -> None:
        self.members[number] += row.to_bytes(4, "little", signed=True)

    def extend(self, number: int, rows: np.ndarray) -> None:
        self.members[number] += rows.astype(_MEMBER).tobytes()

    def discard(self, number: int, row: int) -> bool:
        """Take ``row`` out of the story; True when the story has no member left."""
        members = self.members[number]
        found = np.flatnonzero(np.frombuffer(members, dtype=_MEMBER) == row)  # the view dies with the statement
        if found.size:
            at = int(found[0]) * 4
            del members[at : at + 4]
        return not members

    def take_first(self, number: int, first_id: str, first_published: float) -> None:
        """``first_id`` is the story's first article when published before the one it has."""
        if first_published < self.first_published[number]:
            self.first_ids[number], self.first_published[number] = first_id, first_published

    def renumber(self, renumber: np.ndarray) -> None:
        for number, members in enumerate(self.members):
            if members:
                rows = renumber[np.frombuffer(members, dtype=_MEMBER)]
                self.members[number] = bytearray(rows.astype(_MEMBER).tobytes())


class _PackedMultiMap:
    """32-bit key → rows, each pair packed as ``key << 32 | row`` in sorted uint64 runs.

    New pairs are appended to a small unsorted buffer that is sorted into a run when it holds ``flush_at``
    pairs. Runs are levels (as in a leveled LSM tree): level i holds at most ``flush_at × fanout**(i+1)`` pairs,
    a flushed run is merged into level 0 and a level that outgrows its size is merged into the next. So a
    lookup searches O(log_fanout n) runs (5 for 30 million pairs) and each pair is rewritten about fanout/2
    times per level. Removed rows are not deleted here: the index skips dead rows when it reads them and
    renumbers the pairs when it compacts. With ``defer_above`` set, a merge of more pairs than that waits for
    ``merge_deferred`` instead of pausing ``add``.
    """

    __slots__ = ("_runs", "_deferred", "_pending", "_pending_sorted", "flush_at", "fanout", "defer_above")

    def __init__(self, flush_at: int = 4096, fanout: int = 8, defer_above: int | None = None) -> None:
        self._runs: list[np.ndarray] = []  # index = level; an empty array when the level is empty
        # A merge of more than ``defer_above`` pairs is not done in ``add``: its run waits here, (level, run), until
        # ``merge_deferred`` (the worker calls it in a thread). It holds pairs newer than its level's and older
        # than the levels below, and is searched in that place meanwhile. One at a time: should another merge
        # reach its level first, the waiting one is merged then.
        self._deferred: tuple[int, np.ndarray] | None = None
        self._pending = array("Q")
        self._pending_sorted: np.ndarray | None = None
        self.flush_at = flush_at
        self.fanout = fanout
        self.defer_above = defer_above

    @classmethod
    def from_pairs(cls, keys: np.ndarray, rows: np.ndarray, defer_above: int | None = None) -> _PackedMultiMap:
        built = cls(defer_above=defer_above)
        if keys.size:
            run = np.sort((keys.astype(np.uint64) << np.uint64(32)) | rows.astype(np.uint64))
            capacity = built.flush_at * built.fanout
            while run.size > capacity:  # straight to the level its size belongs to
                built._runs.append(np.empty(0, dtype=np.uint64))
                capacity *= built.fanout
            built._runs.append(run)
        return built

    def nbytes(self) -> int:
        waiting = self._deferred[1].nbytes if self._deferred is not None else 0
        return sum(run.nbytes for run in self._runs) + waiting + self._pending.itemsize * len(self._pending)

    def renumbered(self, renumber: np.ndarray) -> _PackedMultiMap:
        """The same pairs with rows renumbered (``renumber[row]``; pairs of rows mapped to -1 are dropped)."""
        packed = np.concatenate([np.empty(0, dtype=np.uint64), *self._all_runs()])
        rows = renumber[(packed & _ROW_MASK).astype(np.int64)]
        kept = rows >= 0
        return _PackedMultiMap.from_pairs(packed[kept] >> np.uint64(32), rows[kept], self.defer_above)

    def add(self, keys: Iterable[int], row: int) -> None:
        self._pending.extend((key << 32) | row for key in keys)
        self._pending_sorted = None
        if len(self._pending) >= self.flush_at:
            carry = np.sort(np.frombuffer(self._pending, dtype=np.uint64))
            self._pending = array("Q")
            self._cascade(carry, 0, self.defer_above)

    @property
    def has_deferred(self) -> bool:
        return self._deferred is not None

    def merge_deferred(self) -> None:
        if self._deferred is not None:
            level, carry = self._deferred
            self._deferred = None
            self._cascade(carry, level, None)

    def _cascade(self, carry: np.ndarray, level: int, defer_above: int | None) -> None:
        """Merge the sorted run ``carry`` into ``level``, and a level that outgrows its size into the next; a merge
        of more than ``defer_above`` pairs is left waiting instead."""
        capacity = self.flush_at * self.fanout ** (level + 1)
        while True:
            if level == len(self._runs):
                self._runs.append(np.empty(0, dtype=np.uint64))
            if self._deferred is not None and level >= self._deferred[0]:
                self.merge_deferred()  # the run waiting at this level is older than ``carry``: it goes first
            held = self._runs[level]
            if defer_above is not None and held.size + carry.size > defer_above:
                self._deferred = (level, carry)
                return
            # two sorted runs: the stable sort (timsort) merges them in linear time
            merged = np.sort(np.concatenate((held, carry)), kind="stable")
            if merged.size <= capacity:
                self._runs[level] = merged
                return
            self._runs[level] = np.empty(0, dtype=np.uint64)
            carry, level, capacity = merged, level + 1, capacity * self.fanout

    def _all_runs(self) -> list[np.ndarray]:
        """Every non-empty run, oldest first; the unsorted buffer (the newest pairs) sorted once per change, last."""
        runs = []
        for level in reversed(range(len(self._runs))):  # a lower level holds newer rows: oldest first
            if self._runs[level].size:
                runs.append(self._runs[level])
            if self._deferred is not None and self._deferred[0] == level:
                runs.append(self._deferred[1])
        if self._pending:
            if self._pending_sorted is None:
                self._pending_sorted = np.sort(np.frombuffer(self._pending, dtype=np.uint64))
            runs.append(self._pending_sorted)
        return runs

    def _bounds(self, keys: np.ndarray) -> list[tuple[np.ndarray, list[int], list[int]]]:
        low = keys.astype(np.uint64) << np.uint64(32)
        # no pair equals key<<32 | 0xFFFFFFFF (rows stay below 2**31), so "left" of it is the end of the key
        needles = np.concatenate((low, low | _ROW_MASK))
        bounds = []
        for run in self._all_runs():
            found = np.searchsorted(run, needles).tolist()
            bounds.append((run, found[: keys.size], found[keys.size :]))
        return bounds

    def rows(self, keys: np.ndarray, latest: int, most: int | None = None) -> list[np.ndarray]:
        """Per key, its rows: at most the ``latest`` (most recently added) ones; none for a key with more
        than ``most`` pairs."""
        bounds = self._bounds(keys)
        out = []
        for k in range(keys.size):
            if most is not None and sum(hi[k] - lo[k] for _, lo, hi in bounds) > most:
                out.append(np.empty(0, dtype=np.uint64))
                continue
            parts, needed = [], latest
            for run, lo, hi in reversed(bounds):  # newest run first
                if hi[k] > lo[k]:
                    parts.append(run[max(lo[k], hi[k] - needed) : hi[k]])
                    needed -= len(parts[-1])
                    if needed <= 0:
                        break
            out.append(np.concatenate(parts) & _ROW_MASK if parts else np.empty(0, dtype=np.uint64))
        return out


class _KeyCounts:
    """Exact number of live articles per 32-bit key: an open-addressing hash table in two flat arrays.

    Linear probing at a load of at most one half; a slot holds a key and its count (-1: an empty slot). Keys
    whose count falls to 0 stay until the table is rehashed (probe chains stay intact) and are dropped then.
    Reads probe all keys at once with numpy; writes (32 keys per article) probe one key at a time in ``array``s.
    """

    __slots__ = ("_slots", "_counts", "_used")

    def __init__(self) -> None:
        self._allocate(1 << 12)

    def _allocate(self, capacity: int) -> None:
        self._slots = array("I", bytes(4 * capacity))
        self._counts = array("i", [-1]) * capacity
        self._used = 0

    def nbytes(self) -> int:
        return 8 * len(self._slots)

    @property
    def wants_rehash(self) -> bool:
        """Over three eighths full: an owner that keeps upkeep out of ``apply`` rehashes now, in its own time,
        before ``add`` has to at one half."""
        return self._used * 8 > 3 * len(self._slots)

    def add(self, keys: Iterable[int], delta: int) -> None:
        slots, counts = self._slots, self._counts
        mask = len(slots) - 1
        for key in keys:
            i = _home(key) & mask
            while counts[i] != -1 and slots[i] != key:
                i = (i + 1) & mask
            if counts[i] == -1:
                slots[i], counts[i] = key, 0
                self._used += 1
            counts[i] += delta
        if self._used * 2 > len(slots):
            self.rehash()

    def rehash(self) -> None:
        """Drop keys counted 0 and size the table to a quarter to an eighth full (growing or shrinking)."""
        slots = np.frombuffer(self._slots, dtype=np.uint32)
        counts = np.frombuffer(self._counts, dtype=np.int32)
        live = counts > 0
        # vectorised: one key at a time in Python is slow for the millions of distinct keys (names, words) of a
        # large index
        self.load(slots[live], counts[live])  # copies: boolean indexing makes new arrays

    def load(self, keys: np.ndarray, counts: np.ndarray) -> None:
        """Fill an empty table with distinct ``keys`` and their counts at once (vectorised linear probing)."""
        capacity = 1 << 12
        while keys.size * 4 > capacity:
            capacity *= 2
        self._allocate(capacity)
        slots = np.frombuffer(self._slots, dtype=np.uint32)
        held = np.frombuffer(self._counts, dtype=np.int32)
        position = _homes(keys, capacity - 1)
        waiting = np.arange(keys.size)
        while waiting.size:
            at = position[waiting]
            free = held[at] == -1
            # of the keys probing one free slot, the first takes it; the rest probe on
            _, first = np.unique(at[free], return_index=True)
            placing = waiting[free][first]
            slots[position[placing]] = keys[placing]
            held[position[placing]] = counts[placing]
            placed = np.zeros(keys.size, dtype=bool)
            placed[placing] = True
            waiting = waiting[~placed[waiting]]
            position[waiting] = (position[waiting] + 1) & (capacity - 1)
        self._used = int(keys.size)

    def get(self, keys: np.ndarray) -> np.ndarray:
        slots = np.frombuffer(self._slots, dtype=np.uint32)
        counts = np.frombuffer(self._counts, dtype=np.int32)
        mask = slots.size - 1
        keys = keys.astype(np.uint32)
        position = _homes(keys, mask)
        found = np.zeros(keys.size, dtype=np.int64)
        probing = np.arange(keys.size)
        while probing.size:
            at = position[probing]
            hit = (slots[at] == keys[probing]) & (counts[at] != -1)
            found[probing[hit]] = counts[at[hit]]
            probing = probing[~hit & (counts[at] != -1)]
            position[probing] = (position[probing] + 1) & mask
        return found


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


# An article that names fewer things than this has all its keys posted, topic words too: it could not be found
# through its names alone
MIN_POSTED_NAMES = 4


def _posted(keys: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Which of each row's present keys go into the postings: the named ones (the low bit of a key), or all of a
    row's keys when it has fewer than ``MIN_POSTED_NAMES`` named ones."""
    named = present & (keys & 1).astype(bool)
    few = named.sum(axis=1) < MIN_POSTED_NAMES
    return np.where(few[:, None], present, named)


def _homes(keys: np.ndarray, mask: int) -> np.ndarray:
    """``_home`` of many keys at once, masked to the table."""
    with np.errstate(over="ignore"):
        return ((keys.astype(np.uint64) * _GOLDEN) >> np.uint64(32)).astype(np.int64) & mask


def _home(key: int) -> int:
    """Where a key's probe starts (the same multiplicative hash as the vectorised ``_KeyCounts.get``)."""
    return ((key * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) >> 32


class _Columns:
    """Growable packed columns, one row per indexed article (capacity doubles; untouched pages cost nothing)."""

    SPEC: dict[str, tuple[str, int]] = {
        "minhash": ("<u2", NUM_PERM),
        "keys": ("<u4", MAX_KEYS),
        "leads": ("<u4", MAX_LEADS),
        "facts": ("<u2", MAX_FACTS),
        "quotes": ("<u4", MAX_QUOTES),
        "key_count": ("u1", 0),
        "lead_count": ("u1", 0),
        "fact_count": ("<u2", 0),
        "quote_count": ("u1", 0),
        "fact_limit": ("<u4", 0),
        "words": ("<u4", 0),
        "year": ("<u2", 0),
        "event_day": ("<u4", 0),
        "years": ("<u8", 0),
        "published": ("<f8", 0),  # NaN: no publication time
        "story": ("<i4", 0),  # -1: a story of its own; otherwise a story number in StoryIndex._stories
        "alive": ("?", 0),
    }

    def __init__(self, capacity: int = 1024) -> None:
        self.size = 0
        self.capacity = capacity
        self.arrays = {name: self._empty(name, capacity) for name in self.SPEC}

    def _empty(self, name: str, capacity: int) -> np.ndarray:
        """Zeros in an anonymous memory map: the kernel supplies a zero page when a row is first written, so the
        capacity not used yet takes no memory. ``np.zeros`` of less than glibc's mmap threshold (which rises to
        32 MB once large blocks are freed) comes from the heap and is cleared there, every page resident."""
        dtype, width = self.SPEC[name]
        shape = (capacity, width) if width else (capacity,)
        count = capacity * max(width, 1)
        return np.frombuffer(mmap.mmap(-1, count * np.dtype(dtype).itemsize), dtype=dtype, count=count).reshape(shape)

    def fill(self, start: int, signatures: list[Signature]) -> None:
        """Write the rows ``start..`` of ``signatures`` into allocated columns."""
        end = start + len(signatures)
        a = self.arrays
        a["minhash"][start:end] = np.frombuffer(b"".join([s.minhash for s in signatures]), dtype="<u2").reshape(
            len(signatures), -1)
        for name, count_name, blobs in (
            ("keys", "key_count", [s.keys for s in signatures]),
            ("leads", "lead_count", [s.leads for s in signatures]),
            ("facts", "fact_count", [s.facts for s in signatures]),
            ("quotes", "quote_count", [s.quotes for s in signatures]),
        ):
            column = a[name]
            width, itemsize = column.shape[1], column.dtype.itemsize
            blobs = [blob[: width * itemsize] for blob in blobs]
            lengths = np.fromiter((len(blob) // itemsize for blob in blobs), dtype=np.int64, count=len(blobs))
            present = np.arange(width)[None, :] < lengths[:, None]
            column[start:end][present] = np.frombuffer(b"".join(blobs), dtype=column.dtype)
            a[count_name][start:end] = lengths
        a["fact_limit"][start:end] = [s.fact_limit for s in signatures]
        a["words"][start:end] = [s.words for s in signatures]
        a["year"][start:end] = [s.year for s in signatures]
        a["event_day"][start:end] = [s.event_day for s in signatures]
        a["years"][start:end] = [s.years for s in signatures]
        a["published"][start:end] = [math.nan if s.published is None else s.published for s in signatures]

    def append(self) -> int:
        if self.size == self.capacity:
            self.grow()
        self.size += 1
        return self.size - 1

    @property
    def wants_room(self) -> bool:
        """Seven eighths full: an owner that keeps upkeep out of ``apply`` doubles the columns now (a copy of
        every row: hundreds of MB at a million), before ``append`` has to."""
        return self.size * 8 > self.capacity * 7

    def grow(self) -> None:
        self.capacity *= 2
        for name, old in self.arrays.items():
            grown = self._empty(name, self.capacity)
            grown[: self.size] = old[: self.size]
            self.arrays[name] = grown

    def keep(self, rows: np.ndarray) -> None:
        """Keep only ``rows`` (in that order), renumbered from 0."""
        # room to spare beyond ``wants_room``'s seven eighths, or the upkeep that compacted would copy all again
        self.capacity = max(1024, 1 << (int(rows.size) * 8 // 7).bit_length())
        for name, old in self.arrays.items():
            kept = self._empty(name, self.capacity)
            kept[: rows.size] = old[rows]
            self.arrays[name] = kept
        self.size = int(rows.size)

    def nbytes(self) -> int:
        return sum(a[: self.size].nbytes for a in self.arrays.values())


class _IdArena:
    """Article ids as UTF-8 in one bytearray, row after row: no Python string is kept per indexed article."""

    __slots__ = ("_bytes", "_ends")

    def __init__(self) -> None:
        self._bytes = bytearray()
        self._ends = array("Q")

    def append(self, article_id: str) -> None:
        self._bytes += article_id.encode()
        self._ends.append(len(self._bytes))

    def __getitem__(self, row: int) -> str:
        start = self._ends[row - 1] if row else 0
        return self._bytes[start : self._ends[row]].decode()

    def __len__(self) -> int:
        return len(self._ends)

    def keep(self, rows: np.ndarray) -> _IdArena:
        """Only the ids of ``rows`` (in that order), copied in one vectorised gather."""
        ends = np.frombuffer(self._ends, dtype=np.uint64).astype(np.int64)
        starts = np.concatenate(([0], ends[:-1]))[rows]
        lengths = ends[rows] - starts
        kept_ends = np.cumsum(lengths)
        # the byte offsets of the kept ids, one after another: a step of 1 within an id, a jump to the next id's
        # start at each boundary, summed up (``np.repeat`` would hold the GIL for the whole gather)
        steps = np.ones(int(kept_ends[-1]) if rows.size else 0, dtype=np.int64)
        if steps.size:
            firsts = kept_ends - lengths
            nonempty = lengths > 0
            jumps = starts[nonempty][1:] - (starts[nonempty][:-1] + lengths[nonempty][:-1]) + 1
            steps[firsts[nonempty][1:]] = jumps
            steps[0] = starts[nonempty][0]
        offsets = np.cumsum(steps)
        kept = _IdArena()
        kept._bytes = bytearray(np.frombuffer(self._bytes, dtype=np.uint8)[offsets].tobytes())
        kept._ends = array("Q", kept_ends.astype(np.uint64).tobytes())
        return kept

    def nbytes(self) -> int:
        return len(self._bytes) + self._ends.itemsize * len(self._ends)


class _EntryView(Mapping[str, Entry]):
    """``index.entries``: the indexed articles as ``Entry`` objects, rebuilt from their rows on access."""

    def __init__(self, index: StoryIndex) -> None:
        self._index = index

    def __getitem__(self, article_id: str) -> Entry:
        row = self._index._row_of(article_id)
        if row is None:
            raise KeyError(article_id)
        return self._index._entry(row)

    def __contains__(self, article_id: object) -> bool:
        return isinstance(article_id, str) and self._index._row_of(article_id) is not None

    def __iter__(self) -> Iterator[str]:
        index = self._index
        for row in index.live_rows().tolist():
            yield index._ids[row]

    def __len__(self) -> int:
        return self._index._live


# Without upkeep in ``apply``, a merge of more pairs than this waits for ``upkeep`` (the worker runs it in a thread)
_DEFER_MERGES_ABOVE = 1 << 20
_LOAD_CHUNK = 20_000  # rows per step of a rebuild: each step holds the GIL for a few milliseconds at most


def _release(items: list) -> None:
    """Empty ``items`` a slice at a time. Freeing a million entries with their list is one long call under the
    GIL; slice by slice, other threads run in between."""
    while items:
        del items[-_LOAD_CHUNK:]


class StoryIndex:
    """In-memory index; read by ``link`` (never written by it) and changed by ``apply``."""

    def __init__(
        self, retention_seconds: float = DEFAULT_RETENTION_SECONDS, max_posting: int = 2_000, max_scan: int = 200,
        upkeep_on_apply: bool = True,
    ) -> None:
        self.retention_seconds = retention_seconds
        self.max_posting = max_posting  # keys in more articles than this say nothing about the story: skipped
        self.max_scan = max_scan  # of a key's articles only the latest this many are looked at
        # False: ``apply`` leaves the slow upkeep (compaction, merges of over a million pairs) to the owner, who
        # calls ``upkeep`` when ``wants_upkeep``; the worker does it in a thread, as it takes seconds at 1M articles
        self.upkeep_on_apply = upkeep_on_apply
        self.watermark: float | None = None  # latest publication time indexed
        self.entries: Mapping[str, Entry] = _EntryView(self)
        self._reset()

    def _reset(self) -> None:
        self._cols = _Columns()
        self._ids = _IdArena()
        defer = self._defer_merges_above
        self._id_rows = _PackedMultiMap(defer_above=defer)  # crc32(article id) → row (collisions: ids compared)
        self._bands = _PackedMultiMap(defer_above=defer)
        self._postings = _PackedMultiMap(defer_above=defer)
        self._frequencies = _KeyCounts()  # live articles per key: the IDF of scoring
        self._stories = _Stories()
        self._live = 0
        self._front = 0  # rows below this are all dead (news arrives roughly in publication order)

    @classmethod
    def from_entries(cls, entries: Iterable[Entry], **options: float) -> StoryIndex:
        """Rebuild the derived structures from stored entries (what a recovered Faust table holds)."""
        index = cls(**options)  # type: ignore[arg-type]
        entries = list(entries)
        # publication order by a numpy sort, which lets go of the GIL: ``list.sort`` holds it for the whole sort,
        # and the worker rebuilds in a thread beside its event loop
        published = np.fromiter((e.published or 0.0 for e in entries), dtype=np.float64, count=len(entries))
        order = np.argsort(published, kind="stable")
        ordered = [entries[i] for start in range(0, order.size, _LOAD_CHUNK)
                   for i in order[start : start + _LOAD_CHUNK].tolist()]
        _release(entries)
        index._load(ordered)
        _release(ordered)
        return index

    def _load(self, entries: list[Entry]) -> None:
        """Bulk insert into an empty index: columns filled and packed maps sorted once, not entry by entry."""
        count = len(entries)
        if not count:
            return
        signatures = [entry.signature for entry in entries]
        self._cols = _Columns(capacity=max(1024, 1 << (count - 1).bit_length()))
        self._cols.size = count
        a = self._cols.arrays
        # A slice of rows at a time: the worker rebuilds in a thread beside its event loop, and a join or an array
        # made from a list of a million items is one call that holds the GIL for tens to hundreds of milliseconds
        for start in range(0, count, _LOAD_CHUNK):
            self._cols.fill(start, signatures[start : start + _LOAD_CHUNK])
        a["story"][:count] = -1
        a["alive"][:count] = True
        for signature in signatures:
            self._ids.append(signature.article_id)
        rows = np.arange(count, dtype=np.uint64)
        id_hashes = np.fromiter((_id_hash(s.article_id) for s in signatures), dtype=np.uint64, count=count)
        defer = self._defer_merges_above
        self._id_rows = _PackedMultiMap.from_pairs(id_hashes, rows, defer)
        # ``np.fromiter`` over a generator lets other threads in between items, where ``np.asarray`` of a list of
        # lists did not; the rows of the pairs come from calls that let go of the GIL (ufuncs, a boolean mask)
        # rather than from ``np.repeat``, which holds it
        bands = np.fromiter(itertools.chain.from_iterable(s.bands() for s in signatures), dtype=np.uint64,
                            count=count * BANDS)
        band_rows = np.arange(count * BANDS, dtype=np.uint64) // np.uint64(BANDS)
        self._bands = _PackedMultiMap.from_pairs(bands, band_rows, defer)
        present = np.arange(MAX_KEYS)[None, :] < a["key_count"][:count, None]
        keys = a["keys"][:count][present]
        posted = _posted(a["keys"][:count], present)
        self._postings = _PackedMultiMap.from_pairs(
            a["keys"][:count][posted], np.broadcast_to(rows[:, None], present.shape)[posted], defer)
        self._frequencies.load(*np.unique(keys, return_counts=True))
        self._live = count
        published = [e.published for e in entries if e.published is not None]
        self.watermark = max(published) if published else None
        for row, entry in enumerate(entries):
            self._join(row, entry.story_id)
        _release(signatures)

    def __len__(self) -> int:
        return self._live

    def nbytes(self) -> int:
        """Bytes held in packed arrays (columns, ids, sorted runs); stories of several articles come on top."""
        packed = self._cols.nbytes() + self._ids.nbytes() + self._frequencies.nbytes()
        return packed + self._id_rows.nbytes() + self._bands.nbytes() + self._postings.nbytes()

    # ---- reads (used by link) ------------------------------------------------------------------------

    def document_frequency(self, key: int) -> int:
        return int(self.document_frequencies(np.asarray([key], dtype=np.uint32))[0])

    def document_frequencies(self, keys: np.ndarray) -> np.ndarray:
        """Indexed (live) articles having each key."""
        return self._frequencies.get(np.asarray(keys, dtype=np.uint32))

    def candidates(self, signature: Signature, limit: int) -> list[tuple[str, int]]:
        """Up to ``limit`` indexed article ids sharing the most band buckets / keys with ``signature``."""
        rows, hits = self._candidate_rows(signature, limit)
        return [(self._ids[row], hit) for row, hit in zip(rows.tolist(), hits.tolist())]

    def candidate_block(self, signature: Signature, limit: int) -> Candidates:
        """The rows of ``candidates`` (best first) as arrays: what scoring reads, without an object per row."""
        rows, _ = self._candidate_rows(signature, limit)
        return self.block(rows)

    def live_rows(self) -> np.ndarray:
        """Row numbers of every indexed article (for a brute-force scan to compare the lookup against)."""
        return np.flatnonzero(self._cols.arrays["alive"][: self._cols.size])

    def block(self, rows: np.ndarray) -> Candidates:
        """The given rows as a ``Candidates`` block."""
        a = self._cols.arrays
        return Candidates(
            article_ids=[self._ids[row] for row in rows.tolist()],
            story_ids=[self._story_id(row) for row in rows.tolist()],
            published=a["published"][rows],
            minhash=a["minhash"][rows],
            keys=a["keys"][rows],
            key_count=a["key_count"][rows],
            leads=a["leads"][rows],
            lead_count=a["lead_count"][rows],
            year=a["year"][rows],
            event_day=a["event_day"][rows],
            years=a["years"][rows],
        )

    def _candidate_rows(self, signature: Signature, limit: int) -> tuple[np.ndarray, np.ndarray]:
        bands = self._bands.rows(np.asarray(signature.bands(), dtype=np.uint32), self.max_scan)
        keys = self._postings.rows(signature.key_array(), self.max_scan, most=self.max_posting)
        found = np.concatenate([*bands, *keys]).astype(np.int64) if bands or keys else np.empty(0, np.int64)
        # a shared band is strong evidence: it counts as four shared keys
        weight = np.concatenate(
            [np.full(sum(b.size for b in bands), 4, dtype=np.int64), np.ones(sum(k.size for k in keys), np.int64)]
        )
        rows, inverse = np.unique(found, return_inverse=True)
        hits = np.bincount(inverse, weights=weight, minlength=rows.size).astype(np.int64)
        keep = self._cols.arrays["alive"][rows]
        own = self._row_of(signature.article_id)
        if own is not None:
            keep &= rows != own
        rows, hits = rows[keep], hits[keep]
        order = np.lexsort((-rows, -hits))[:limit]  # most hits first, then the latest
        return rows[order], hits[order]

    def story(self, story_id: str) -> StoryInfo | None:
        stories = self._stories
        number = stories.number_of.get(story_id)
        if number is not None:
            members = self.ids_of(stories.rows(number))
            return StoryInfo(stories.first_ids[number], stories.first_published[number], members)
        row = self._lone_row(story_id)
        return None if row is None else StoryInfo(story_id, self._published_or(row, 0.0), [story_id])

    def first_published(self, story_id: str) -> float:
        """When the story's earliest article was published (0.0 for an id that names no indexed story)."""
        number = self._stories.number_of.get(story_id)
        if number is not None:
            return self._stories.first_published[number]
        row = self._row_of(story_id)
        return self._published_or(row, 0.0) if row is not None else 0.0

    def story_sample(self, story_id: str, most: int) -> np.ndarray:
        """Rows of at most ``most`` members of a story, spread evenly over its members in the order they joined
        (all of them when it has no more). Linking compares an article with a story on these: a story of 100,000
        members costs what one of ``most`` does."""
        number = self._stories.number_of.get(story_id)
        if number is None:
            row = self._lone_row(story_id)
            return np.asarray([] if row is None else [row], dtype=np.int64)
        # a view, not a copy of a big story's rows; it dies on return, before the story can grow again
        rows = np.frombuffer(self._stories.members[number], dtype=_MEMBER)
        if rows.size > most:
            rows = rows[np.linspace(0, rows.size - 1, most).round().astype(np.int64)]
        return rows.astype(np.int64)

    def _lone_row(self, story_id: str) -> int | None:
        """The row of the article ``story_id`` when it is a story of its own (in no story of several)."""
        row = self._row_of(story_id)
        return row if row is not None and self._cols.arrays["story"][row] == -1 else None

    def ids_of(self, rows: np.ndarray) -> list[str]:
        """The article id of each row."""
        return [self._ids[row] for row in rows.tolist()]

    def rows_of(self, article_ids: Iterable[str]) -> np.ndarray:
        """The rows of those of ``article_ids`` that are indexed, in their order."""
        rows = [self._row_of(article_id) for article_id in article_ids]
        return np.asarray([row for row in rows if row is not None], dtype=np.int64)

    def story_size(self, story_id: str) -> int:
        """Indexed members of a story (1 for an id that names no story of several: a lone article)."""
        number = self._stories.number_of.get(story_id)
        return self._stories.size(number) if number is not None else 1

    def expired(self, now: float | None = None, limit: int = 1_000) -> Iterator[str]:
        """Indexed articles published before the retention window ending at ``now`` (default: the latest
        publication time indexed), at most ``limit`` of them, oldest rows first. The scan stops at the first
        live article inside the window: an article that arrived out of order ages out with the rows around it."""
        latest = max((t for t in (self.watermark, now) if t is not None), default=None)
        if latest is None:
            return
        horizon = latest - self.retention_seconds
        alive = self._cols.arrays["alive"]
        published = self._cols.arrays["published"]
        found = 0
        for row in range(self._front, self._cols.size):
            if found == limit:
                return
            if not alive[row]:
                continue
            if published[row] >= horizon:  # an undated row (NaN) is past any horizon: evicted first, as before
                return
            found += 1
            yield self._ids[row]

    # ---- the one write -----------------------------------------------------------------------------

    def apply(self, change: IndexChange) -> None:
        for article_id in change.evict:
            self._remove(article_id)
        for old, new in change.restory:
            self._restory(old, new)
        for article_id, story_id in change.move:
            self._move(article_id, story_id)
        if change.add is not None:
            self._remove(change.add.signature.article_id)
            self._insert(change.add)
        self._advance_front()
        if self.upkeep_on_apply and self.wants_compaction:
            self.compact()

    @property
    def _defer_merges_above(self) -> int | None:
        return None if self.upkeep_on_apply else _DEFER_MERGES_ABOVE

    @property
    def wants_compaction(self) -> bool:
        """More than half the rows are dead (evicted or replaced): time to drop them."""
        return self._cols.size > 4096 and self._live < self._cols.size // 2

    @property
    def wants_upkeep(self) -> bool:
        """A deferred merge of sorted runs is waiting, compaction is due, or the key counts or columns fill up."""
        if self.wants_compaction or any(m.has_deferred for m in (self._id_rows, self._bands, self._postings)):
            return True
        return not self.upkeep_on_apply and (self._frequencies.wants_rehash or self._cols.wants_room)

    def upkeep(self) -> None:
        """The deferred merges, compaction when due, and more room for the key counts and the columns when they
        fill up. Lookups are right before and after, and nothing else may use the index meanwhile."""
        if self.wants_compaction:
            self.compact()  # rewrites every run, the deferred ones included
        else:
            for packed in (self._id_rows, self._bands, self._postings):
                packed.merge_deferred()
        if self._frequencies.wants_rehash:
            self._frequencies.rehash()
        if self._cols.wants_room:
            self._cols.grow()

    # ---- rows ----------------------------------------------------------------------------------------

    def _row_of(self, article_id: str) -> int | None:
        alive = self._cols.arrays["alive"]
        (rows,) = self._id_rows.rows(np.asarray([_id_hash(article_id)], dtype=np.uint32), 1 << 30)
        for row in rows.tolist():
            if alive[row] and self._ids[row] == article_id:
                return row
        return None

    def _published_or(self, row: int, default: float) -> float:
        value = float(self._cols.arrays["published"][row])
        return default if math.isnan(value) else value

    def _entry(self, row: int) -> Entry:
        a = self._cols.arrays
        published = float(a["published"][row])
        signature = Signature(
            article_id=self._ids[row],
            published=None if math.isnan(published) else published,
            minhash=a["minhash"][row].tobytes(),
            keys=a["keys"][row, : a["key_count"][row]].tobytes(),
            quotes=a["quotes"][row, : a["quote_count"][row]].tobytes(),
            facts=a["facts"][row, : a["fact_count"][row]].tobytes(),
            fact_limit=int(a["fact_limit"][row]),
            words=int(a["words"][row]),
            leads=a["leads"][row, : a["lead_count"][row]].tobytes(),
            year=int(a["year"][row]),
            event_day=int(a["event_day"][row]),
            years=int(a["years"][row]),
        )
        return Entry(signature, self._story_id(row))

    def _story_id(self, row: int) -> str:
        number = int(self._cols.arrays["story"][row])
        if number == -1:
            return self._ids[row]
        story_id = self._stories.ids[number]
        assert story_id is not None
        return story_id

    def _insert(self, entry: Entry) -> None:
        signature = entry.signature
        article_id = signature.article_id
        row = self._cols.append()
        a = self._cols.arrays
        keys = signature.key_array()[:MAX_KEYS]
        leads = signature.lead_array()[:MAX_LEADS]
        facts = signature.fact_array()[:MAX_FACTS]
        quotes = signature.quote_array()[:MAX_QUOTES]
        a["minhash"][row] = signature.minhash_array()
        a["keys"][row, : keys.size] = keys
        a["key_count"][row] = keys.size
        a["leads"][row, : leads.size] = leads
        a["lead_count"][row] = leads.size
        a["facts"][row, : facts.size] = facts
        a["fact_count"][row] = facts.size
        a["quotes"][row, : quotes.size] = quotes
        a["quote_count"][row] = quotes.size
        a["fact_limit"][row] = signature.fact_limit
        a["words"][row] = signature.words
        a["year"][row] = signature.year
        a["event_day"][row] = signature.event_day
        a["years"][row] = signature.years
        a["published"][row] = math.nan if entry.published is None else entry.published
        a["alive"][row] = True
        a["story"][row] = -1
        self._ids.append(article_id)
        self._id_rows.add((_id_hash(article_id),), row)
        self._bands.add(signature.bands(), row)
        posted = _posted(keys[None, :], np.ones((1, keys.size), dtype=bool))[0]
        self._postings.add(keys[posted].tolist(), row)
        self._frequencies.add(keys.tolist(), 1)
        self._live += 1
        self._join(row, entry.story_id)
        if entry.published is not None and (self.watermark is None or entry.published > self.watermark):
            self.watermark = entry.published

    def _join(self, row: int, story_id: str) -> None:
        article_id = self._ids[row]
        published = self._published_or(row, self.watermark or 0.0)
        stories = self._stories
        number = stories.number_of.get(story_id)
        if number is None:
            if story_id == article_id:
                return  # a story of its own
            root = self._row_of(story_id)
            rows = [] if root is None or self._cols.arrays["story"][root] != -1 else [root]
            first = (self._published_or(root, published), story_id) if rows else (published, article_id)
            number = stories.new(story_id, first[1], first[0], rows)
            for member in rows:
                self._cols.arrays["story"][member] = number
        stories.append(number, row)
        self._cols.arrays["story"][row] = number
        stories.take_first(number, article_id, published)

    def _remove(self, article_id: str) -> None:
        row = self._row_of(article_id)
        if row is None:
            return
        a = self._cols.arrays
        a["alive"][row] = False
        self._frequencies.add(a["keys"][row, : a["key_count"][row]].tolist(), -1)
        self._live -= 1
        self._leave_story(row)
        # its bucket, posting and id pairs stay until the next compaction; readers skip dead rows

    def _restory(self, old: str, new: str) -> None:
        if old == new:
            return
        a = self._cols.arrays
        stories = self._stories
        number = stories.number_of.get(old)
        if number is not None:
            moved_rows = stories.rows(number)
            moved_first = (stories.first_ids[number], stories.first_published[number])
            stories.drop(number)
        else:
            row = self._row_of(old)
            if row is None or a["story"][row] != -1:
                return
            moved_rows = np.asarray([row], dtype=_MEMBER)
            moved_first = (old, self._published_or(row, 0.0))
        target = stories.number_of.get(new)
        if target is None:
            root = self._row_of(new)
            rows = [root] if root is not None and a["story"][root] == -1 else []
            first = (self._published_or(root, math.inf), new) if rows else (math.inf, new)
            target = stories.new(new, first[1], first[0], rows)
            for member in rows:
                a["story"][member] = target
        a["story"][moved_rows] = target
        stories.extend(target, moved_rows)
        stories.take_first(target, *moved_first)

    def _move(self, article_id: str, story_id: str) -> None:
        """Take an article out of its story into ``story_id``: its own id makes it a story of its own (the first
        article of a story split off), any other id joins that story (created around its first article)."""
        row = self._row_of(article_id)
        if row is None:
            return
        self._leave_story(row)
        self._cols.arrays["story"][row] = -1
        if story_id != article_id:
            self._join(row, story_id)

    def _leave_story(self, row: int) -> None:
        """Take ``row`` out of the members of its story (dropped when none is left); its column is left as is."""
        number = int(self._cols.arrays["story"][row])
        if number != -1 and self._stories.discard(number, row):
            self._stories.drop(number)

    def _advance_front(self) -> None:
        alive = self._cols.arrays["alive"]
        while self._front < self._cols.size and not alive[self._front]:
            self._front += 1

    def compact(self) -> None:
        """Drop dead rows: renumber the live ones in the columns, the id arena, the stories and the packed maps."""
        a = self._cols.arrays
        live = np.flatnonzero(a["alive"][: self._cols.size])
        renumber = np.full(self._cols.size, -1, dtype=np.int64)
        renumber[live] = np.arange(live.size)
        self._cols.keep(live)
        self._ids = self._ids.keep(live)
        self._stories.renumber(renumber)
        # the pairs of live rows keep their keys: only the rows change, so nothing is hashed again
        self._id_rows = self._id_rows.renumbered(renumber)
        self._bands = self._bands.renumbered(renumber)
        self._postings = self._postings.renumbered(renumber)
        self._frequencies.rehash()
        self._front = 0


def _id_hash(article_id: str) -> int:
    return zlib.crc32(article_id.encode())

