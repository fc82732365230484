"""The linking agent when an earlier-published article arrives later (``agent.test_context()``, no broker): the
decision it changes is published again, also when the article is delivered again after a crash."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from test_enrich_agent import RecordingSender, make_app, until
from test_link_agent import FIRST, LATER, enriched

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


async def test_the_decision_an_out_of_order_article_changes_is_republished_and_again_on_redelivery():
    sender = RecordingSender()
    app = make_app(sender)
    async with app.newsworker_link_agent.test_context() as agent:
        await agent.put(enriched(LATER), key=b"quay-2")
        await until(lambda: len(sender.sent) == 2)
        await agent.put(enriched(FIRST), key=b"quay-1")  # published a day earlier, arriving second
        await until(lambda: len(sender.sent) == 5)
        await agent.put(enriched(FIRST), key=b"quay-1")  # delivered again, as after a crash before the commit
        await until(lambda: len(sender.sent) == 8)
        await agent.put(enriched(LATER), key=b"quay-2")  # and the other one too
        await until(lambda: len(sender.sent) == 10)
    later, first, first_again, later_again = sender.bodies("out.articles")
    later_id, first_id = later["id"], first["id"]
    decided, first_event, restated, first_event_again, restated_again, later_event_again = (
        sender.bodies("out.followups"))

    assert decided["story_id"] == later_id and decided["relation"] == "new_story"
    move = {"article_id": later_id, "story_id": first_id, "previous_story_id": later_id}
    assert first_event["story_id"] == first_id and first_event["updates"] == [move]
    # The later article's decision again: in the earlier one's story, linked back to it, no longer a new story.
    assert restated["article_id"] == later_id
    assert restated["story_id"] == first_id and restated["updates"] == [move]
    assert restated["relation"] == "same_story"
    assert [link["article_id"] for link in restated["links"]] == [first_id]
    # A redelivery republishes the same decision and the same correction (the crash may have cost them).
    assert first_again == first and first_event_again == first_event and restated_again == restated
    # The later article delivered again comes out as it stands now.
    assert later_again["followup"]["story_id"] == first_id
    assert later_event_again == restated  # once: its own move in its updates is not republished twice
    schema = json.loads((SCHEMAS / "followup.schema.json").read_text())
    for event in sender.bodies("out.followups"):
        jsonschema.validate(event, schema)
