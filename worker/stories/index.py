"""The story index: plain data, changed only by applying an ``IndexChange`` that ``link`` computed.

Layout (the same in memory and in a Faust table, so an agent can mirror every change as small table writes):
- ``entries[article_id]`` → ``Entry(signature, story_id)``: the only state that must be stored. In a Faust
  table (worker/stories/table.py) the key is the article id and the value ``Entry.to_dict()``; a change writes
  one entry, deletes the evicted ones and rewrites the ``story_id`` of the members of a merged/re-rooted story.
- ``bands``, ``postings``, ``stories`` and the time order are derived from the entries, rebuilt by
  ``StoryIndex.from_entries`` after a restart or rebalance (table recovery), never stored separately.

Lookup is sublinear: an article's candidates are the members of its 8 LSH band buckets plus the postings of
its keys, skipping keys more common than ``max_posting`` (they say nothing about which story it is).
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from worker.stories.signature import Signature

DEFAULT_RETENTION_SECONDS = 14 * 24 * 3600.0


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
    """What one decision does to the index: add (or replace) an entry, re-root stories, evict old entries."""

    add: Entry | None = None
    restory: tuple[tuple[str, str], ...] = ()  # (old story id, new story id)
    evict: tuple[str, ...] = ()


@dataclass
class StoryInfo:
    first_id: str
    first_published: float
    members: list[str] = field(default_factory=list)


class StoryIndex:
    """In-memory index; read by ``link`` (never written by it) and changed by ``apply``."""

    def __init__(
        self, retention_seconds: float = DEFAULT_RETENTION_SECONDS, max_posting: int = 2_000, max_scan: int = 200
    ) -> None:
        self.retention_seconds = retention_seconds
        self.max_posting = max_posting  # keys in more articles than this say nothing about the story: skipped
        self.max_scan = max_scan  # of a key's articles only the latest this many are looked at
        self.entries: dict[str, Entry] = {}
        # bucket / key → the article ids in it; a bucket with one article holds the id itself, not a list
        # (most LSH buckets and rare keys have one member, and a list would cost 70 bytes more each)
        self.bands: dict[int, str | list[str]] = {}
        self.postings: dict[int, str | list[str]] = {}
        self.stories: dict[str, StoryInfo] = {}
        # (published, article id) in time order; news arrives roughly in publication order, so inserting is
        # almost always an append and the expired ones are a prefix
        self._by_time: list[tuple[float, str]] = []
        self.watermark: float | None = None  # latest publication time indexed

    @classmethod
    def from_entries(cls, entries: Iterable[Entry], **options: float) -> StoryIndex:
        """Rebuild the derived structures from stored entries (what a recovered Faust table holds)."""
        index = cls(**options)  # type: ignore[arg-type]
        for entry in sorted(entries, key=lambda e: e.published or 0.0):
            index._insert(entry)
        return index

    def __len__(self) -> int:
        return len(self.entries)

    # ---- reads (used by link) ------------------------------------------------------------------------

    def document_frequency(self, key: int) -> int:
        return len(_members(self.postings.get(key)))

    def candidates(self, signature: Signature, limit: int) -> list[tuple[str, int]]:
        """Up to ``limit`` indexed article ids sharing the most band buckets / keys with ``signature``."""
        hits: dict[str, int] = {}
        for bucket in signature.bands():
            for article_id in _members(self.bands.get(bucket))[-self.max_scan :]:
                hits[article_id] = hits.get(article_id, 0) + 4  # a shared band is strong evidence
        for key in signature.key_array().tolist():
            posting = _members(self.postings.get(key))
            if len(posting) > self.max_posting:
                continue
            for article_id in posting[-self.max_scan :]:
                hits[article_id] = hits.get(article_id, 0) + 1
        hits.pop(signature.article_id, None)
        if len(hits) <= limit:
            return sorted(hits.items(), key=lambda kv: -kv[1])
        return heapq.nlargest(limit, hits.items(), key=lambda kv: kv[1])

    def story(self, story_id: str) -> StoryInfo | None:
        return self.stories.get(story_id)

    def expired(self, now: float | None = None, limit: int = 1_000) -> Iterator[str]:
        """Indexed articles published before the retention window ending at ``now`` (default: the latest
        publication time indexed), at most ``limit`` of them, oldest first."""
        latest = max((t for t in (self.watermark, now) if t is not None), default=None)
        if latest is None:
            return
        horizon = latest - self.retention_seconds
        found = 0
        for published, article_id in self._by_time:
            if published >= horizon or found == limit:
                return
            entry = self.entries.get(article_id)
            if entry is not None and (entry.published or 0.0) == published:
                found += 1
                yield article_id

    # ---- the one write -----------------------------------------------------------------------------

    def apply(self, change: IndexChange) -> None:
        for article_id in change.evict:
            self._remove(article_id)
        for old, new in change.restory:
            self._restory(old, new)
        if change.add is not None:
            self._remove(change.add.signature.article_id)
            self._insert(change.add)
        self._drop_stale_time_prefix()

    def _insert(self, entry: Entry) -> None:
        signature = entry.signature
        article_id = signature.article_id
        self.entries[article_id] = entry
        for bucket in signature.bands():
            _add(self.bands, bucket, article_id)
        for key in signature.key_array().tolist():
            _add(self.postings, key, article_id)
        published = entry.published if entry.published is not None else (self.watermark or 0.0)
        story = self.stories.get(entry.story_id)
        if story is None:
            story = self.stories[entry.story_id] = StoryInfo(article_id, published)
        elif published < story.first_published:
            story.first_id, story.first_published = article_id, published
        story.members.append(article_id)
        bisect.insort(self._by_time, (entry.published or 0.0, article_id))
        if entry.published is not None and (self.watermark is None or entry.published > self.watermark):
            self.watermark = entry.published

    def _remove(self, article_id: str) -> None:
        entry = self.entries.pop(article_id, None)
        if entry is None:
            return
        signature = entry.signature
        for bucket in signature.bands():
            _discard(self.bands, bucket, article_id)
        for key in signature.key_array().tolist():
            _discard(self.postings, key, article_id)
        story = self.stories.get(entry.story_id)
        if story is not None:
            story.members.remove(article_id)
            if not story.members:
                del self.stories[entry.story_id]
        # its _by_time item goes stale; expired() skips it and _drop_stale_time_prefix trims it

    def _restory(self, old: str, new: str) -> None:
        moved = self.stories.pop(old, None)
        if moved is None:
            return
        for article_id in moved.members:
            self.entries[article_id].story_id = new
        target = self.stories.get(new)
        if target is None:
            self.stories[new] = moved
        else:
            target.members.extend(moved.members)
            if moved.first_published < target.first_published:
                target.first_id, target.first_published = moved.first_id, moved.first_published

    def _drop_stale_time_prefix(self) -> None:
        stale = 0
        for published, article_id in self._by_time:
            entry = self.entries.get(article_id)
            if entry is not None and (entry.published or 0.0) == published:
                break
            stale += 1
        if stale:
            del self._by_time[:stale]


def _members(value: str | list[str] | None) -> list[str] | tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


def _add(table: dict[int, str | list[str]], key: int, article_id: str) -> None:
    value = table.get(key)
    if value is None:
        table[key] = article_id
    elif isinstance(value, str):
        table[key] = [value, article_id]
    else:
        value.append(article_id)


def _discard(table: dict[int, str | list[str]], key: int, article_id: str) -> None:
    value = table.get(key)
    if value is None:
        return
    if isinstance(value, str):
        if value == article_id:
            del table[key]
        return
    try:
        value.remove(article_id)
    except ValueError:
        return
    if len(value) == 1:
        table[key] = value[0]
