"""Scoring of ``newsworker eval stories`` and the bounded candidate lookup that ``bench link`` times."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from worker.bench.link import SyntheticCorpus
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
