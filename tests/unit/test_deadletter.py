"""Dead letters keep the rejected input exactly, say why, and say where it came from."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

from worker import __version__, codec
from worker.deadletter import dead_letter
from worker.records import Envelope, Origin, Rejection, RejectCode

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "deadletter.schema.json").read_text())
FAILED_AT = datetime(2024, 3, 5, 12, 0, 0, 250000, tzinfo=timezone.utc)
REJECTION = Rejection(RejectCode.BINARY_BODY, "not text in any encoding we can detect")


def make(envelope: Envelope, rejection: Rejection = REJECTION) -> dict:
    message = codec.to_plain(dead_letter(envelope, rejection, FAILED_AT, "newsworker-test"))
    Draft202012Validator(SCHEMA, format_checker=FormatChecker()).validate(message)
    return message


def test_original_bytes_key_and_headers_survive_exactly():
    value = b"\x00\xff\xfe binary \x80 payload"
    envelope = Envelope(value=value, key=b"\xc3(", headers=(("trace-id", b"\x01\x02"), ("trace-id", b"")),
                        origin=Origin(topic="news.raw", partition=3, offset=99, timestamp_ms=1709640000123))
    message = make(envelope)
    assert base64.b64decode(message["value_base64"]) == value
    assert base64.b64decode(message["key_base64"]) == b"\xc3("
    assert [(h["key"], base64.b64decode(h["value_base64"])) for h in message["headers"]] == [
        ("trace-id", b"\x01\x02"), ("trace-id", b"")
    ]
    assert message["value_size"] == len(value)


def test_reason_code_origin_time_and_worker_are_recorded():
    envelope = Envelope(value=b"{", origin=Origin(topic="news.raw", partition=1, offset=5, timestamp_ms=17))
    message = make(envelope, Rejection(RejectCode.INVALID_JSON, "unexpected end"))
    assert message["error"] == {"code": "invalid_json", "reason": "unexpected end"}
    assert message["source"] == {"topic": "news.raw", "partition": 1, "offset": 5, "timestamp_ms": 17,
                                 "file": None, "line": None}
    assert datetime.fromisoformat(message["failed_at"]) == FAILED_AT
    assert message["worker"] == {"app_id": "newsworker-test", "version": __version__}


def test_a_record_without_value_or_key_is_still_a_dead_letter():
    message = make(Envelope(value=None, origin=Origin(file="inputs.jsonl", line=12)),
                   Rejection(RejectCode.MISSING_BODY, "the message has no value"))
    assert (message["value_base64"], message["value_size"], message["key_base64"]) == (None, None, None)
    assert (message["source"]["file"], message["source"]["line"]) == ("inputs.jsonl", 12)


def test_a_redelivery_gets_the_same_id_and_another_record_another():
    origin = Origin(topic="news.raw", partition=0, offset=10)
    first = make(Envelope(value=b"same bytes", origin=origin))
    again = make(Envelope(value=b"same bytes", origin=origin))
    later = make(Envelope(value=b"same bytes", origin=Origin(topic="news.raw", partition=0, offset=11)))
    other = make(Envelope(value=b"other bytes", origin=origin))
    assert first["id"] == again["id"]
    assert len({first["id"], later["id"], other["id"]}) == 3


def test_every_reject_code_is_accepted_by_the_schema():
    for code in RejectCode:
        assert make(Envelope(value=b"x"), Rejection(code, "because"))["error"]["code"] == code.value
