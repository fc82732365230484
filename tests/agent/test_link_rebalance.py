"""The linking agent across a rebalance (``agent.test_context()``, no broker): an index kept from before the
linking partition went away would miss what another worker linked meanwhile; it is rebuilt from the table."""

from __future__ import annotations

from faust.types import TP

from worker import codec
from worker.app import article_from_plain
from worker.stories import StoryIndex, link
from worker.stories.table import write_change

from test_enrich_agent import STORIES, RecordingSender, make_app, until
from test_link_agent import FIRST, LATER, enriched

ELSEWHERE = {"id": "kiln-1", "published_at": "2025-03-01T10:00:00Z",
             "text": "BRANTWICK — The pottery museum in Brantwick will rebuild its wood-fired kiln, curator Odile "
                     "Marchetti said on Saturday. Volunteers raised 40,000 euros for the bricks."}


async def test_an_article_linked_by_another_worker_while_the_partition_was_away_is_found_after_it_returns():
    sender = RecordingSender()
    app = make_app(sender)
    table = app.tables["story_index"]
    async with app.newsworker_link_agent.test_context() as agent:
        await agent.put(enriched(ELSEWHERE), key=b"kiln-1")  # this worker builds its index here
        await until(lambda: len(sender.sent) == 2)

        await app.on_partitions_revoked.send({TP(STORIES, 0)})
        # Another worker links FIRST; its table write reaches this worker's table through the changelog (as
        # recovery applies it: straight into the store).
        elsewhere, written = StoryIndex(), {}
        change, _ = link(elsewhere, article_from_plain(codec.loads(enriched(FIRST))))
        elsewhere.apply(change)
        write_change(written, elsewhere, change)
        for key, value in written.items():
            table.data[key] = value

        await agent.put(enriched(LATER), key=b"quay-2")  # the partition is back here
        await until(lambda: len(sender.sent) == 4)
    later = sender.bodies("out.articles")[-1]
    first_id = change.add.signature.article_id
    assert later["followup"]["story_id"] == first_id
    assert first_id in [link_["article_id"] for link_ in later["followup"]["links"]]
