"""The linking agent through ``agent.test_context()``: enriched articles in, linked articles and events out."""

from __future__ import annotations

import jsonschema
import json
from pathlib import Path

from log_reads import LogReads
from worker import codec
from worker.kafka.topics import stories_topic
from worker.pipeline import build_pipeline
from worker.records import Envelope
from worker.stories.table import decode_entry

from test_enrich_agent import SETTINGS, RecordingSender, make_app, until

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def enriched(raw: dict) -> bytes:
    """What the enrich agent puts on the internal topic for one raw article."""
    (outcome,) = build_pipeline(SETTINGS).run([Envelope(value=codec.dumps(raw))])
    (article,) = outcome.articles
    return codec.dumps(article)


FIRST = {"id": "quay-1", "published_at": "2025-03-03T09:00:00Z",
         "text": "PORT ELLIS — A cargo ship ran aground near the Port Ellis quay on Monday, blocking the harbour "
                 "entrance. Harbour master Lena Ruiz said tugs would try to free the Alba Star at high tide."}
LATER = {"id": "quay-2", "published_at": "2025-03-04T09:00:00Z",
         "text": "PORT ELLIS — Tugs freed the cargo ship Alba Star from the Port Ellis quay on Tuesday, a day after "
                 "it ran aground and blocked the harbour entrance. Harbour master Lena Ruiz said the ship had "
                 "suffered no damage to its hull. Divers inspected the quay wall in the afternoon. Ferries will "
                 "use the harbour again from Wednesday, the operator Grey Gull Lines said."}


async def link_through(app, sender: RecordingSender, raws: list[dict], sends: int) -> None:
    """Put the enriched ``raws`` through ``app``'s linking agent, keyed by their ids, until ``sender`` has recorded
    ``sends`` records."""
    async with app.newsworker_link_agent.test_context() as agent:
        for raw in raws:
            await agent.put(enriched(raw), key=raw["id"].encode())
        await until(lambda: len(sender.sent) == sends)


async def test_articles_come_out_linked_with_a_followup_event_each():
    sender = RecordingSender()
    app = make_app(sender)
    await link_through(app, sender, [FIRST, LATER], sends=4)
    first, later = sender.bodies("out.articles")
    events = sender.bodies("out.followups")
    assert first["followup"]["relation"] == "new_story"
    assert later["followup"]["story_id"] == first["followup"]["story_id"]
    assert later["followup"]["relation"] in ("follow_up", "same_story")
    assert [e["article_id"] for e in events] == [first["id"], later["id"]]
    followup_schema = json.loads((SCHEMAS / "followup.schema.json").read_text())
    for event in events:
        jsonschema.validate(event, followup_schema)
    # The story table mirrors the index: both articles are entries of the one story.
    table = app.tables["story_index"]
    stored = [decode_entry(table[article["id"]]).story_id for article in (first, later)]
    assert set(stored) == {first["followup"]["story_id"]}


async def test_an_unreadable_record_is_dead_lettered_and_linking_goes_on():
    sender = RecordingSender()
    app = make_app(sender)
    async with app.newsworker_link_agent.test_context() as agent:
        await agent.put(b"not an article", key=b"x")
        await agent.put(enriched(FIRST), key=b"quay-1")
        await until(lambda: len(sender.sent) == 3)
    (letter,) = sender.bodies("out.dead")
    assert letter["error"]["code"] == "processing_error"
    assert [a["source_id"] for a in sender.bodies("out.articles")] == ["quay-1"]


async def test_a_redelivered_article_gets_the_same_output_again():
    sender = RecordingSender()
    app = make_app(sender)
    # LATER delivered again, as after a crash before the commit
    await link_through(app, sender, [FIRST, LATER, LATER], sends=6)
    first, later, again = sender.bodies("out.articles")
    assert again == later  # not linked to itself the second time
    assert sender.bodies("out.followups")[1] == sender.bodies("out.followups")[2]


FERRIES = {"id": "quay-3", "published_at": "2025-03-05T09:00:00Z",
           "text": "PORT ELLIS — Ferries of Grey Gull Lines sailed from Port Ellis again on Wednesday, two days after "
                   "the cargo ship Alba Star ran aground at the quay and blocked the harbour entrance. Harbour master "
                   "Lena Ruiz said the quay wall had passed the divers' inspection."}
INQUIRY = {"id": "quay-4", "published_at": "2025-03-06T09:00:00Z",
           "text": "PORT ELLIS — The harbour authority opened an inquiry on Thursday into how the cargo ship Alba Star "
                   "ran aground at the Port Ellis quay on Monday. Harbour master Lena Ruiz said the pilot's radio "
                   "logs would be examined."}


async def test_stories_records_the_consumer_skipped_are_read_from_the_broker_and_linked_first():
    """Faust can hand the linking agent a record past its cursor, having dropped the ones between (a recovery
    race): they are read from the broker and linked before it, in order, and skipped if Faust delivers them
    after all."""
    sender = RecordingSender()
    stories = (stories_topic(SETTINGS), 0)
    reads = LogReads({stories: {1: enriched(LATER), 2: enriched(FERRIES)}})
    app = make_app(sender, reads=reads)
    async with app.newsworker_link_agent.test_context() as agent:
        await agent.put(enriched(FIRST), key=b"quay-1")  # offset 0
        agent.sent_offset = 3  # offsets 1 and 2 never reach the stream
        await agent.put(enriched(INQUIRY), key=b"quay-4")
        await until(lambda: len(sender.sent) == 8)
        agent.sent_offset = 1  # Faust delivers offset 1 after all: its outputs are out already
        await agent.put(enriched(LATER), key=b"quay-2")
        agent.sent_offset = 4
        await agent.put(enriched(INQUIRY | {"id": "quay-5"}), key=b"quay-5")
        await until(lambda: len(sender.sent) == 10)
    assert reads.reads == [(0, 1, 3)]
    articles = sender.bodies("out.articles")
    assert [article["source_id"] for article in articles] == ["quay-1", "quay-2", "quay-3", "quay-4", "quay-5"]
    story = articles[0]["followup"]["story_id"]
    assert [article["followup"]["story_id"] for article in articles] == [story] * 5
