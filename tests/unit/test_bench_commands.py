"""The benchmark commands run end to end on tiny inputs and report consistent figures.

They are how speed and memory are measured (README, "Benchmarks and evaluation"), so a command that no longer
runs, or whose ratio column disagrees with its own rates, is a broken measurement. Nothing here asserts a speed.
"""

from __future__ import annotations

import json
import re

import pytest

from worker.cli import main


def run_command(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_bench_normalize_reports_both_forms_with_their_ratio_to_the_baseline(capsys):
    out = run_command(capsys, "bench", "normalize", "--articles", "12", "--rounds", "1")
    rows = {m.group(1): m for m in re.finditer(
        r"^(plain text|HTML)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+(\d+) \((met|MISSED)\)$", out, re.MULTILINE)}
    assert set(rows) == {"plain text", "HTML"}, out
    for row in rows.values():
        ours, baseline, ratio = int(row.group(2)), int(row.group(3)), float(row.group(4))
        assert ours > 0 and baseline > 0
        assert ratio == pytest.approx(ours / baseline, rel=0.02, abs=0.01)
        assert (row.group(7) == "met") == (ours >= int(row.group(5)))
        # The synthetic corpus has multi-story pages: more stories come out than articles went in.
        assert int(row.group(6)) > 12


def test_bench_link_beats_the_brute_force_scan_and_reports_memory(capsys):
    out = run_command(capsys, "bench", "link", "--sizes", "300,1200", "--queries", "30", "--brute-queries", "3")
    row = r"^(\d+)\s+([\d.]+) ms\s+([\d.]+) ms\s+\(\s*[\d.]+ ms\)\s+([\d.]+) ms\s+(\d+)x\s+(\d+ B|\(noise\))\s+(\d+) B"
    rows = re.findall(row, out, re.MULTILINE)
    assert [int(size) for size, *_ in rows] == [300, 1200], out
    for _, p50, p99, brute, _, rss, packed in rows:
        assert 0 < float(p50) <= float(p99)
        # a tiny index may grow RSS by less than the allocator's churn; then the bench says so instead of a figure
        assert rss == "(noise)" or int(rss.removesuffix(" B")) > 0
        assert int(packed) > 0
    mirrors = re.findall(r"story table mirror: (\d+ B|\(noise\)) RSS per article, values (\d+) B \(as JSON (\d+) B\)",
                         out)
    assert len(mirrors) == 2 and all(0 < int(value) < int(json) for _, value, json in mirrors), out
    rebuilds = re.findall(r"rebuild from the table: ([\d.]+) s, longest event-loop stall \d+ ms; "
                          r"with the collector running ([\d.]+) s, stall \d+ ms", out)
    assert len(rebuilds) == 2, out
    collector = re.findall(r"while building: (\d+) full collector passes(?:, median \d+ ms, slowest \d+ ms)?; "
                           r"(\d+) objects tracked, (\d+) frozen", out)
    # frozen as the worker freezes its start-up objects: they are not in a full pass's count
    assert len(collector) == 2 and all(int(tracked) > 0 and int(frozen) > 0 for _, tracked, frozen in collector), out
    # At 1,200 indexed articles the index lookup must already be cheaper than scanning every entry.
    assert float(rows[-1][3]) > float(rows[-1][1])


def test_bench_ner_compares_our_stages_with_bare_spacy_on_the_same_texts(capsys, tmp_path):
    texts = [
        "Mayor Ines Calder of Port Ellis said on Monday that the harbour would reopen after the storm.",
        "The Grey Gull Lines ferry company will add two crossings to Dublin from March, its chief said.",
        "Officials in Lisbon and Madrid met to discuss the rail link, according to a spokesman.",
    ]
    corpus = tmp_path / "texts.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    out = run_command(capsys, "bench", "ner", "--jsonl", str(corpus), "--rounds", "1")
    assert f"{len(texts)} texts, {sum(len(t.split()) for t in texts)} words" in out
    assert re.search(r"^bare spaCy\s+\d+ words/s per core", out, re.MULTILINE), out
    assert re.search(r"^newsworker\s+\d+ words/s per core", out, re.MULTILINE), out
    share = re.search(r"newsworker / bare spaCy throughput: ([\d.]+)% per core", out)
    assert share and float(share.group(1)) > 0
    assert re.search(r"model load [\d.]+ s, gazetteer load [\d.]+ s, RSS with both loaded \d+ MB", out)
