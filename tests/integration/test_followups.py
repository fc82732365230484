"""Follow-up linking in the running worker, against the real embedded broker (issue 4, integration targets).

Each test starts real ``newsworker worker`` children on topics of its own and talks to them only through Kafka:
raw articles in, enriched articles (with ``followup``) and link events out.

- restart: the story index is recovered from its whole changelog after a SIGKILL, so a follow-up produced for
  the fresh worker still links to the story the killed one indexed (after 50 unrelated articles);
- two workers in one group on a 4-partition input: articles of one story enriched by different workers come
  out linked (the single-partition linking topic gives one linker the whole index);
- bad input for linking (no publication time, another language, no text, 100,000 distinct words, a follow-up
  with 10,000 new sentences) comes out, and an ordinary article behind the pathological ones is not held up;
- out of order: the earlier-published article, arriving second, becomes the story's first article, and the
  other article's decision is re-published with the new story id;
- churn: a second worker joins and leaves while 360 articles flow, and every one of them comes out linked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from worker import codec
from worker.kafka.broker import free_port
from worker.kafka.clients import RawMessage, follow, publish
from worker.kafka.process import WorkerProcess
from worker.kafka.topics import create_topics
from worker.settings import Settings
from worker.stories import Entry
from worker.stories.table import decode_entry

from schema_check import schema_errors

pytestmark = [pytest.mark.integration, pytest.mark.slow]
logger = logging.getLogger(__name__)

OUTPUT_TIMEOUT_S = 60.0


# --------------------------------------------------------------------------------------------- sample stories
# Written for these tests: each story has a first report and a later one that names the same people and places
# and adds developments.

FERRY_FIRST = (
    "KESTREL BAY — The passenger ferry Marisol Dawn lost engine power off Kestrel Bay on Sunday evening and "
    "drifted for three hours before a coastguard tug reached it. The operator Tidewater Crossings said all 212 "
    "passengers were safe. Coastguard commander Imogen Vasquez said the crew had dropped anchor near the "
    "Farrow Rocks lighthouse."
)
FERRY_FOLLOW_UP = (
    "KESTREL BAY — Investigators boarded the ferry Marisol Dawn in Kestrel Bay on Monday, a day after it lost "
    "engine power and drifted towards the Farrow Rocks lighthouse. Coastguard commander Imogen Vasquez said a "
    "fuel filter had clogged. Tidewater Crossings suspended the evening sailing until Thursday. The maritime "
    "safety board will publish its findings within six weeks. Two passengers were treated for seasickness."
)

FERRY_LATEST = (
    "KESTREL BAY — The ferry Marisol Dawn returned to service from Kestrel Bay on Thursday, four days after it "
    "lost engine power and drifted towards the Farrow Rocks lighthouse. Tidewater Crossings said the clogged fuel "
    "filter had been replaced and a second engineer would sail on every crossing. Imogen Vasquez of the "
    "coastguard said the crew had done everything right."
)

MINE_FIRST = (
    "ORVANO — Forty miners were brought to the surface at the Cerro Talgar copper mine near Orvano on Tuesday "
    "after a tunnel wall collapsed. The owner Andesite Minerals said no one was hurt. Union leader Paulo Ferreyra "
    "said ventilation in the lower shaft had failed twice this month."
)
MINE_FOLLOW_UP = (
    "ORVANO — Regional inspectors closed the Cerro Talgar copper mine near Orvano on Wednesday, a day after "
    "forty miners were evacuated when a tunnel wall collapsed. Union leader Paulo Ferreyra said Andesite Minerals "
    "had ignored two earlier ventilation failures. The company promised an independent audit. Production will "
    "stop for at least a fortnight, costing an estimated 9 million dollars."
)

MINE_LATEST = (
    "ORVANO — Andesite Minerals reopened the upper levels of the Cerro Talgar copper mine near Orvano on Friday, "
    "three days after the tunnel collapse. Paulo Ferreyra said the union would keep its members out of the lower "
    "shaft until new fans are installed. The audit firm Quillan & Brest began its work on Thursday."
)

ORCHARD_FIRST = (
    "LINDHOLM — Late frost destroyed most of the apple blossom in the Lindholm valley on Thursday night, "
    "growers said. The Lindholm Fruit Cooperative chairman Henrik Aalstad said the harvest could fall by half. "
    "Temperatures dropped to minus four degrees in the orchards above the Skarvik river."
)
ORCHARD_FOLLOW_UP = (
    "LINDHOLM — The agriculture ministry promised emergency aid to growers in the Lindholm valley on Friday, "
    "after Thursday's frost destroyed most of the apple blossom. Henrik Aalstad of the Lindholm Fruit Cooperative "
    "said orchards along the Skarvik river were hit hardest. Cider makers in the region expect to import fruit. "
    "Insurers estimated the damage at 30 million crowns."
)


def raw(article_id: str, text: str, published_at: str | None, **fields: Any) -> RawMessage:
    """A JSON raw article keyed by its id (the key decides its input partition)."""
    body: dict[str, Any] = {"id": article_id, "text": text, **fields}
    if published_at is not None:
        body["published_at"] = published_at
    return RawMessage(json.dumps(body).encode(), key=article_id.encode())


def unrelated_articles(count: int, seed: int) -> list[RawMessage]:
    """Articles about nothing in common: every name, place and topic word is made up for each one."""
    rng = random.Random(seed)

    def word(capital: bool = False) -> str:
        letters = "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(3, 4)))
        return letters.capitalize() if capital else letters

    messages = []
    for n in range(count):
        person, place, body = f"{word(True)} {word(True)}", word(True), word(True)
        things = [word() for _ in range(12)]
        text = (f"{place.upper()} — The {body} board in {place} voted on the {things[0]} {things[1]} plan on "
                f"Monday. {person} said the {things[2]} {things[3]} would reach {things[4]} by spring. "
                f"Residents of {word(True)} asked for {things[5]} {things[6]} and {things[7]} {things[8]}. "
                f"The {things[9]} {things[10]} {things[11]} remains open.")
        messages.append(raw(f"filler-{seed}-{n}", text, f"2025-05-{1 + n % 9:02d}T08:00:00Z"))
    return messages


# --------------------------------------------------------------------------------------------- workers and outputs


def worker_settings(settings_for: Callable[..., Settings], prefix: str, data_dir: Path, **overrides: Any) -> Settings:
    return settings_for(prefix, web_enabled=True, web_host="127.0.0.1", data_dir=str(data_dir), **overrides)


def start_worker(settings: Settings, log: Path) -> WorkerProcess:
    """A ``newsworker worker`` child with its own web port (several may share ``settings``)."""
    return WorkerProcess(settings.model_copy(update={"web_port": free_port()}), log).start()


def ready_state(worker: WorkerProcess) -> dict[str, Any]:
    return json.loads(worker.get("/ready")[1])


@dataclass
class Outputs:
    """What the workers published for this test: articles by source id, link events in order of arrival, dead
    letters by the (partition, offset) of their input."""

    articles: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    arrived: dict[str, float] = field(default_factory=dict)  # source id -> monotonic time its article was read

    def article(self, source_id: str) -> dict[str, Any]:
        return self.articles[source_id]

    def followup(self, source_id: str) -> dict[str, Any]:
        return self.articles[source_id]["followup"]

    def events_of(self, article_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["article_id"] == article_id]


class OutputReader:
    """Follows the articles and follow-ups topics in the background; ``wait_for`` blocks until enough is out."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.outputs = Outputs()
        self.invalid: list[str] = []  # schema errors of the outputs read (each checked against its schema file)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> OutputReader:
        self._task = asyncio.ensure_future(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    async def _read(self) -> None:
        topics = [self.settings.topic_articles, self.settings.topic_followups, self.settings.topic_deadletter]
        schemas = dict(zip(topics, ("article", "followup", "deadletter")))
        async for record in follow(self.settings, topics):
            body = codec.loads(record.value)
            self.invalid += schema_errors(schemas[record.topic], body)
            if record.topic == self.settings.topic_articles:
                self.outputs.articles[body["source_id"]] = body
                self.outputs.arrived.setdefault(body["source_id"], time.monotonic())
            elif record.topic == self.settings.topic_followups:
                self.outputs.events.append(body)
            else:
                self.outputs.dead_letters[(body["source"]["partition"], body["source"]["offset"])] = body

    async def wait_until(self, done: Callable[[Outputs], bool], what: str, workers: list[WorkerProcess],
                         timeout: float = OUTPUT_TIMEOUT_S) -> Outputs:
        deadline = time.monotonic() + timeout
        while not done(self.outputs):
            for worker in workers:
                assert worker.process.poll() is None, f"a worker exited:\n{worker.log_tail()}"
            assert self._task is not None and not self._task.done(), "the output reader stopped"
            assert not self.invalid, self.invalid
            if time.monotonic() > deadline:
                raise AssertionError(f"not {what} within {timeout:.0f} s:\n"
                                     + "\n".join(w.log_tail(20) for w in workers))
            await asyncio.sleep(0.05)
        assert not self.invalid, self.invalid
        return self.outputs

    async def wait_for(self, source_ids: list[str], workers: list[WorkerProcess],
                       timeout: float = OUTPUT_TIMEOUT_S) -> Outputs:
        """Until the article of every one of ``source_ids`` is out."""
        return await self.wait_until(lambda out: all(s in out.articles for s in source_ids),
                                     f"all of {source_ids[:3]}... out", workers, timeout)


def source_of(message: RawMessage) -> str:
    return json.loads(message.value)["id"]


def input_partition(key: bytes, partitions: int) -> int:
    """Where the producer puts a keyed record: murmur2 like the Java client (aiokafka's and Faust's default)."""
    return DefaultPartitioner()(key, list(range(partitions)), list(range(partitions)))


def key_on(partitions: set[int], stem: str, count: int) -> str:
    """The first id ``stem-N`` whose key lands on one of ``partitions``."""
    return next(f"{stem}-{n}" for n in range(1000) if input_partition(f"{stem}-{n}".encode(), count) in partitions)


async def story_changelog(settings: Settings) -> dict[str, Entry]:
    """The story index as its table's changelog topic holds it now (read from the start; each key's last value)."""
    entries: dict[str, Entry] = {}
    async for record in follow(settings, [f"{settings.app_id}-story_index-changelog"], idle_timeout=1.5):
        key = codec.loads(record.key)
        if record.value is None:
            entries.pop(key, None)
        else:
            entries[key] = decode_entry(record.value)
    return entries


# --------------------------------------------------------------------------------------------- tests


async def test_after_sigkill_a_fresh_worker_links_a_follow_up_to_a_story_indexed_before(settings_for,
                                                                                        topic_prefix, tmp_path):
    settings = worker_settings(settings_for, topic_prefix, tmp_path / "data")
    await create_topics(settings)
    fillers = unrelated_articles(50, seed=1)
    # The story's two articles come last and out of order: the earlier-published one, arriving second, re-roots
    # the story, so the changelog ends with two writes in a row (the other article's entry with the new story
    # id, then its own). A recovery that stopped early (the embedded broker's end-offset bug with multi-record
    # producer batches) would lose the story's first article.
    later = raw("ferry-2", FERRY_FOLLOW_UP, "2025-05-12T10:00:00Z")
    earlier = raw("ferry-1", FERRY_FIRST, "2025-05-11T19:30:00Z")
    indexed = [*fillers, later, earlier]

    async with OutputReader(settings) as reader:
        killed = start_worker(settings, tmp_path / "killed.log")
        try:
            await asyncio.to_thread(killed.wait_ready)
            await publish(settings, settings.topic_raw, [*fillers, later])
            await reader.wait_for([source_of(m) for m in [*fillers, later]], [killed])
            await publish(settings, settings.topic_raw, [earlier])
            before = await reader.wait_for(["ferry-1"], [killed])
            first_id = before.article("ferry-1")["id"]
            # Everything indexed is in the changelog before the crash (table writes are sent asynchronously).
            deadline = time.monotonic() + 30
            while True:
                entries = await story_changelog(settings)
                ferry_2 = entries.get(before.article("ferry-2")["id"])
                if ferry_2 is not None and ferry_2.story_id == first_id and len(entries) >= len(indexed):
                    break
                assert time.monotonic() < deadline, f"the changelog never held the index: {len(entries)} entries"
        finally:
            killed.process.send_signal(signal.SIGKILL)
            killed.process.wait()
        assert all(before.followup(source_of(m))["relation"] == "new_story" for m in fillers), "fillers linked"
        first_article = before.article("ferry-1")
        assert first_article["followup"]["story_id"] == first_id

        fresh = start_worker(settings, tmp_path / "fresh.log")
        try:
            await asyncio.to_thread(fresh.wait_ready)
            # The first article sent again (a crawler's resend): its decision is recovered too, so it comes out
            # as before instead of linked to itself.
            await publish(settings, settings.topic_raw, [earlier])
            await reader.wait_until(lambda out: out.article("ferry-1") is not first_article, "the resend out",
                                    [fresh])
            await publish(settings, settings.topic_raw, [raw("ferry-3", FERRY_LATEST, "2025-05-15T07:00:00Z")])
            after = await reader.wait_for(["ferry-3"], [fresh])
        finally:
            fresh.stop()

    assert after.article("ferry-1") == first_article
    followup = after.followup("ferry-3")
    assert followup["story_id"] == first_id
    assert first_id in [link["article_id"] for link in followup["links"]]
    (event,) = after.events_of(after.article("ferry-3")["id"])
    assert event["story_id"] == first_id
    # The whole changelog came back, not only its head.
    assert f"story index rebuilt from {len(indexed)} table entries" in fresh.log.read_text()


async def test_two_workers_in_one_group_link_articles_whichever_worker_enriched_them(settings_for, topic_prefix,
                                                                                    tmp_path):
    settings = worker_settings(settings_for, topic_prefix, tmp_path / "data", partitions_raw=4)
    await create_topics(settings)
    workers = [start_worker(settings, tmp_path / "one.log"), start_worker(settings, tmp_path / "two.log")]
    try:
        await asyncio.gather(*(asyncio.to_thread(w.wait_ready) for w in workers))
        # Both in the group and the four input partitions split between them (the first may have taken all
        # four before the second joined).
        deadline = time.monotonic() + 60
        while True:
            states = [ready_state(w) for w in workers]
            owned = [set(state["partitions"]) for state in states]
            if all(state["ready"] for state in states) and all(owned) and owned[0] | owned[1] == {0, 1, 2, 3}:
                break
            assert time.monotonic() < deadline, f"the input partitions were never split: {states}"
            await asyncio.sleep(0.25)

        # Each story's first report is enriched by one worker and its follow-up by the other.
        stories = [("ferry", FERRY_FIRST, FERRY_FOLLOW_UP, 0), ("mine", MINE_FIRST, MINE_FOLLOW_UP, 1),
                   ("orchard", ORCHARD_FIRST, ORCHARD_FOLLOW_UP, 0)]
        firsts, follow_ups = [], []
        for stem, first_text, follow_up_text, first_worker in stories:
            first_id = key_on(owned[first_worker], f"{stem}-first", 4)
            follow_up_id = key_on(owned[1 - first_worker], f"{stem}-next", 4)
            firsts.append(raw(first_id, first_text, "2025-05-11T08:00:00Z"))
            follow_ups.append(raw(follow_up_id, follow_up_text, "2025-05-12T08:00:00Z"))

        async with OutputReader(settings) as reader:
            where = await publish(settings, settings.topic_raw, firsts)
            await reader.wait_for([source_of(m) for m in firsts], workers)
            where += await publish(settings, settings.topic_raw, follow_ups)
            outputs = await reader.wait_for([source_of(m) for m in follow_ups], workers)
        consumed = [w.consumed(settings.topic_raw) for w in workers]
        after = [set(ready_state(w)["partitions"]) for w in workers]
    finally:
        await asyncio.gather(*(asyncio.to_thread(w.stop) for w in workers))

    assert after == owned, f"the partitions moved during the test ({owned} -> {after}): who enriched what is unknown"
    assert all(consumed), f"raw records consumed per worker: {consumed}"
    for message, landed in zip([*firsts, *follow_ups], where):
        assert landed.partition == input_partition(message.key, 4)
    for first, follow_up in zip(firsts, follow_ups):
        first_id = outputs.article(source_of(first))["id"]
        assert outputs.followup(source_of(first))["relation"] == "new_story"
        linked = outputs.followup(source_of(follow_up))
        assert linked["story_id"] == first_id, f"{source_of(follow_up)} not linked to {source_of(first)}"
        assert first_id in [link["article_id"] for link in linked["links"]]


async def test_bad_input_for_linking_comes_out_and_does_not_hold_up_the_next_article(settings_for, topic_prefix,
                                                                                    tmp_path):
    settings = worker_settings(settings_for, topic_prefix, tmp_path / "data")
    await create_topics(settings)
    first = raw("orchard-1", ORCHARD_FIRST, "2025-05-15T22:00:00Z")
    undated = raw("orchard-undated", ORCHARD_FOLLOW_UP, None)
    german = raw("orchard-de", "LINDHOLM — Der späte Frost hat im Tal von Lindholm den größten Teil der Apfelblüte "
                 "zerstört. Henrik Aalstad von der Obstgenossenschaft sagte, die Ernte könne sich halbieren.",
                 "2025-05-16T09:00:00Z", language="de")
    no_text = RawMessage(json.dumps({"id": "orchard-empty", "html": "<html><body><nav><a href='/'>Home</a></nav>"
                                     "<script>var a = 1;</script></body></html>"}).encode(), key=b"orchard-empty")
    # 100,000 distinct four-letter words: 100,000 distinct shingles, half a megabyte of text in one sentence.
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = [letters[n // 17576 % 26] + letters[n // 676 % 26] + letters[n // 26 % 26] + letters[n % 26]
             for n in range(200_000)]
    pathological = raw("pathological", " ".join(words[:100_000]) + ".", "2025-05-16T10:00:00Z")
    # 100,000 other words as 10,000 sentences after a lead that links: a follow-up with 10,000 new facts.
    sentences = " ".join(" ".join(words[n:n + 10]).capitalize() + "." for n in range(100_000, 200_000, 10))
    long_follow_up = raw("orchard-long", f"{ORCHARD_FOLLOW_UP} {sentences}", "2025-05-16T10:30:00Z")
    normal = raw("ferry-1", FERRY_FIRST, "2025-05-16T11:00:00Z")

    async with OutputReader(settings) as reader:
        worker = start_worker(settings, tmp_path / "worker.log")
        try:
            await asyncio.to_thread(worker.wait_ready)
            await publish(settings, settings.topic_raw, [first])
            await reader.wait_for(["orchard-1"], [worker])
            where = await publish(settings, settings.topic_raw,
                                  [undated, german, no_text, pathological, long_follow_up])
            await publish(settings, settings.topic_raw, [normal])
            sent_normal = time.monotonic()
            outputs = await reader.wait_for(["orchard-undated", "orchard-de", "pathological", "orchard-long",
                                             "ferry-1"], [worker])
            empty_at = (where[2].partition, where[2].offset)
            await reader.wait_until(lambda out: empty_at in out.dead_letters, "the empty page dead-lettered",
                                    [worker])
        finally:
            worker.stop()

    first_id = outputs.article("orchard-1")["id"]
    undated_followup = outputs.followup("orchard-undated")
    assert undated_followup["unlinkable"] == "no_published_at"  # linked by content, and says why it is partial
    assert undated_followup["story_id"] == first_id
    assert outputs.article("orchard-de")["language"] == "de"
    assert outputs.followup("orchard-de")["relation"] in ("new_story", "same_story", "follow_up", "duplicate")
    assert outputs.followup("pathological")["relation"] == "new_story"
    long_followup = outputs.followup("orchard-long")
    assert long_followup["story_id"] == first_id and long_followup["relation"] == "follow_up"
    assert 0 < len(long_followup["new_facts"]) <= 32  # listed, not all 10,000: the decision stays small
    assert outputs.dead_letters[empty_at]["error"]["code"] == "empty_body"
    took = outputs.arrived["ferry-1"] - sent_normal
    logger.info("the article after the pathological ones came out %.2f s after it was sent", took)
    assert took < 10, f"the article after the pathological ones took {took:.1f} s"


async def test_an_earlier_article_arriving_later_becomes_the_first_and_the_other_decision_is_republished(
        settings_for, topic_prefix, tmp_path):
    settings = worker_settings(settings_for, topic_prefix, tmp_path / "data")
    await create_topics(settings)
    later = raw("mine-later", MINE_FOLLOW_UP, "2025-05-14T09:00:00Z")
    earlier = raw("mine-earlier", MINE_FIRST, "2025-05-13T18:00:00Z")
    latest = raw("mine-latest", MINE_LATEST, "2025-05-16T09:00:00Z")

    async with OutputReader(settings) as reader:
        worker = start_worker(settings, tmp_path / "worker.log")
        try:
            await asyncio.to_thread(worker.wait_ready)
            for message in (later, earlier, latest):  # one at a time: the order of arrival is the point
                await publish(settings, settings.topic_raw, [message])
                await reader.wait_for([source_of(message)], [worker])
            later_id = reader.outputs.article("mine-later")["id"]
            outputs = await reader.wait_until(lambda out: len(out.events_of(later_id)) == 2,
                                              "the later article's decision republished", [worker])
        finally:
            worker.stop()

    earlier_id = outputs.article("mine-earlier")["id"]
    assert outputs.followup("mine-later")["relation"] == "new_story"  # alone when it arrived
    assert outputs.followup("mine-later")["story_id"] == later_id
    earlier_followup = outputs.followup("mine-earlier")
    assert earlier_followup["story_id"] == earlier_id  # published first: it starts the story
    assert (earlier_followup["relation"], earlier_followup["new_facts"]) == ("new_story", [])  # nothing before it
    assert later_id in [link["article_id"] for link in earlier_followup["links"]]
    move = {"article_id": later_id, "story_id": earlier_id, "previous_story_id": later_id}
    assert earlier_followup["updates"] == [move]
    decided, republished = outputs.events_of(later_id)
    assert decided["story_id"] == later_id and republished["story_id"] == earlier_id
    assert republished["updates"] == [move]
    assert republished["relation"] == "same_story"
    assert earlier_id in [link["article_id"] for link in republished["links"]]
    # The index was re-rooted too: the next article of the story gets the earlier one's id.
    assert outputs.followup("mine-latest")["story_id"] == earlier_id


async def test_no_article_is_lost_while_workers_join_and_leave_the_group(settings_for, topic_prefix, tmp_path):
    """Two rebalances while records flow (a second worker joins, then leaves): each suspends both agents' streams,
    seeks every partition back to its committed offset and recovers the tables. Every raw article must come out
    of the linking agent, whichever worker held which partition meanwhile. Before ReadGaps, 3 runs in 20 lost one
    article each: Faust skipped a raw record and committed past it."""
    settings = worker_settings(settings_for, topic_prefix, tmp_path / "data", partitions_raw=4)
    await create_topics(settings)
    messages = unrelated_articles(360, seed=11)
    workers = [start_worker(settings, tmp_path / "one.log")]
    try:
        await asyncio.to_thread(workers[0].wait_ready)
        async with OutputReader(settings) as reader:

            async def feed() -> None:  # 12 records every 0.4 s, for about 12 s
                for start in range(0, len(messages), 12):
                    await publish(settings, settings.topic_raw, messages[start:start + 12])
                    await asyncio.sleep(0.4)

            feeding = asyncio.ensure_future(feed())
            await reader.wait_until(lambda out: len(out.articles) >= 24, "the first articles out", workers)
            workers.append(start_worker(settings, tmp_path / "two.log"))  # joins while records flow
            await asyncio.to_thread(workers[1].wait_ready)
            await reader.wait_until(lambda out: workers[1].consumed(settings.topic_raw) > 0,
                                    "the second worker consuming", workers)
            assert workers[1].stop() == 0  # leaves while records flow
            await feeding
            await reader.wait_until(lambda out: len(out.articles) == len(messages), "every article out",
                                    workers[:1], timeout=90)
            outputs = reader.outputs
        gaps = workers[0].metric("newsworker_read_gaps_total")
    finally:
        await asyncio.gather(*(asyncio.to_thread(w.stop) for w in workers))
    assert set(outputs.articles) == {source_of(m) for m in messages}
    assert not outputs.dead_letters
    logger.info("skipped raw records noticed by the worker that stayed: %d", gaps)
