"""Web addresses in a text (a source line, often spaced out by a tokeniser) say where it was found, not what
happened: they must not become story keys, shingles or new facts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from worker.records import Article
from worker.stories import StoryLinker, signature_of
from worker.stories.signature import key_labels, prose

T0 = datetime(2024, 5, 2, 8, 0, tzinfo=timezone.utc)

FERRY = (
    "A passenger ferry ran aground off the island of Skarvøy on Thursday with 212 people on board. "
    "The coast guard in Tromsø said all 212 passengers were brought ashore by lifeboats and fishing boats. "
    "Captain Eirik Haugland told the harbour office that the steering failed in heavy fog."
)
FERRY_NEXT_DAY = (
    "Investigators boarded the ferry that ran aground off Skarvøy, a day after 212 passengers were rescued. "
    "The Norwegian Maritime Authority said divers found a 14-metre gash in the hull below the waterline. "
    "Operator Nordkyst Linjer cancelled all sailings on the route until the end of May and offered refunds."
)
SPACED_ADDRESS = "http : / / www . harbourgazette . example / news / 2024 / 05 / ferry - aground - 88123417 . html"


def article(article_id: str, text: str, hours: float = 0.0) -> Article:
    return Article(id=article_id, source_id=article_id, text=text, published_at=T0 + timedelta(hours=hours))


def test_prose_blanks_address_lines_and_inline_addresses_keeping_offsets() -> None:
    text = f"{SPACED_ADDRESS}\n{FERRY} Photos: https://pics.example/ferry?id=4 and www.gazette.example/live"
    blanked = prose(text)
    assert len(blanked) == len(text)
    assert blanked.split() == (FERRY + " Photos: and").split()


def test_an_address_line_gives_no_story_keys() -> None:
    labels = set(key_labels(article("ferry", f"{SPACED_ADDRESS}\n{FERRY}")).values())
    assert labels == set(key_labels(article("ferry", FERRY)).values())
    assert not {"t:http", "t:harbourgazette", "t:html", "n:88123417"} & labels


def test_an_address_line_leaves_the_text_fingerprint_unchanged() -> None:
    with_address = signature_of(article("ferry", f"{SPACED_ADDRESS}\n{FERRY}"))
    without = signature_of(article("ferry", FERRY))
    assert with_address.minhash == without.minhash
    assert with_address.facts == without.facts


def test_a_follow_up_does_not_list_its_address_line_as_a_new_fact() -> None:
    linker = StoryLinker()
    linker.link_one(article("ferry-1", FERRY))
    follow_up = linker.link_one(article("ferry-2", f"{SPACED_ADDRESS}\n{FERRY} {FERRY_NEXT_DAY}", 20)).followup
    assert follow_up.story_id == "ferry-1"
    assert follow_up.new_facts, "the investigation is new"
    assert all("http" not in fact.text for fact in follow_up.new_facts)
