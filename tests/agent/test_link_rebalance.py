"""The linking agent across a rebalance (``agent.test_context()``, no broker): an index kept from before the
linking partition went away would miss what another worker linked meanwhile, so it is rebuilt from the table
then (and only then), and rebuilding a large table does not hold up the event loop (heartbeats, the other
agent). An error inside the index is no reason to stop linking: the index is rebuilt from the table, which holds
every decision taken."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import datetime, timezone

import numpy as np
from faust.types import TP

from worker import app as worker_app, codec
from worker.app import WorkerMetrics, article_from_plain, link_messages
from worker.records import Envelope
from worker.stories import Entry, LinkConfig, StoryIndex, link
from worker.stories.table import encode_entry, index_from_table

from test_enrich_agent import SETTINGS, STORIES, RecordingSender, make_app, until
from test_link_agent import FIRST, LATER, enriched, link_through

ELSEWHERE = {"id": "kiln-1", "published_at": "2025-03-01T10:00:00Z",
             "text": "BRANTWICK — The pottery museum in Brantwick will rebuild its wood-fired kiln, curator Odile "
                     "Marchetti said on Saturday. Volunteers raised 40,000 euros for the bricks."}


def link_elsewhere(app, raw: dict) -> str:
    """Another worker, holding the linking partition, links ``raw``: from the tables as it recovered them (this
    worker's), with an index of its own; its table writes reach this worker's tables through the changelog (as
    recovery applies them: straight into the store). Returns the article's id."""
    story_table, decisions = app.tables["story_index"], app.tables["followup_decisions"]
    its_table, its_decisions = dict(story_table.data), dict(decisions.data)
    article = article_from_plain(codec.loads(enriched(raw)))
    link_messages(index_from_table(its_table), its_table, its_decisions, article, Envelope(value=b""), SETTINGS,
                  LinkConfig(), WorkerMetrics())
    story_table.data.update(its_table)
    decisions.data.update(its_decisions)
    return article.id


async def test_an_article_linked_by_another_worker_while_the_partition_was_away_is_found_after_it_returns():
    sender = RecordingSender()
    app = make_app(sender)
    async with app.newsworker_link_agent.test_context() as agent:
        await agent.put(enriched(ELSEWHERE), key=b"kiln-1")  # this worker builds its index here
        await until(lambda: len(sender.sent) == 2)

        await app.on_partitions_revoked.send({TP(STORIES, 0)})
        first_id = link_elsewhere(app, FIRST)

        await agent.put(enriched(LATER), key=b"quay-2")  # the partition is back here
        await until(lambda: len(sender.sent) == 4)
    later = sender.bodies("out.articles")[-1]
    assert later["followup"]["story_id"] == first_id
    assert first_id in [link_["article_id"] for link_ in later["followup"]["links"]]


async def test_the_index_is_kept_when_the_partition_comes_back_and_nobody_linked_meanwhile(caplog):
    caplog.set_level(logging.INFO, logger="worker.app")
    sender = RecordingSender()
    app = make_app(sender)
    async with app.newsworker_link_agent.test_context() as agent:
        await agent.put(enriched(FIRST), key=b"quay-1")  # this worker builds its index here
        await until(lambda: len(sender.sent) == 2)
        await app.on_partitions_revoked.send({TP(STORIES, 0)})
        await agent.put(enriched(LATER), key=b"quay-2")  # the partition is back here, nobody linked meanwhile
        await until(lambda: len(sender.sent) == 4)
        await app.on_partitions_revoked.send({TP(STORIES, 0)})
        link_elsewhere(app, ELSEWHERE)  # this time another worker linked one
        await agent.put(enriched(ELSEWHERE), key=b"kiln-1")  # ... which this one gets again, as a redelivery
        await until(lambda: len(sender.sent) == 6)
    first, later, elsewhere = sender.bodies("out.articles")
    assert later["followup"]["story_id"] == first["followup"]["story_id"]
    assert elsewhere["followup"]["relation"] == "new_story"
    rebuilds = [r.getMessage() for r in caplog.records if r.getMessage().startswith("story index rebuilt")]
    assert len(rebuilds) == 2, rebuilds  # at the start and after the other worker's decision, not in between
    assert "from 3 table entries" in rebuilds[1]


def unrelated_entries(count: int, seed: int, published: float | None = None) -> dict[str, dict]:
    """Table values of ``count`` indexed articles with random signatures (the shape of a real one), published
    when the real one was unless ``published`` is given."""
    article = article_from_plain(codec.loads(enriched(ELSEWHERE)))
    real = link(StoryIndex(), article)[0].add.signature
    rng = np.random.default_rng(seed)
    minhash, keys = real.minhash_array(), real.key_array()
    entries = {}
    for n in range(count):
        signature = dataclasses.replace(
            real, article_id=f"filler-{n}",
            minhash=rng.integers(0, 2**32, len(minhash), dtype=np.uint64).astype(minhash.dtype).tobytes(),
            keys=np.unique(rng.integers(-2**62, 2**62, len(keys))).astype(keys.dtype).tobytes(),
            published=real.published if published is None else published)
        entries[signature.article_id] = encode_entry(Entry(signature, signature.article_id))
    return entries


async def test_rebuilding_a_large_index_does_not_block_the_event_loop():
    sender = RecordingSender()
    app = make_app(sender)
    table = app.tables["story_index"]
    for key, value in unrelated_entries(60_000, seed=3).items():  # recovered from the changelog
        table.data[key] = value
    longest_pause = 0.0
    linked = asyncio.Event()

    async def tick() -> None:
        nonlocal longest_pause
        while not linked.is_set():
            before = time.monotonic()
            await asyncio.sleep(0.01)
            longest_pause = max(longest_pause, time.monotonic() - before)

    async with app.newsworker_link_agent.test_context() as agent:
        ticker = asyncio.ensure_future(tick())
        started = time.monotonic()
        await agent.put(enriched(FIRST), key=b"quay-1")  # the index is rebuilt from the 60,000 entries here
        await until(lambda: len(sender.sent) == 2, timeout=120)
        took = time.monotonic() - started
        linked.set()
        await ticker
    assert sender.bodies("out.articles")[0]["followup"]["relation"] == "new_story"
    assert took > 0.5, f"the rebuild took {took:.2f} s: too small a table to tell"
    assert longest_pause < 0.15, f"the event loop stood still for {longest_pause:.2f} s of {took:.2f} s"


async def test_values_the_tables_cannot_read_are_left_alone_counted_and_linking_goes_on():
    sender = RecordingSender()
    app = make_app(sender)
    link_elsewhere(app, ELSEWHERE)  # a readable entry and decision, as recovered from the changelog
    first_id = article_from_plain(codec.loads(enriched(FIRST))).id
    story_table, decisions = app.tables["story_index"], app.tables["followup_decisions"]
    newer_layout, damaged = b"\x02" + bytes(40), b"\x78\x01 cut short"
    story_table.data[first_id] = newer_layout
    decisions.data[first_id] = damaged
    async with app.newsworker_link_agent.test_context() as agent:
        await agent.put(enriched(LATER), key=b"quay-2")  # the index is rebuilt here, without the first article
        await agent.put(enriched(FIRST), key=b"quay-1")  # delivered again: what was decided for it is unreadable
        await until(lambda: len(sender.sent) == 3)
    later, first = sender.bodies("out.articles")
    assert later["followup"]["relation"] == "new_story"  # its earlier article could not be read back
    assert first["followup"] is None
    assert first["notices"][-1] == {"stage": "followup", "reason": "its kept decision could not be read"}
    metrics = app.newsworker.metrics.render().decode()
    assert 'newsworker_unreadable_state_total{table="stories"} 1.0' in metrics
    assert 'newsworker_unreadable_state_total{table="decisions"} 1.0' in metrics
    assert story_table.data[first_id] == newer_layout and decisions.data[first_id] == damaged  # for a newer version


async def test_dead_rows_are_dropped_off_the_event_loop_and_the_index_still_answers(caplog):
    caplog.set_level(logging.INFO, logger="worker.app")
    sender = RecordingSender()
    app = make_app(sender)
    table = app.tables["story_index"]
    months_before = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()  # out of the 14 days of FIRST and LATER
    for key, value in unrelated_entries(5_000, seed=4, published=months_before).items():
        table.data[key] = value
    async with app.newsworker_link_agent.test_context() as agent:
        # each decision evicts at most 1,000 expired articles: after the third, over half the rows are dead
        for raw, key in ((ELSEWHERE, b"kiln-1"), (FIRST, b"quay-1"), (LATER, b"quay-2"), (LATER, b"quay-2")):
            await agent.put(enriched(raw), key=key)
        await until(lambda: len(sender.sent) == 8, timeout=60)
    compacted = [r.getMessage() for r in caplog.records if r.getMessage().startswith("story index compacted")]
    assert len(compacted) == 1 and compacted[0].startswith("story index compacted to 2003 articles"), compacted
    assert len(table.data) == 2_003  # the table lost the evicted entries as the index did
    elsewhere, first, later, again = sender.bodies("out.articles")
    assert later["followup"]["story_id"] == first["followup"]["story_id"] != elsewhere["followup"]["story_id"]
    assert again == later  # read back from the compacted index (its story) and the kept decision


def rebuild_causes(app) -> dict[str, float]:
    """The agent's rebuild counter, by cause (those counted at all)."""
    registry = app.newsworker.metrics.registry
    counts = {cause: registry.get_sample_value("newsworker_story_index_rebuilds_total", {"cause": cause})
              for cause in ("start", "linked_elsewhere", "failure")}
    return {cause: value for cause, value in counts.items() if value is not None}


async def test_an_index_that_failed_while_changing_is_rebuilt_from_the_table(monkeypatch):
    real_apply = StoryIndex.apply
    calls = 0

    def apply_then_fail(index, change):  # the first article gets into the index, but not into the table
        nonlocal calls
        calls += 1
        real_apply(index, change)
        if calls == 1:
            raise RuntimeError("broken half-way")

    monkeypatch.setattr(StoryIndex, "apply", apply_then_fail)
    sender = RecordingSender()
    app = make_app(sender)
    await link_through(app, sender, [FIRST, LATER], sends=3)
    first, later = sender.bodies("out.articles")
    assert first["followup"] is None
    assert first["notices"][-1]["reason"] == "linking failed: RuntimeError: broken half-way"
    # Rebuilt from the table, the index does not hold the first article, which nothing decided was kept for:
    # the index kept would have linked the later one to it.
    assert later["followup"]["relation"] == "new_story"
    assert set(app.tables["story_index"].data) == {later["id"]}
    assert rebuild_causes(app) == {"start": 1.0, "failure": 1.0}


async def test_a_failure_before_the_index_changes_costs_the_article_its_links_but_no_rebuild(monkeypatch):
    real_link = worker_app.link

    def fail_on_the_second(index, article, config):
        if article.source_id == "quay-2":
            raise ValueError("no link for this one")
        return real_link(index, article, config)

    monkeypatch.setattr(worker_app, "link", fail_on_the_second)
    sender = RecordingSender()
    app = make_app(sender)
    await link_through(app, sender, [FIRST, LATER, ELSEWHERE], sends=5)
    first, later, elsewhere = sender.bodies("out.articles")
    assert later["followup"] is None and later["notices"][-1]["reason"].startswith("linking failed: ValueError")
    assert first["followup"]["relation"] == elsewhere["followup"]["relation"] == "new_story"
    assert rebuild_causes(app) == {"start": 1.0}


async def test_a_failed_upkeep_does_not_stop_the_agent_and_the_index_is_rebuilt(monkeypatch):
    failures = []

    def failing_upkeep(index):
        failures.append(len(index))
        raise MemoryError("no room to compact")

    monkeypatch.setattr(StoryIndex, "wants_upkeep", property(lambda index: not failures))
    monkeypatch.setattr(StoryIndex, "upkeep", failing_upkeep)
    sender = RecordingSender()
    app = make_app(sender)
    # FIRST is linked and out, and its upkeep fails after the ack; the index is rebuilt before LATER is linked
    await link_through(app, sender, [FIRST, LATER], sends=4)
    first, later = sender.bodies("out.articles")
    assert failures == [1]
    assert later["followup"]["story_id"] == first["followup"]["story_id"] == first["id"]
    assert rebuild_causes(app) == {"start": 1.0, "failure": 1.0}
