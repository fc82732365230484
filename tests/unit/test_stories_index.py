"""The packed story index: rows, sorted runs, stories of several articles, eviction and compaction."""

from __future__ import annotations

import gc
import random
import zlib
from dataclasses import replace

import numpy as np
import pytest

from worker.bench.link import STORY_SIZE, SyntheticCorpus
from worker.stories import Entry, IndexChange, StoryIndex
from worker.stories import index as index_module
from worker.stories.signature import NUM_PERM, key_hash
from worker.stories.table import encode_entry, index_from_table, write_change


def _story_of(n: int) -> str:
    return f"story-{n // STORY_SIZE}"


def _filled(count: int, seed: int = 5) -> tuple[StoryIndex, list]:
    corpus = SyntheticCorpus(seed)
    signatures = corpus.signatures(0, count)
    index = StoryIndex()
    for n, signature in enumerate(signatures):
        index.apply(IndexChange(add=Entry(signature, _story_of(n))))
    return index, signatures


def test_rows_give_back_the_stored_entries_and_their_stories() -> None:
    index, signatures = _filled(9_000)  # past two flushes of the sorted runs
    for n in (0, 1, 4_097, 8_999):
        entry = index.entries[signatures[n].article_id]
        assert entry.signature == signatures[n]
        assert entry.story_id == _story_of(n)
    story = index.story(_story_of(4_097))
    assert story is not None and len(story.members) == STORY_SIZE
    assert signatures[4_097].article_id in story.members
    assert index.document_frequency(int(signatures[10].key_array()[0])) >= 1


def test_a_story_member_is_found_by_its_shared_keys_among_thousands() -> None:
    index, signatures = _filled(9_000)
    query = signatures[4_097]
    found = [article_id for article_id, _ in index.candidates(query, limit=10)]
    assert query.article_id not in found  # an article is never its own candidate
    siblings = {s.article_id for n, s in enumerate(signatures) if _story_of(n) == _story_of(4_097)}
    assert set(found[:3]) <= siblings


@pytest.mark.parametrize("upkeep_on_apply", [True, False])
def test_eviction_then_compaction_keeps_the_rest_intact_and_frees_the_rows(upkeep_on_apply: bool) -> None:
    index, signatures = _filled(9_000)
    index.upkeep_on_apply = upkeep_on_apply
    before = index.nbytes()
    evicted = [s.article_id for s in signatures[:6_000]]
    for start in range(0, len(evicted), 1_000):
        index.apply(IndexChange(evict=tuple(evicted[start : start + 1_000])))
    assert len(index) == 3_000
    if not upkeep_on_apply:  # left to the owner (the worker compacts in a thread)
        assert index.wants_compaction and index.wants_upkeep and index.nbytes() >= before
        index.upkeep()
    assert not index.wants_compaction and not index.wants_upkeep
    assert index.nbytes() < 0.6 * before  # compacted: dead rows and their pairs are gone, not only hidden
    assert signatures[10].article_id not in index.entries
    kept = signatures[8_001]
    assert index.entries[kept.article_id].signature == kept
    assert index.entries[kept.article_id].story_id == _story_of(8_001)
    found = {article_id for article_id, _ in index.candidates(kept, limit=10)}
    assert found and not found & set(evicted)
    assert index.story(_story_of(8_001)) is not None and index.story(_story_of(10)) is None


def test_restory_moves_a_whole_story_and_the_table_mirror_follows() -> None:
    index, signatures = _filled(20)
    table: dict[str, bytes] = {}
    for article_id in index.entries:
        table[article_id] = encode_entry(index.entries[article_id])
    change = IndexChange(restory=((_story_of(5), _story_of(0)),))
    index.apply(change)
    write_change(table, index, change)
    merged = index.story(_story_of(0))
    assert merged is not None and len(merged.members) == 2 * STORY_SIZE
    assert index.story(_story_of(5)) is None
    recovered = index_from_table(table)
    assert {k: e.story_id for k, e in recovered.entries.items()} == {k: e.story_id for k, e in index.entries.items()}


def test_stories_give_the_garbage_collector_nothing_to_walk() -> None:
    # A full collection visits every object the collector tracks; an object per story (200,000 at a million
    # articles) made each such pass stall the worker for tens of milliseconds.
    signatures = SyntheticCorpus(5).signatures(0, 5_000)  # 1,000 stories of five
    gc.collect()
    before = len(gc.get_objects())
    index = StoryIndex()
    for n, signature in enumerate(signatures):
        index.apply(IndexChange(add=Entry(signature, _story_of(n))))
    merged, into = _story_of(7 * STORY_SIZE), _story_of(3 * STORY_SIZE)
    index.apply(IndexChange(restory=((merged, into),), evict=(signatures[0].article_id,)))
    gc.collect()
    tracked = len(gc.get_objects()) - before
    assert tracked < 100  # an object per story: over 2,000
    assert index.story_size(into) == 2 * STORY_SIZE and index.story_size(_story_of(0)) == STORY_SIZE - 1
    assert index.story(merged) is None

def test_packed_bytes_per_indexed_article_stay_under_a_kilobyte() -> None:
    # the bytes the next 10,000 articles add (the fixed part, e.g. the vocabulary's key counts, left out)
    corpus = SyntheticCorpus(5)
    index = StoryIndex()
    for n, signature in enumerate(corpus.signatures(0, 10_000)):
        index.apply(IndexChange(add=Entry(signature, _story_of(n))))
    before = index.nbytes()
    for n, signature in enumerate(corpus.signatures(10_000, 10_000), start=10_000):
        index.apply(IndexChange(add=Entry(signature, _story_of(n))))
    assert (index.nbytes() - before) / 10_000 < 1_000
    rows = index.live_rows()
    assert rows.size == len(index) and np.all(np.diff(rows) > 0)


@pytest.mark.parametrize("step", [None, 1_024])
def test_recovery_in_bulk_builds_the_same_index_as_applying_one_entry_at_a_time(
    step: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    incremental, signatures = _filled(9_000)
    stored = [Entry.from_dict(incremental.entries[s.article_id].to_dict()) for s in signatures]
    if step is not None:
        # a rebuild of many steps (the last one short), from a table in another order than publication
        monkeypatch.setattr(index_module, "_LOAD_CHUNK", step)
        random.Random(4).shuffle(stored)
    recovered = StoryIndex.from_entries(stored)
    assert len(stored) == 9_000  # the caller's list is left as it was (the rebuild frees only its own copies)
    assert len(recovered) == len(incremental)
    for n in (0, 4_097, 8_999):
        assert recovered.entries[signatures[n].article_id] == incremental.entries[signatures[n].article_id]
        assert recovered.candidates(signatures[n], 20) == incremental.candidates(signatures[n], 20)
        assert recovered.story(_story_of(n)) == incremental.story(_story_of(n))
    keys = np.unique(np.concatenate([s.key_array() for s in signatures[:500]]))
    assert np.array_equal(recovered.document_frequencies(keys), incremental.document_frequencies(keys))
    # and it keeps working as an index: a new entry joins its story
    extra = SyntheticCorpus(5).signatures(9_000, 1)[0]
    recovered.apply(IndexChange(add=Entry(extra, _story_of(9_000))))
    assert extra.article_id in recovered.story(_story_of(9_000)).members  # type: ignore[union-attr]


def test_upkeep_left_to_the_owner_gives_the_same_lookups_while_it_waits_and_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # merges of over 20,000 pairs deferred (1M in the worker), so 9,000 articles of 32 keys defer many of them
    monkeypatch.setattr(index_module, "_DEFER_MERGES_ABOVE", 20_000)
    signatures = SyntheticCorpus(5).signatures(0, 9_000)
    inline, owner = StoryIndex(), StoryIndex(upkeep_on_apply=False)
    probes = signatures[::450]
    waited = 0
    for n, signature in enumerate(signatures):
        for index in (inline, owner):
            index.apply(IndexChange(add=Entry(signature, _story_of(n))))
        waited += owner.wants_upkeep
        if n % 1_500 == 1_499:  # the owner gets round to it now and then; a deferred merge may be waiting here
            for probe in probes[: n // 450]:
                assert owner.candidates(probe, 50) == inline.candidates(probe, 50)
                keys = probe.key_array()
                for mine, theirs in zip(owner._postings.rows(keys, 200), inline._postings.rows(keys, 200)):
                    assert np.array_equal(np.sort(mine), np.sort(theirs))  # the same latest rows of the key
                assert np.array_equal(owner.document_frequencies(keys), inline.document_frequencies(keys))
            owner.upkeep()
            assert not owner.wants_upkeep
    assert waited > 1_000  # merges did wait for upkeep, over many decisions
    owner.upkeep()
    for probe in probes:
        assert owner.candidates(probe, 50) == inline.candidates(probe, 50)


def test_key_counts_survive_rehashing_and_drop_the_keys_counted_zero() -> None:
    counts = index_module._KeyCounts()
    keys = (np.arange(1, 3_001, dtype=np.uint64) * 2_654_435_761 % (1 << 32)).astype(np.uint32)
    counts.add(keys.tolist(), 2)  # past half full twice: rehashed on the way
    counts.add(keys[:1_000].tolist(), -2)  # these fall to 0 and go at the next rehash
    used = counts._used
    counts.rehash()
    assert counts._used == used - 1_000 and not counts.wants_rehash
    assert np.array_equal(counts.get(keys), np.r_[np.zeros(1_000), np.full(2_000, 2)])


def test_the_id_arena_keeps_the_chosen_ids_in_order() -> None:
    rng = random.Random(3)
    for _ in range(200):  # ids of 0 to 6 characters, some not ASCII; any subset of rows, none included
        ids = ["".join(rng.choice("abcé") for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(1, 30))]
        arena = index_module._IdArena()
        for article_id in ids:
            arena.append(article_id)
        rows = np.array(sorted(rng.sample(range(len(ids)), rng.randint(0, len(ids)))), dtype=np.int64)
        kept = arena.keep(rows)
        assert len(kept) == rows.size
        assert [kept[i] for i in range(rows.size)] == [ids[row] for row in rows]


def _keyed(article_id: str, names: list[str], terms: list[str]) -> Entry:
    keys = [key_hash("e", name) for name in names] + [key_hash("t", term) for term in terms]
    # a MinHash of its own (no shared LSH band): found only through the postings
    minhash = np.random.default_rng(zlib.crc32(article_id.encode())).integers(0, 2**16, NUM_PERM, dtype=np.uint16)
    keys = np.unique(np.asarray(keys, dtype="<u4"))
    signature = replace(SyntheticCorpus(3).signatures(0, 1)[0], article_id=article_id,
                        minhash=minhash.astype("<u2").tobytes(), keys=keys.tobytes())
    return Entry(signature, article_id)


@pytest.mark.parametrize("bulk", [False, True])
def test_topic_words_are_posted_only_for_an_article_that_names_few_things(bulk: bool) -> None:
    names = ["assad", "aleppo", "geneva", "kerry", "lavrov"]
    named = _keyed("named", names, ["ceasefire", "talks"])
    nameless = _keyed("nameless", ["kerry"], ["ceasefire", "hospital"])
    entries = [named, nameless]
    index = StoryIndex.from_entries(entries) if bulk else StoryIndex()
    if not bulk:
        for entry in entries:
            index.apply(IndexChange(add=entry))

    def found_by(*keys: tuple[str, str]) -> set[str]:
        query = _keyed("query", [v for k, v in keys if k == "e"], [v for k, v in keys if k == "t"])
        return {article_id for article_id, _ in index.candidates(query.signature, limit=10)}

    assert found_by(("t", "ceasefire")) == {"nameless"}  # the named article is not found by a topic word
    assert found_by(("t", "hospital")) == {"nameless"}
    assert found_by(("e", "lavrov")) == {"named"}
    assert found_by(("e", "kerry")) == {"named", "nameless"}
    # both still count every key they carry: document frequencies weigh the scores
    assert index.document_frequency(key_hash("t", "ceasefire")) == 2
