"""Mirror of the story index in a key-value table (a Faust ``Table``, or any ``MutableMapping``).

The linking agent owns the table; nothing else writes it. Layout: key = article id, value = ``encode_entry``'s
bytes (signature + story id). The table keeps every value in the worker's memory beside the index, so the value
is packed binary: 499 B on average over the ECB+ dev articles, against 953 B as the JSON of
``Entry.to_dict()`` (hex arrays) that earlier versions wrote, and several KB as Python dicts and lists. JSON
values still read, so a changelog written before keeps recovering. Each decision costs one write for the new
article, one delete per evicted article and one rewrite per member of a re-rooted story or of a part split off
a story; the LSH buckets and the inverted index are not stored — ``index_from_table`` rebuilds them from the
entries after the table is recovered from its changelog. The sizes are printed by ``newsworker eval stories``.
The decisions table's values (one kept decision per indexed article, ``keep_decision``) are laid out here too.

How the agent uses it (one instance, on a single-partition topic, so it sees every article in order)::

    index = index_from_table(story_table)                      # on start / after rebalance (table recovered)
    async for article in stream:                               # articles after the pure stages
        change, followup = link(index, article, config)        # pure
        index.apply(change)
        write_change(story_table, index, change)               # changelogged
        await articles_topic.send(key=article.id, value=replace(article, followup=followup))
        await followups_topic.send(key=followup.story_id, value=followup_event(article, followup))
"""

from __future__ import annotations

import gc
import struct
import zlib
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager

from worker import codec
from worker.stories.index import Entry, IndexChange, StoryIndex
from worker.stories.signature import NUM_PERM, Signature, year_bits

# version, has a publication time, publication time, fact limit, words, year, event day, years named (a 64-bit
# set); then 7 byte strings (article id, story id, MinHash, keys, quotes, facts, leads), each after its uint32
# length. Little-endian. Version 1, written before the years named were kept, has no set. Version 3 was written by
# the experimental sentence-vector setting (removed: its gain on ECB+ was the address line's): an 8th byte string
# after the 7, which is read past and dropped, so a table written with the setting on still recovers.
_HEADS = {1: struct.Struct("<BBdIIHI"), 2: struct.Struct("<BBdIIHIQ"), 3: struct.Struct("<BBdIIHIQ")}
_LENGTH = struct.Struct("<I")
_VERSION = 2


def encode_entry(entry: Entry) -> bytes:
    """The table value of an index entry.

    >>> from worker.records import Article
    >>> from worker.stories.signature import signature_of
    >>> entry = Entry(signature_of(Article(id="a", source_id="a", text="Ferry runs again.")), "a")
    >>> decode_entry(encode_entry(entry)) == entry
    True
    """
    s = entry.signature
    head = _HEADS[_VERSION].pack(_VERSION, s.published is not None, s.published or 0.0, s.fact_limit, s.words,
                                 s.year, s.event_day, s.years)
    fields = (s.article_id.encode(), entry.story_id.encode(), s.minhash, s.keys, s.quotes, s.facts, s.leads)
    return head + b"".join(_LENGTH.pack(len(field)) + field for field in fields)


def decode_entry(value: bytes) -> Entry:
    """An index entry from its table value (``encode_entry``'s bytes, or the JSON that earlier versions wrote)."""
    if value[:1] == b"{":
        return Entry.from_dict(codec.loads(value))
    head = _head(value)
    _, timed, published, fact_limit, words, year, event_day, *rest = head.unpack_from(value)
    years = rest[0] if rest else year_bits({year})  # version 1: the latest year is the one known
    fields, at = [], head.size
    for _ in range(8 if value[0] == 3 else 7):
        (size,) = _LENGTH.unpack_from(value, at)
        fields.append(value[at + _LENGTH.size : at + _LENGTH.size + size])
        at += _LENGTH.size + size
    article_id, story_id, minhash, keys, quotes, facts, leads = fields[:7]
    # a slice past the end comes back short rather than failing: check that every field was there in full
    if at != len(value) or len(minhash) != 2 * NUM_PERM or len(facts) % 2 or any(
            len(f) % 4 for f in (keys, quotes, leads)):
        raise ValueError("story table value is cut short or damaged")
    signature = Signature(article_id.decode(), published if timed else None, minhash, keys, quotes, facts,
                          fact_limit, words, leads, year, event_day, years)
    return Entry(signature, story_id.decode())


def _head(value: bytes) -> struct.Struct:
    """The head layout of a binary table value, by its version byte."""
    head = _HEADS.get(value[0]) if value else None
    if head is None:
        raise ValueError(f"story table value of unknown layout version {value[0] if value else 'none'}")
    return head


def write_change(table: MutableMapping[str, bytes], index: StoryIndex, change: IndexChange) -> None:
    """Write what ``change`` did to ``index`` (already applied) into ``table``."""
    for article_id in change.evict:
        table.pop(article_id, None)
    for _, new in change.restory:
        story = index.story(new)
        for member in story.members if story is not None else ():
            _store_story_id(table, index, member, new)
    for member, story_id in change.move:
        _store_story_id(table, index, member, story_id)
    if change.add is not None:
        table[change.add.signature.article_id] = encode_entry(change.add)


def _store_story_id(table: MutableMapping[str, bytes], index: StoryIndex, member: str, story_id: str) -> None:
    """``member`` moved to ``story_id``: only the stored story id changes, so the stored value is patched rather
    than the entry rebuilt from the index (a story of 100,000 members moves in ~0.5 s)."""
    stored = table.get(member)
    if stored is None:
        if member in index.entries:
            table[member] = encode_entry(index.entries[member])
    elif (patched := _with_story(stored, story_id)) is not None:
        table[member] = patched


def _with_story(value: bytes, story_id: str) -> bytes | None:
    """``value`` with its story id replaced, None when it already has that one (the bytes are spliced)."""
    if value[:1] == b"{":  # written by an earlier version: rewritten in the binary layout
        entry = decode_entry(value)
        return None if entry.story_id == story_id else encode_entry(Entry(entry.signature, story_id))
    head = _head(value)
    (id_size,) = _LENGTH.unpack_from(value, head.size)
    at = head.size + _LENGTH.size + id_size  # where the story id's length is
    (size,) = _LENGTH.unpack_from(value, at)
    end = at + _LENGTH.size + size
    new = story_id.encode()
    if value[at + _LENGTH.size : end] == new:
        return None
    return value[:at] + _LENGTH.pack(len(new)) + new + value[end:]


def index_from_table(table: Mapping[str, bytes], unreadable: list[str] | None = None, **options: float) -> StoryIndex:
    """The in-memory index recovered from the table's entries.

    A value that does not decode (a layout written by a newer version during a rolling downgrade, a damaged
    record) is left out of the index and its key added to ``unreadable``: one bad value must not keep every
    worker that takes the linking partition over from starting. The value stays in the table for a version that
    can read it.

    The worker runs this in a thread, but the cyclic garbage collector ran over the objects being decoded, and
    over everything else the worker holds, several times per rebuild and under the GIL: at 60,000 entries the
    event loop stood still longer than the rebuild agent test allows (0.15 s). Entries hold no cycles (reference
    counting frees them), so automatic collection is paused while they are built. ``newsworker bench link``
    measures the rebuild and the stall both ways.
    """
    with _collection_paused():
        return StoryIndex.from_entries(_readable_entries(table, unreadable), **options)


def _readable_entries(table: Mapping[str, bytes], unreadable: list[str] | None) -> Iterator[Entry]:
    for key, value in table.items():
        try:
            yield decode_entry(value)
        except Exception:  # any failure to decode: struct, UTF-8, JSON, an unknown version or missing field
            if unreadable is not None:
                unreadable.append(key)


@contextmanager
def _collection_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def keep_decision(decision: dict) -> bytes:
    """A decision ({followup, event}) as the decisions table keeps it: its JSON, zlib-compressed.

    One is kept per indexed article, in memory (Faust's memory store) and in the changelog. With its new facts
    written out twice (in the followup and in the event) a decision averages 2.4 KB of JSON over the ECB+ dev
    articles and 1.0 KB compressed, for tens of microseconds each (``newsworker eval stories`` prints the sizes
    and the time; linking takes milliseconds).
    """
    return zlib.compress(codec.dumps(decision), 1)


def read_decision(value: bytes) -> dict:
    """A kept decision, from ``keep_decision``'s bytes or the plain JSON that earlier versions kept."""
    return codec.loads(value if value[:1] == b"{" else zlib.decompress(value))
