"""Follow-up linking in the running worker, against the real embedded broker (issue 4, integration targets).

Each test starts real ``newsworker worker`` children on topics of its own and talks to them only through Kafka:
raw articles in, enriched articles (with ``followup``) and link events out.

- restart: the story index is recovered from its changelog after a SIGKILL, so a follow-up produced for the
  fresh worker still links to an article the killed one indexed (behind 50 unrelated ones);
- two workers in one group on a 4-partition input: articles of one story enriched by different workers come
  out linked (the single-partition linking topic gives one linker the whole index);
- bad input for linking (no publication time, another language, no text, 100,000 distinct words) comes out,
  and an ordinary article behind the pathological one is not held up;
- out of order: the earlier-published article, arriving second, becomes the story's first article, and the
  other article's decision is re-published with the new story id.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from worker import codec
from worker.kafka.broker import free_port
from worker.kafka.clients import RawMessage, follow, publish
from worker.kafka.process import WorkerProcess
from worker.kafka.topics import create_topics
from worker.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

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
    """What the workers published for this test: articles by source id, link events in order of arrival."""

    articles: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
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
        topics = [self.settings.topic_articles, self.settings.topic_followups]
        async for record in follow(self.settings, topics):
            body = codec.loads(record.value)
            if record.topic == self.settings.topic_articles:
                self.outputs.articles[body["source_id"]] = body
                self.outputs.arrived.setdefault(body["source_id"], time.monotonic())
            else:
                self.outputs.events.append(body)

    async def wait_for(self, source_ids: list[str], workers: list[WorkerProcess],
                       timeout: float = OUTPUT_TIMEOUT_S) -> Outputs:
        deadline = time.monotonic() + timeout
        while missing := [s for s in source_ids if s not in self.outputs.articles]:
            for worker in workers:
                assert worker.process.poll() is None, f"a worker exited:\n{worker.log_tail()}"
            assert self._task is not None and not self._task.done(), "the output reader stopped"
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(missing)} articles not out within {timeout:.0f} s, e.g. {missing[:3]}:\n"
                                     + "\n".join(w.log_tail(20) for w in workers))
            await asyncio.sleep(0.05)
        return self.outputs


def stop_all(workers: list[WorkerProcess]) -> None:
    for worker in workers:
        worker.stop()


async def changelog_records(settings: Settings, table: str) -> int:
    """How many records the table's changelog topic holds (read from the start)."""
    topic = f"{settings.app_id}-{table}-changelog"
    count = 0
    async for _ in follow(settings, [topic], idle_timeout=1.5):
        count += 1
    return count


# --------------------------------------------------------------------------------------------- tests


async def test_after_sigkill_a_fresh_worker_links_a_follow_up_to_an_article_indexed_before(settings_for,
                                                                                         topic_prefix, tmp_path):
    settings = worker_settings(settings_for, topic_prefix, tmp_path / "data")
    await create_topics(settings)
    fillers = unrelated_articles(50, seed=1)
    # The story's first article is written last: the end-offset bug of the embedded broker would lose the
    # changelog's last batch in recovery, so this is the entry most at risk.
    first = raw("ferry-1", FERRY_FIRST, "2025-05-11T19:30:00Z")
    indexed = [*fillers, first]
    ids = [json.loads(m.value)["id"] for m in indexed]

    async with OutputReader(settings) as reader:
        killed = start_worker(settings, tmp_path / "killed.log")
        try:
            await asyncio.to_thread(killed.wait_ready)
            await publish(settings, settings.topic_raw, indexed)
            before = await reader.wait_for(ids, [killed])
            # Everything indexed is in the changelog before the crash (table writes are sent asynchronously).
            deadline = time.monotonic() + 30
            while await changelog_records(settings, "story_index") < len(indexed):
                assert time.monotonic() < deadline, "the story index changelog never held every entry"
        finally:
            killed.process.send_signal(signal.SIGKILL)
            killed.process.wait()
        assert all(before.followup(i)["relation"] == "new_story" for i in ids), "the unrelated articles linked"

        fresh = start_worker(settings, tmp_path / "fresh.log")
        try:
            await asyncio.to_thread(fresh.wait_ready)
            await publish(settings, settings.topic_raw, [raw("ferry-2", FERRY_FOLLOW_UP, "2025-05-12T10:00:00Z")])
            after = await reader.wait_for(["ferry-2"], [fresh])
        finally:
            fresh.stop()

    first_id, followup = before.article("ferry-1")["id"], after.followup("ferry-2")
    assert followup["story_id"] == first_id
    assert first_id in [link["article_id"] for link in followup["links"]]
    assert followup["relation"] == "follow_up"
    (event,) = after.events_of(after.article("ferry-2")["id"])
    assert event["story_id"] == first_id
    # The whole changelog came back, not only its head.
    assert f"story index rebuilt from {len(indexed)} table entries" in fresh.log.read_text()
