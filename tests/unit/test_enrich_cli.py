"""``newsworker enrich``: the worker's pipeline offline. Called in-process through the CLI and as a subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from worker import codec
from worker.cli import main
from worker.pipeline import build_pipeline
from worker.records import Envelope
from worker.settings import Settings
from worker.stories import StoryLinker

ROOT = Path(__file__).resolve().parents[2]
ARTICLE_SCHEMA = json.loads((ROOT / "schemas" / "article.schema.json").read_text(encoding="utf-8"))

ORCHARD = {
    "id": "orchard-1",
    "url": "https://example.test/orchard",
    "published_at": "2024-05-14T07:00:00Z",
    "text": "Orchard harvest starts early\n\nGrowers in the valley began picking cherries yesterday, "
    "two weeks earlier than usual.\n\nThe cooperative expects a good season, its manager said on Monday.",
}
MARKET = {
    "id": "market-2",
    "html": "<html><head><title>Night market returns</title></head><body><article><h1>Night market returns</h1>"
    "<p>The night market on the quay reopens on Friday with forty stalls and a brass band.</p>"
    "<p>Organisers said the council had approved longer opening hours for the summer.</p></article></body></html>",
}
TEXT_FILE = (
    "Bridge closed for repairs\n\n"
    "The old stone bridge will be closed to cars for six weeks while masons replace the parapet.\n\n"
    "Pedestrians can still cross on the north side, the highways office said.\n"
)


def jsonl(*lines: str | dict) -> bytes:
    return b"".join((line if isinstance(line, str) else codec.dumps(line).decode()).encode() + b"\n" for line in lines)


def run_in_process(capsysbinary, *argv: str) -> tuple[int, list[bytes], str]:
    code = main(["enrich", *argv])
    captured = capsysbinary.readouterr()
    return code, captured.out.splitlines(), captured.err.decode()


def validate(line: bytes) -> dict:
    message = codec.loads(line)
    Draft202012Validator(ARTICLE_SCHEMA, format_checker=FormatChecker()).validate(message)
    return message


@pytest.fixture
def inputs(tmp_path) -> Path:
    path = tmp_path / "inputs.jsonl"
    path.write_bytes(jsonl(ORCHARD, '{"id": "broken", "text": ', "", MARKET, {"id": "no-body"}))
    return path


def test_articles_on_stdout_are_exactly_what_the_pipeline_publishes(capsysbinary, inputs):
    code, lines, err = run_in_process(capsysbinary, str(inputs))
    assert code == 0
    expected = build_pipeline(Settings()).run([Envelope(value=codec.dumps(ORCHARD)), Envelope(value=codec.dumps(MARKET))])
    assert all(o.rejection is None for o in expected)
    # The worker links each article to earlier stories before publishing; enrich does the same over its input.
    linker = StoryLinker()
    assert lines == [codec.dumps(linker.link_one(article)) for outcome in expected for article in outcome.articles]
    assert all(json.loads(line)["followup"] is not None for line in lines)
    sources = [validate(line)["source_id"] for line in lines]
    assert sources[0] == "orchard-1" and sources[-1] == "market-2"


def test_rejected_inputs_are_reported_on_stderr_with_file_line_and_code(capsysbinary, inputs):
    code, lines, err = run_in_process(capsysbinary, str(inputs))
    assert code == 0
    assert f"{inputs}:2: invalid_json:" in err
    assert f"{inputs}:5: missing_body:" in err
    assert "4 inputs" in err and "2 rejected" in err  # the blank line 3 is not an input
    assert all(b"broken" not in line and b"no-body" not in line for line in lines)


def test_only_rejected_inputs_still_exit_zero_with_empty_stdout(capsysbinary, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(jsonl("[1, 2", '{"url": "https://example.test/empty", "text": "   "}'))
    code, lines, err = run_in_process(capsysbinary, str(path))
    assert (code, lines) == (0, [])
    assert ":1: invalid_json:" in err and ":2: empty_body:" in err


def test_stdin_is_read_when_no_file_or_dash_is_given(capsysbinary, monkeypatch):
    for argv in ([], ["-"]):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(jsonl(ORCHARD))))
        code, lines, _ = run_in_process(capsysbinary, *argv)
        assert code == 0 and lines and validate(lines[0])["source_id"] == "orchard-1"


def test_a_text_file_is_one_article_with_the_given_metadata(capsysbinary, tmp_path):
    path = tmp_path / "bridge.txt"
    path.write_text(TEXT_FILE, encoding="utf-8")
    code, lines, err = run_in_process(
        capsysbinary, str(path), "--id", "bridge-7", "--url", "https://example.test/bridge",
        "--published-at", "2024-06-01T10:00:00+02:00",
    )
    assert code == 0, err
    message = validate(lines[0])
    assert message["source_id"] == "bridge-7" and message["url"] == "https://example.test/bridge"
    assert datetime.fromisoformat(message["published_at"]) == datetime(2024, 6, 1, 8, 0, tzinfo=timezone.utc)
    assert "stone bridge" in message["text"]


def test_an_html_file_is_extracted_as_html(capsysbinary, tmp_path):
    path = tmp_path / "market.HTML"
    path.write_text(MARKET["html"], encoding="utf-8")
    code, lines, err = run_in_process(capsysbinary, str(path))
    assert code == 0, err
    message = validate(lines[0])
    assert "<p>" not in message["text"] and "forty stalls" in message["text"]


def test_batch_size_does_not_change_the_output(capsysbinary, inputs):
    _, one_by_one, _ = run_in_process(capsysbinary, "--batch-size", "1", str(inputs))
    _, all_at_once, _ = run_in_process(capsysbinary, "--batch-size", "100", str(inputs))
    assert one_by_one == all_at_once and one_by_one


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["missing.jsonl"], 1, "cannot read missing.jsonl"),
        (["--url", "https://example.test/x", "a.txt", "b.txt"], 2, "single"),
        (["--id", "x"], 2, "single"),
        (["--published-at", "next Tuesday", "a.txt"], 2, "ISO 8601"),
        (["--batch-size", "0", "a.txt"], 2, "batch-size"),
        (["-", "-"], 2, "stdin"),
    ],
)
def test_usage_errors_and_unreadable_files_fail_before_any_output(capsysbinary, tmp_path, monkeypatch,
                                                                    argv, code, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text(TEXT_FILE)
    (tmp_path / "b.txt").write_text(TEXT_FILE)
    result, lines, err = run_in_process(capsysbinary, *argv)
    assert (result, lines) == (code, [])
    assert message in err


def test_as_a_subprocess_stdout_carries_only_articles(tmp_path, inputs):
    page = tmp_path / "bridge.txt"
    page.write_text(TEXT_FILE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWORKER_")}
    result = subprocess.run(
        [sys.executable, "-m", "worker", "enrich", str(inputs), "-", str(page)],
        input=jsonl(MARKET), capture_output=True, env=env, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr.decode()
    messages = [validate(line) for line in result.stdout.splitlines()]
    assert [m["source_id"] for m in messages if m["part"] == 0][:3] == ["orchard-1", "market-2", "market-2"]
    assert "stone bridge" in messages[-1]["text"]
    assert b"invalid_json" in result.stderr
