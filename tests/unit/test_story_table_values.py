"""The story table's values: what the worker keeps in memory per indexed article beside the index, and what a
restarted worker recovers the index from."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from worker import codec
from worker.records import Article
from worker.stories import Entry, StoryIndex, link, signature_of
from worker.stories.signature import year_bits
from worker.stories.table import decode_entry, encode_entry, index_from_table

TEXT = ("PORT ELLIS — The harbour reopened on March 3, 2021 after the storm, Mayor Ines Calder said. "
        "\"We lost 14 boats,\" she said. Grey Gull Lines will add two crossings to Dublin from April.")


def entry(article_id: str = "a-1", published: datetime | None = datetime(2021, 3, 4, tzinfo=timezone.utc)) -> Entry:
    article = Article(id=article_id, source_id=article_id, text=TEXT, published_at=published)
    return link(StoryIndex(), article)[0].add  # type: ignore[return-value]


def test_every_field_survives_the_round_trip_with_and_without_a_publication_time():
    linked = entry()
    dated = Entry(dataclasses.replace(linked.signature, event_day=20210303), linked.story_id)
    assert dated.signature.year == 2021 and dated.signature.keys and dated.signature.published
    assert decode_entry(encode_entry(dated)) == dated
    undated = Entry(dataclasses.replace(signature_of(Article(id="é-2", source_id="x", text=TEXT)), published=None),
                    "story-ü")
    assert decode_entry(encode_entry(undated)) == undated
    assert decode_entry(encode_entry(undated)).signature.published is None


def test_a_json_value_written_by_an_earlier_version_still_recovers_the_index():
    old, new = entry("a-old"), entry("a-new")
    table = {"a-old": codec.dumps(old.to_dict()), "a-new": encode_entry(new)}
    recovered = index_from_table(table)
    assert recovered.entries["a-old"] == old and recovered.entries["a-new"] == new


def test_a_value_written_before_the_years_named_recovers_with_its_latest_year_as_the_only_one():
    from worker.stories.table import _HEADS, _with_story

    current = entry("a-1")
    assert current.signature.years == year_bits({2021})  # the text names March 3, 2021 and no other year
    s = current.signature
    head = _HEADS[1].pack(1, True, s.published, s.fact_limit, s.words, s.year, s.event_day)
    first_layout = head + encode_entry(current)[_HEADS[2].size:]  # the same fields after the head
    assert decode_entry(first_layout) == current
    many = Entry(dataclasses.replace(s, years=year_bits({2019, 2021})), "a-1")  # a set the first layout lacks
    decoded = decode_entry(head + encode_entry(many)[_HEADS[2].size:])
    assert decoded.signature.years == year_bits({2021}) != many.signature.years
    assert decode_entry(_with_story(first_layout, "s-2")) == Entry(s, "s-2")  # spliced after the shorter head
    # and a JSON value of an earlier version, which has no set either
    value = many.to_dict()
    del value["s"]["ys"]
    assert decode_entry(codec.dumps(value)).signature.years == year_bits({2021})


def test_a_binary_value_is_about_half_the_json_one():
    value = entry()
    assert len(encode_entry(value)) < 0.6 * len(codec.dumps(value.to_dict()))


def test_an_unknown_layout_version_is_refused_not_misread():
    value = bytearray(encode_entry(entry()))
    value[0] = 9
    try:
        decode_entry(bytes(value))
    except ValueError as error:
        assert "version 9" in str(error)
    else:
        raise AssertionError("a value of another layout was decoded")


def test_moving_a_stored_entry_to_another_story_splices_only_its_story_id():
    from worker.stories.table import _with_story

    stored = entry("a-1")
    moved = _with_story(encode_entry(stored), "story-longer-than-before")
    assert moved == encode_entry(Entry(stored.signature, "story-longer-than-before"))
    assert _with_story(encode_entry(stored), stored.story_id) is None  # nothing to write
    # a JSON value of an earlier version comes back in the binary layout
    assert _with_story(codec.dumps(stored.to_dict()), "s-2") == encode_entry(Entry(stored.signature, "s-2"))
    assert _with_story(codec.dumps(stored.to_dict()), stored.story_id) is None


def test_a_value_cut_short_anywhere_is_refused_not_misread():
    linked = entry()
    # with its last field (the leads) not empty: a cut inside it leaves a short slice, not a failing unpack
    value = encode_entry(Entry(dataclasses.replace(linked.signature, leads=bytes(range(8))), linked.story_id))
    for end in range(len(value)):
        try:
            decode_entry(value[:end])
        except Exception:
            continue
        raise AssertionError(f"a value cut at byte {end} of {len(value)} was decoded")


def test_the_rebuild_leaves_unreadable_values_out_and_names_them():
    good, newer, cut = entry("a-good"), bytearray(encode_entry(entry("a-newer"))), encode_entry(entry("a-cut"))
    newer[0] = 3  # a layout this version does not know, as a newer version would write it
    table = {"a-good": encode_entry(good), "a-newer": bytes(newer), "a-cut": cut[: len(cut) // 2],
             "a-junk": b"{not json"}
    unreadable: list[str] = []
    recovered = index_from_table(table, unreadable)
    assert sorted(unreadable) == ["a-cut", "a-junk", "a-newer"]
    assert list(recovered.entries) == ["a-good"] and recovered.entries["a-good"] == good
    assert table["a-newer"] == bytes(newer)  # left in the table for a version that reads it


def test_a_value_written_with_the_removed_sentence_vectors_recovers_without_them():
    from worker.stories.table import _HEADS, _with_story

    current = entry("a-1")
    value = encode_entry(current)
    vectors = bytes(range(144))  # the third layout's 8th byte string: three sentences of 48-byte signs
    third = bytes([3]) + value[1:] + len(vectors).to_bytes(4, "little") + vectors
    assert _HEADS[3].size == _HEADS[2].size
    assert decode_entry(third) == current
    assert decode_entry(_with_story(third, "s-2")) == Entry(current.signature, "s-2")
    try:
        decode_entry(third[:-1])
    except ValueError as error:
        assert "cut short" in str(error)
    else:
        raise AssertionError("a cut third-layout value was decoded")
