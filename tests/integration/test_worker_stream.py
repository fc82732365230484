"""The worker end to end on the real embedded broker: raw records in, articles and dead letters out.

Every output is checked against the published JSON Schemas, every kind of bad input gets its own dead letter
with the original bytes and where it came from, and the worker keeps going after each.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from worker.kafka.clients import RawMessage
from worker.samples import sample_messages

from conftest import exchange  # tests/integration/conftest.py (the closest conftest module wins the name)
from schema_check import assert_valid

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT.parent / "shared" / "seeds"


def _json(**fields: object) -> bytes:
    return json.dumps(fields).encode()


async def test_good_articles_come_out_keyed_by_id_and_valid(running_worker):
    settings = running_worker.settings
    messages = [
        RawMessage(_json(id="it-json-1", url="https://test.example/a", title="Council backs new tram line",
                         published_at="2025-03-01T10:00:00Z",
                         text="LEEDS — The city council on Friday backed a new tram line. Work starts next year."),
                   key=b"https://test.example/a"),
        RawMessage(b"Bakers in Dunmore held their first street fair on Sunday. Hundreds came to taste bread.",
                   key=b"it-text-1", headers=(("id", b"it-text-1"), ("published_at", b"2025-03-02T09:00:00Z"),
                                              ("content-type", b"text/plain"))),
        RawMessage(b"<html><body><article><h1>Museum reopens</h1><p>The town museum reopened on Saturday after "
                   b"a new roof was fitted.</p><p>Entry stays free for children.</p></article></body></html>",
                   key=b"it-html-1", headers=(("id", b"it-html-1"), ("content-type", b"text/html"))),
    ]
    result = await exchange(settings, messages)
    assert not result.dead_letters, [d.body["error"] for d in result.dead_letters]
    first, text, html = (result.articles_of(s) for s in result.sent)
    assert len(first) == len(text) == len(html) == 1
    for output in result.articles:
        assert output.key == output.body["id"].encode()
        assert_valid("article", output.body)
    assert first[0]["headline"] == "Council backs new tram line"
    assert first[0]["url"] == "https://test.example/a"
    assert first[0]["published_at"].startswith("2025-03-01T10:00:00")
    assert first[0]["dateline"]["place"] == "LEEDS"
    assert any(d["value"] == "2025-02-28" for d in first[0]["dates"])  # "on Friday" before Saturday 1 March
    assert text[0]["text"].startswith("Bakers in Dunmore")
    assert html[0]["headline"] == "Museum reopens" and "new roof" in html[0]["text"]


BAD_INPUTS = [
    (b'{"id": "it-bad-json", "text": "unterminated', "invalid_json"),
    (b'[1, 2, 3]', "invalid_shape"),
    (b'{"id": ["not", "a", "string"], "text": "x"}', "invalid_shape"),
    (b'{"url": "https://test.example/only-a-title", "title": "No body"}', "missing_body"),
    (b'{"id": "it-blank", "text": "  \\n  "}', "empty_body"),
    (b"   \n\t  ", "empty_body"),
    (bytes(range(256)) * 4, "binary_body"),
]


async def test_every_bad_input_gets_its_dead_letter_and_the_worker_keeps_going(running_worker):
    settings = running_worker.settings
    after = RawMessage(_json(id="it-after-bad", text="The ferry ran on time on Tuesday, the operator said."),
                       key=b"it-after-bad")
    messages = [RawMessage(value, key=f"bad-{n}".encode() if n % 2 else None, headers=(("trace", b"t%d" % n),))
                for n, (value, _) in enumerate(BAD_INPUTS)] + [after]
    result = await exchange(settings, messages)
    for sent, (value, code) in zip(result.sent, BAD_INPUTS):
        (letter,) = result.dead_letters_of(sent)
        assert_valid("deadletter", letter)
        assert letter["error"]["code"] == code, (value[:40], letter["error"])
        assert base64.b64decode(letter["value_base64"]) == value
        assert letter["source"] == {**letter["source"], "topic": settings.topic_raw,
                                    "partition": sent.where.partition, "offset": sent.where.offset}
        assert letter["key_base64"] == (base64.b64encode(sent.message.key).decode() if sent.message.key else None)
        assert [(h["key"], base64.b64decode(h["value_base64"])) for h in letter["headers"]] == list(
            sent.message.headers)
        assert not result.articles_of(sent)
    assert len(result.articles_of(result.sent[-1])) == 1


async def test_keyless_messages_and_repeats_give_the_same_ids(running_worker):
    settings = running_worker.settings
    body = b"Volunteers cleared two tonnes of litter from Grange beach on Saturday, the trust said."
    # No key and no id header: the id comes from the content, so the same record sent twice (as a redelivery
    # after a crash would) gets the same article id.
    result = await exchange(settings, [RawMessage(body), RawMessage(body)], done=lambda r: len(r.articles) == 2)
    ids = [a.body["id"] for a in result.articles]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert all(a.key == ids[0].encode() for a in result.articles)


async def test_every_sample_comes_out_as_expected(running_worker):
    samples = sample_messages()
    river_index = [s.name for s in samples].index("river-page.txt")

    def done(result) -> bool:  # the page's three stories travel on different partitions
        return all(result.resolved(s) for s in result.sent) and len(result.articles_of(result.sent[river_index])) == 3

    result = await exchange(running_worker.settings, [RawMessage(s.value, s.key, s.headers) for s in samples],
                            done=done)
    for sample, sent in zip(samples, result.sent):
        if sample.expect == "article":
            assert result.articles_of(sent) and not result.dead_letters_of(sent), sample.name
        else:
            (letter,) = result.dead_letters_of(sent)
            assert letter["error"]["code"] == sample.expect, sample.name
    assert [a["kind"] for a in result.articles_of(result.sent[river_index])] == ["main", "sidebar", "related"]


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the shared folder beside the repository is absent")
async def test_reference_page_through_the_broker_gives_three_articles(running_worker):
    page = (SEEDS / "scrape-part1.txt").read_text(encoding="utf-8") + "\n" + (
        SEEDS / "scrape-part2.txt").read_text(encoding="utf-8")
    message = RawMessage(page.encode(), key=b"reference-page",
                         headers=(("id", b"it-reference-page"), ("published_at", b"2016-10-04T06:00:00+00:00")))
    result = await exchange(running_worker.settings, [message], done=lambda r: len(r.articles) == 3)
    articles = result.articles_of(result.sent[0])
    assert [a["kind"] for a in articles] == ["main", "sidebar", "related"]
    main, sidebar, related = articles
    assert sidebar["parent_id"] == related["parent_id"] == main["id"]
    assert related["dateline"]["place"] == "WASHINGTON"
    assert any(d["text"].lower() == "yesterday" and d["value"] == "2016-10-03" for d in main["dates"])
    for article in articles:
        assert_valid("article", article)


async def test_health_ready_and_metrics_count_what_went_through(running_worker):
    await exchange(running_worker.settings, [RawMessage(b'{"broken": '), RawMessage(_json(
        id="it-metrics", text="The harbour opened a new quay on Wednesday."))])
    assert running_worker.get("/health")[0] == 200
    status, body = running_worker.get("/ready")
    assert status == 200 and json.loads(body)["ready"] is True
    status, text = running_worker.get("/metrics")
    assert status == 200
    metrics = text.decode()
    settings = running_worker.settings
    consumed = re.search(rf'newsworker_consumed_messages_total{{topic="{re.escape(settings.topic_raw)}"}} (\S+)',
                         metrics)
    assert consumed and float(consumed.group(1)) > 0
    assert f'newsworker_produced_messages_total{{topic="{settings.topic_articles}"}}' in metrics
    assert 'newsworker_stage_seconds_count{stage="normalize"}' in metrics
    assert 'newsworker_dead_letters_total{code="invalid_json"}' in metrics
    lags = re.findall(rf'newsworker_consumer_lag{{partition="\d+",topic="{re.escape(settings.topic_raw)}"}} (\S+)',
                      metrics)
    assert lags and all(float(lag) >= 0 for lag in lags)
    # what existed when the worker started is frozen out of the collector's passes (tens of thousands of objects,
    # nearly all from the imports); without the freeze the count is 0
    assert running_worker.metric("newsworker_gc_frozen_objects") > 10_000


async def test_with_log_json_every_log_line_is_one_json_object(running_worker):
    """NEWSWORKER_LOG_JSON=true (set for this worker): log shippers get one object per line, nothing else."""
    await exchange(running_worker.settings, [RawMessage(b"{not json", key=b"log-json-probe")])
    lines = [line for line in running_worker.log.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert lines, "the worker logged nothing"
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON log line: {line[:200]!r}")
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in entries)
    assert any(entry["logger"] == "worker.app" and "log-json-probe" not in entry["message"]
               and "invalid_json" in entry["message"] for entry in entries), "the rejection was not logged"


async def test_inputs_near_the_size_limit_come_out_whole_though_kafka_defaults_stop_at_1_mb(running_worker):
    """A 1.3 MB article makes an output of more than 1 MB, and a 1.9 MB broken input a dead letter of 2.5 MB:
    both over the 1 MB that Kafka clients and topics allow by default. Neither may be lost."""
    settings = running_worker.settings
    assert settings.max_body_bytes > 1_900_000  # the default 2 MB limit: these inputs are allowed in
    # German text skips the English tagging, so the test measures sizes, not NER time.
    paragraph = ("Die Fähre nach Bramble Island fuhr am Freitag wieder, nachdem der Anleger in einer Woche "
                 "repariert worden war. Die Gemeinde dankte den Handwerkern und den Fischern für ihre Geduld.")
    text = "\n\n".join(f"{n}. {paragraph}" for n in range(7_000))
    large = RawMessage(_json(id="it-large-article", language="de", text=text), key=b"it-large-article")
    broken = RawMessage(b'{"id": "it-large-broken", "text": "' + b"x" * 1_900_000, key=b"it-large-broken")
    assert len(large.value) > 1_300_000
    result = await exchange(settings, [large, broken], timeout=120)
    (article,) = result.articles_of(result.sent[0])
    assert article["text"] == text and len(json.dumps(article)) > 1_048_576
    assert_valid("article", article)
    (letter,) = result.dead_letters_of(result.sent[1])
    assert_valid("deadletter", letter)
    assert letter["error"]["code"] == "invalid_json"
    assert base64.b64decode(letter["value_base64"]) == broken.value
