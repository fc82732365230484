"""Detail numbers: what tells two events of one kind apart when they share participants and topic words."""

from __future__ import annotations

from worker.records import Article
from worker.stories.signature import detail_numbers, key_hash, key_labels, lead_keys


def article(text: str) -> Article:
    return Article(id="a", source_id="a", text=text)


def test_repeated_numbers_come_first_and_years_single_digits_and_url_parts_are_left_out() -> None:
    text = (
        "https://example.org/2011/884213/report\n"
        "The magnitude 5.8 tremor on 3 March 2011 left 240 homeless; by Friday 240 families had shelter."
    )
    assert detail_numbers(article(text)) == ["240", "5.8"]


def test_thousands_separators_do_not_make_two_values() -> None:
    assert detail_numbers(article("Some 1,500 fans came; 1500 tickets had been sold.")) == ["1500"]


def test_detail_numbers_are_named_keys_of_the_signature() -> None:
    labels = key_labels(article("Palmer Rovers won 31-17 before 42,000 spectators at Ketterly Park."))
    assert key_hash("n", "42000") in labels
    assert labels[key_hash("n", "42000")] == "n:42000"
    assert key_hash("n", "42000") & 1  # weighed like a name, not like a topic word


def test_an_organisation_is_one_key_with_or_without_its_company_form() -> None:
    def tagged(entity_id: str) -> Article:
        entity = {"id": entity_id, "name": entity_id, "type": "ORG", "salience": 1.0}
        return Article(id="a", source_id="a", text="Shares rose after the deal.", entities=(entity,))

    assert lead_keys(tagged("org:halvorsen-drilling-inc")) == lead_keys(tagged("org:halvorsen-drilling"))
    assert lead_keys(tagged("org:halvorsen-drilling-corp")) == [key_hash("e", "halvorsen-drilling")]
    # only a trailing company form goes, and never the whole name
    assert lead_keys(tagged("org:co-op-bank")) == [key_hash("e", "co-op-bank")]
    assert lead_keys(tagged("org:company")) == [key_hash("e", "company")]
