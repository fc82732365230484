"""The linking agent when the broker refuses what it would publish for an enormous article
(``agent.test_context()``, no broker): the input, here the internal stories-topic record, goes to the dead letters
with its bytes and origin, and the agent links the next article as usual."""

from __future__ import annotations

import asyncio
import base64
import random
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError

from worker import codec

from test_enrich_agent import STORIES, RecordingSender, make_app, until
from test_link_agent import FIRST, LATER, enriched

ARTICLES_LIMIT = 512 * 1024  # e.g. a max.message.bytes set on the articles topic alone


class SizeLimitedSender(RecordingSender):
    """Refuses, as the broker does, a record larger than the limit of its topic (no limit for a topic not named)."""

    def __init__(self, limits: dict[str, int]) -> None:
        super().__init__()
        self.limits = limits
        self.refused: list[str] = []

    async def send(self, topic, key, value, partition, timestamp, headers) -> Any:
        if len(value or b"") > self.limits.get(topic, 1 << 62):
            self.refused.append(topic)
            delivered = asyncio.get_running_loop().create_future()
            delivered.set_exception(MessageSizeTooLargeError())
            return delivered
        return await super().send(topic, key, value, partition, timestamp, headers)


def enormous(raw: dict, words: int, seed: int) -> bytes:
    """The stories-topic record of ``raw`` with ``words`` more words of text (about 7 bytes each)."""
    plain = codec.loads(enriched(raw))
    rng = random.Random(seed)
    vocabulary = [f"word{n}" for n in range(20_000)]
    padding = " ".join(rng.choice(vocabulary) + ("." if i % 15 == 14 else "") for i in range(words))
    plain["text"] = f"{plain['text']} {padding}"
    plain["id"] = plain["source_id"] = "enormous-1"
    return codec.dumps(plain)


async def test_an_article_too_large_for_its_topic_is_dead_lettered_as_the_stories_record_and_linking_goes_on():
    sender = SizeLimitedSender({"out.articles": ARTICLES_LIMIT})
    app = make_app(sender)
    huge = enormous(FIRST, 100_000, seed=5)
    assert len(huge) > ARTICLES_LIMIT
    async with app.newsworker_link_agent.test_context() as agent:
        await agent.put(huge, key=b"enormous-1")
        await until(lambda: len(sender.sent) == 2, timeout=60)  # its event and its dead letter
        await agent.put(enriched(FIRST), key=b"quay-1")
        await agent.put(enriched(LATER), key=b"quay-2")
        await until(lambda: len(sender.sent) == 6, timeout=60)
    assert sender.refused == ["out.articles"]
    (letter,) = sender.bodies("out.dead")
    assert letter["error"]["code"] == "processing_error"
    assert "out.articles" in letter["error"]["reason"] and "MessageSizeTooLarge" in letter["error"]["reason"]
    assert letter["source"]["topic"] == STORIES and letter["source"]["offset"] is not None
    assert base64.b64decode(letter["value_base64"]) == huge
    huge_event, first_event, later_event = sender.bodies("out.followups")
    assert huge_event["article_id"] == "enormous-1"
    first, later = sender.bodies("out.articles")
    assert later["followup"]["story_id"] == first["followup"]["story_id"] == first_event["story_id"]


async def test_when_even_the_dead_letter_is_too_large_the_agent_logs_it_and_goes_on(caplog):
    limit = 256 * 1024
    sender = SizeLimitedSender({"out.articles": limit, "out.dead": limit, "out.followups": limit})
    app = make_app(sender)
    async with app.newsworker_link_agent.test_context() as agent:
        await agent.put(enormous(FIRST, 100_000, seed=6), key=b"enormous-1")
        await until(lambda: len(sender.refused) == 2, timeout=60)
        await agent.put(enriched(FIRST), key=b"quay-1")
        await until(lambda: len(sender.bodies("out.articles")) == 1, timeout=60)
    assert sender.refused == ["out.articles", "out.dead"]
    assert [event["article_id"] for event in sender.bodies("out.followups")][0] == "enormous-1"
    assert sender.bodies("out.articles")[0]["followup"]["relation"] == "new_story"
    assert "dead letter for input" in caplog.text and STORIES in caplog.text
