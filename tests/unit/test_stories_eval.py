"""Scoring of ``newsworker eval stories`` and the bounded candidate lookup that ``bench link`` times."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from worker.bench.link import SyntheticCorpus
from worker.cli import main
from worker.addresses import address_line
from worker.evaluation.stories import Document, _kept_sizes, decision_errors, load_ecb, order_free_clusters, scores
from worker.records import Article
from worker.stories import (
    Entry, FollowUp, IndexChange, Link, LinkConfig, StoryIndex, StoryUpdate, link, signature_of,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def doc(doc_id: str, topic: str, suffix: str) -> Document:
    return Document(doc_id, topic, suffix, "text")


def test_pairwise_bcubed_and_hard_negative_figures_by_hand() -> None:
    documents = [doc("a", "1", "ecb"), doc("b", "1", "ecb"), doc("c", "1", "ecbplus"), doc("d", "3", "ecb")]
    # a, b, c predicted together: pairs ab (right), ac and bc (wrong, both hard negatives); d alone (right)
    figures = scores(documents, {"a": "s1", "b": "s1", "c": "s1", "d": "s2"})
    assert figures["pairwise_p"] == pytest.approx(1 / 3)
    assert figures["pairwise_r"] == pytest.approx(1.0)
    assert figures["hard_negative_false_link"] == pytest.approx(1.0)
    # BCubed precision: a, b, c each 1/3 or 2/3 correct in their cluster; d 1
    assert figures["bcubed_p"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1) / 4)
    assert figures["bcubed_r"] == pytest.approx(1.0)
    perfect = scores(documents, {"a": "x", "b": "x", "c": "y", "d": "z"})
    assert perfect["pairwise_f1"] == perfect["bcubed_f1"] == 1.0 and perfect["hard_negative_false_link"] == 0.0


def test_wrong_decisions_are_told_apart_by_what_the_linker_could_have_known() -> None:
    a1, a2, a3 = (doc(n, "1", "ecb") for n in ("a1", "a2", "a3"))
    b1, b2, b3 = (doc(n, "1", "ecbplus") for n in ("b1", "b2", "b3"))
    articles = {d.doc_id: Article(id=f"id-{d.doc_id}", source_id=d.doc_id, text="t") for d in (a1, a2, a3, b1, b2, b3)}

    def to(*targets: str, updates: tuple[StoryUpdate, ...] = ()) -> FollowUp:
        links = tuple(Link(f"id-{t}", "same_story", 0.5) for t in targets)
        return FollowUp("s", "same_story" if links else "new_story", links, updates=updates)

    decisions = [
        (a1, to()),  # the first of its event: right
        (b1, to("a1")),  # first of its event, nothing of its own yet: first_linked
        (a2, to()),  # a1 came before: missed
        (b2, to("b1")),  # right
        (a3, to("a2", "b2")),  # one wrong link among right ones: joined_other
        (b3, to("b2", "a1", updates=(StoryUpdate("id-a1", "s", "t"),))),  # merged_other
    ]
    kinds = decision_errors(decisions, articles)
    assert kinds == {"first_linked": 1, "missed": 1, "joined_other": 1, "merged_other": 1}


def test_what_the_worker_keeps_per_article_is_reported_from_the_real_encodings() -> None:
    from worker.stories import StoryLinker

    texts = {"p1": "Flood waters rose in Lorrin on Monday, the mayor said, and 300 homes were evacuated.",
             "p2": "Flood waters in Lorrin fell on Wednesday; the mayor said 300 homes were evacuated and 2 bridges "
                   "were closed. Engineers will inspect the dam on Friday, officials said."}
    linker, decisions, articles = StoryLinker(), [], {}
    for n, (doc_id, text) in enumerate(texts.items()):
        articles[doc_id] = Article(id=doc_id, source_id=doc_id, text=text,
                                   published_at=datetime(2024, 3, 4 + 2 * n, tzinfo=timezone.utc))
        decisions.append((doc(doc_id, "1", "ecb"), linker.link_one(articles[doc_id]).followup))
    line = _kept_sizes(decisions, articles)
    sizes = re.search(r"value (\d+) B \(\d+ B as JSON\), decision (\d+) B \((\d+) B of JSON", line)
    assert sizes, line
    value, kept, plain = (int(x) for x in sizes.groups())
    assert 0 < value < 1000 and 0 < kept < plain


def test_the_order_free_reference_clusters_the_reports_of_each_event_together() -> None:
    texts = {
        "flood-1": "Flood waters rose in Lorrin on Monday, mayor Edda Voss said, and 300 homes were evacuated "
                   "along the Carrow river.",
        "ferry-1": "A ferry ran aground off Maresby harbour on Tuesday; captain Ilse Brandt said all 42 "
                   "passengers were taken ashore by lifeboat.",
        "flood-2": "Mayor Edda Voss said 300 homes in Lorrin were evacuated on Monday as the Carrow river "
                   "flooded; engineers will inspect the dam.",
        "ferry-2": "Captain Ilse Brandt said the 42 passengers of the ferry that ran aground off Maresby "
                   "harbour were brought ashore by lifeboat.",
    }
    articles = [
        Article(id=doc_id, source_id=doc_id, text=text, published_at=datetime(2024, 3, 4, n, tzinfo=timezone.utc))
        for n, (doc_id, text) in enumerate(texts.items())
    ]
    clusters = order_free_clusters(articles, LinkConfig(), thresholds=(0.15, 0.99))
    at_015 = clusters[0.15]
    assert at_015["flood-1"] == at_015["flood-2"] and at_015["ferry-1"] == at_015["ferry-2"]
    assert at_015["flood-1"] != at_015["ferry-1"]
    assert len(set(clusters[0.99].values())) == 4  # no pair scores that high: every article on its own
    assert order_free_clusters(articles[:1], LinkConfig(), thresholds=(0.15,)) == {0.15: {"flood-1": 1}}


@pytest.mark.skipif(not (SHARED / "eval" / "ecbplus-odd").is_dir(), reason="shared folder absent")
def test_ecb_documents_load_with_gold_from_the_file_names() -> None:
    documents = load_ecb(SHARED / "eval" / "ecbplus-odd")
    assert len(documents) == 496
    assert {d.suffix for d in documents} == {"ecb", "ecbplus"}
    assert all(d.text.strip() for d in documents)
    assert sum("\n" in d.text for d in documents) > 400  # sentences joined by newlines
    assert all(d.url is None for d in documents)
    # as a crawler would send them: the spaced-out source address on top becomes the url, and leaves the text
    sent = {d.doc_id: d for d in load_ecb(SHARED / "eval" / "ecbplus-odd", address_line_as_url=True)}
    addressed = [d for d in documents if sent[d.doc_id].url is not None]
    assert len(addressed) > 200
    for doc in addressed:
        url = sent[doc.doc_id].url
        assert address_line(url) == url and " " not in url
        assert doc.text.startswith("http") and sent[doc.doc_id].text == doc.text.partition("\n")[2]
    assert all(sent[d.doc_id].text == d.text for d in documents if d not in addressed)


def test_candidate_lookup_stays_bounded_as_the_index_grows() -> None:
    corpus = SyntheticCorpus(seed=3)
    index = StoryIndex()
    looked_at = []
    for size in (2_000, 20_000):
        for signature in corpus.signatures(len(index), size - len(index)):
            index.apply(IndexChange(add=Entry(signature, signature.article_id)))
        query = corpus.query_article(story=7, published=signature.published or 0.0, serial=size)
        _, followup = link(index, query)
        assert followup.story_id == corpus.signatures(35, 1)[0].article_id  # story 7 = articles 35..39
        hits = index.candidates(signature_of(query), limit=10**9)
        looked_at.append(len(hits))
    # ten times the articles, and the number of candidates touched is bounded by keys × max_scan
    assert looked_at[1] <= 40 * index.max_scan + 8 * index.max_scan


# Two topics, each with two events of one kind (file names as in ECB+: <topic>_<n><suffix>.xml), sentences
# already tokenised as ECB+ gives them. Written for this test.
_ECB_DOCS = {
    "1_1ecb": ["The Harbour Star ferry ran aground off Kessock Point on Tuesday with 212 passengers aboard .",
               "Coastguard crews from Inverbeg took every passenger ashore by nightfall ."],
    "1_2ecb": ["All 212 passengers of the Harbour Star were safe after the ferry grounded off Kessock Point .",
               "The Inverbeg coastguard said the ferry would be towed off at high tide ."],
    "1_1ecbplus": ["The cargo ship Morven Trader ran aground near Dunlarrig in March 2011 .",
                   "Its crew of nine stayed aboard while salvage tugs from Port Alish stood by ."],
    "1_2ecbplus": ["Salvage tugs from Port Alish refloated the Morven Trader near Dunlarrig .",
                   "None of the nine crew was hurt , the owners of the Morven Trader said in March 2011 ."],
    "3_1ecb": ["Striker Tomas Verhoek signed a three-year contract with Aldham Rovers on Friday .",
               "Aldham Rovers paid 4 million pounds for Verhoek , their manager Hal Brennan said ."],
    "3_2ecb": ["Aldham Rovers completed the signing of Tomas Verhoek for 4 million pounds .",
               "Manager Hal Brennan said Verhoek would play on Saturday ."],
    "3_1ecbplus": ["Goalkeeper Anil Sethi joined Castlemoor City on a free transfer in July 2013 .",
                   "Castlemoor City manager Ruth Ogilvie called Sethi the best keeper in the league ."],
    "3_2ecbplus": ["Castlemoor City signed Anil Sethi on a free transfer , manager Ruth Ogilvie said .",
                   "Sethi , 31 , left his old club in July 2013 ."],
    "3_3ecbplus": [],  # no tokens at all: the pipeline rejects it (empty_body), as the worker would
}


def _write_ecb(folder: Path, by_topic: bool = True) -> None:
    for name, sentences in _ECB_DOCS.items():
        topic = folder / name.split("_")[0] if by_topic else folder
        topic.mkdir(parents=True, exist_ok=True)
        tokens = [
            f'<token t_id="{n}" sentence="{i}" number="{k}">{word}</token>'
            for n, (i, k, word) in enumerate(
                ((i, k, w) for i, sentence in enumerate(sentences) for k, w in enumerate(sentence.split())), 1
            )
        ]
        body = "\n".join(tokens)
        (topic / f"{name}.xml").write_text(f'<Document doc_name="{name}.xml">\n{body}\n</Document>\n')


def test_eval_stories_runs_end_to_end_and_scores_a_rejected_document_as_its_own_story(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_ecb(tmp_path)
    assert main(["eval", "stories", "--ecb", str(tmp_path), "--seeds", "1,2"]) == 0
    out = capsys.readouterr().out
    assert f"{len(_ECB_DOCS)} documents, 4 gold stories" in out
    assert out.count("1 documents rejected by the pipeline, each scored as a story of its own: empty_body 1") == 2
    linker = [line for line in out.splitlines() if line.startswith("story linker")]
    assert len(linker) == 2
    # the two reports of each event share a story and nothing else does; the rejected document is the one miss:
    # 4 of the 6 same-story pairs (its two pairs with the other reports of its event are lost)
    for line in linker:
        assert "pairwise P 1.000 R 0.667" in line and "hard-neg false-link 0.000" in line, line
        assert line.endswith("stories 5"), line
    assert "average t=0.15" in out
    # the worker's own path (its tables as dicts) publishes a decision per article and agrees with the linker
    worker = [line for line in out.splitlines() if line.startswith("  worker path")]
    assert len(worker) == 2
    for line in worker:
        assert f"{len(_ECB_DOCS) - 1} decisions published" in line, line
        assert line.endswith("0 with another story id than the index, 0 links to another story, 0 linked with no "
                             "link, 0 new_story where the article is not its story's first or the reverse, 0 scores "
                             "outside 0..1; 0 articles in another story than the linker's above"), line


def test_ecb_files_are_found_at_any_depth(tmp_path: Path) -> None:
    _write_ecb(tmp_path / "by-topic")
    _write_ecb(tmp_path / "flat", by_topic=False)
    _write_ecb(tmp_path / "deeper" / "ECB+", by_topic=True)
    expected = [(d.doc_id, d.gold, d.text) for d in load_ecb(tmp_path / "by-topic")]
    assert len(expected) == len(_ECB_DOCS)
    assert {gold for _, gold, _ in expected} == {"1ecb", "1ecbplus", "3ecb", "3ecbplus"}
    for other in ("flat", "deeper"):
        assert sorted((d.doc_id, d.gold, d.text) for d in load_ecb(tmp_path / other)) == sorted(expected)
