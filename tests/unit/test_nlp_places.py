"""Place resolution on articles we write, with a small gazetteer built here (and the real one loaded once):
country names mean the country, a qualifier or the story's state picks among namesakes, demonyms and places
inside organisation names are placed, and every location mention slices the text."""

from __future__ import annotations

import pytest

from worker.nlp import EntityStage, PlaceStage
from worker.nlp.gazetteer import build_gazetteer, load_gazetteer, name_key
from worker.nlp.items import Entity, Mention, Place
from worker.nlp.model import load_ner_model
from worker.nlp.places import resolve_places
from worker.nlp.repair import repair_mentions
from worker.records import Article, Dateline

NORVANIA = Place(1, "Norvania", "A", "PCLI", "NV", None, 50.0, 10.0, 9_000_000)
OSTLAND = Place(2, "Ostland", "A", "PCLI", "OS", None, 20.0, 80.0, 40_000_000)
KESTREL_NV = Place(10, "Kestrel", "P", "PPL", "NV", "01", 50.5, 10.5, 1_200_000)
KESTREL_OS = Place(11, "Kestrel", "P", "PPL", "OS", "07", 21.0, 81.0, 300_000)
MARLOW_STATE = Place(20, "Marlow", "A", "ADM1", "OS", "07", 22.0, 79.0, 0)
MARLOW_TOWN = Place(21, "Marlow", "P", "PPL", "NV", "02", 49.0, 9.0, 60_000)
BRINE = Place(30, "Brine", "P", "PPL", "OS", "07", 21.5, 80.5, 8_000)


def small_gazetteer():
    return build_gazetteer(
        countries=[NORVANIA, OSTLAND],
        aliases={"NV": ["Norvanian Republic"]},
        continents=[],
        states=[MARLOW_STATE],
        cities=[(KESTREL_NV, ["Kestrelburg"]), (KESTREL_OS, []), (MARLOW_TOWN, []), (BRINE, [])],
        demonyms={"Norvanian": NORVANIA},
    )


def mention(text: str, name: str, label: str, occurrence: int = 0) -> Mention:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(name, start + 1)
    return Mention(start, start + len(name), name, label)


def entity(index: int, *mentions: Mention, type_: str | None = None) -> Entity:
    return Entity(f"e{index}", mentions[0].text, type_ or mentions[0].label, mentions, 1.0)  # type: ignore[arg-type]


def article(text: str, entities, dateline: Dateline | None = None) -> Article:
    return Article(id="a", source_id="a", text=text, entities=tuple(entities), language="en", dateline=dateline)


def test_a_far_bigger_namesake_wins_over_the_story_country() -> None:
    far_smaller = Place(12, "Kestrel", "P", "PPL", "OS", "07", 21.0, 81.0, 20_000)
    gazetteer = build_gazetteer([NORVANIA, OSTLAND], {}, [], [], [(KESTREL_NV, []), (far_smaller, [])], {})
    text = "Ostland sent envoys to Kestrel."
    entities = [entity(0, mention(text, "Ostland", "GPE")), entity(1, mention(text, "Kestrel", "GPE"))]
    locations, _, _ = resolve_places(article(text, entities), gazetteer)
    assert next(loc for loc in locations if loc.name == "Kestrel").country_code == "NV"


def test_the_populous_namesake_wins_without_context() -> None:
    text = "Talks were held in Kestrel on Monday."
    locations, focus, _ = resolve_places(article(text, [entity(0, mention(text, "Kestrel", "GPE"))]), small_gazetteer())
    assert [loc.geonames_id for loc in locations] == [KESTREL_NV.geonames_id]
    assert focus[0].geonames_id == KESTREL_NV.geonames_id


def test_a_qualifier_after_the_name_picks_the_namesake_in_that_state() -> None:
    text = "The plant in Kestrel, Marlow closed."
    gazetteer = small_gazetteer()
    locations, _, _ = resolve_places(
        article(text, [entity(0, mention(text, "Kestrel", "GPE")), entity(1, mention(text, "Marlow", "GPE"))]), gazetteer
    )
    by_name = {loc.mentions[0].text: loc for loc in locations}
    assert by_name["Kestrel"].geonames_id == KESTREL_OS.geonames_id
    assert by_name["Marlow"].feature_code == "ADM1"


def test_the_country_of_the_story_picks_the_namesake() -> None:
    text = "Ostland said farmers near Kestrel lost their harvest. Ostland will help."
    entities = [
        entity(0, mention(text, "Ostland", "GPE"), mention(text, "Ostland", "GPE", 1)),
        entity(1, mention(text, "Kestrel", "GPE")),
    ]
    locations, focus, _ = resolve_places(article(text, entities), small_gazetteer())
    kestrel = next(loc for loc in locations if loc.name == "Kestrel")
    assert kestrel.geonames_id == KESTREL_OS.geonames_id
    assert focus[0].name == "Ostland"  # mentioned twice, once in the lead


def test_the_dateline_is_placed_and_counts_as_context() -> None:
    text = "Officials in Kestrel met today."
    dateline = Dateline(text="BRINE —", place="BRINE", start=0, end=7)
    located = article(text, [entity(0, mention(text, "Kestrel", "GPE"))], dateline=dateline)
    locations, _, dateline_location = resolve_places(located, small_gazetteer())
    assert dateline_location is not None and dateline_location.geonames_id == BRINE.geonames_id
    assert locations[0].geonames_id == KESTREL_OS.geonames_id


def test_demonyms_and_places_inside_organisation_names_are_placed() -> None:
    text = "The Norvanian envoy met the Central Bank of Ostland."
    entities = [entity(0, mention(text, "Norvanian", "NORP")), entity(1, mention(text, "Central Bank of Ostland", "ORG"))]
    locations, _, _ = resolve_places(article(text, entities), small_gazetteer())
    placed = {loc.name: [m.text for m in loc.mentions] for loc in locations}
    assert placed == {"Norvania": ["Norvanian"], "Ostland": ["Ostland"]}
    for loc in locations:
        for m in loc.mentions:
            assert text[m.start : m.end] == m.text


def test_a_mislabelled_or_missed_well_known_place_is_repaired() -> None:
    gazetteer = build_gazetteer([NORVANIA, OSTLAND], {}, [], [], [(KESTREL_NV, [])], {"Norvanian": NORVANIA})
    text = "Fighting in Kestrel spread as OSTLAND and Hanna Norvania watched."
    mentions = [mention(text, "Kestrel", "NORP"), mention(text, "Hanna Norvania", "PERSON")]
    repaired = repair_mentions(text, mentions, gazetteer).mentions
    labels = {m.text: m.label for m in repaired}
    assert labels == {"Kestrel": "GPE", "OSTLAND": "GPE", "Hanna Norvania": "PERSON"}


def test_name_keys_ignore_case_accents_and_periods() -> None:
    assert name_key("U.S.") == name_key("US") == "us"
    assert name_key("Zürich") == "zurich"


@pytest.fixture(scope="module")
def real():
    gazetteer = load_gazetteer()
    return EntityStage(load_ner_model(), gazetteer=gazetteer), PlaceStage(gazetteer)


def test_the_real_gazetteer_places_a_story(real) -> None:
    entities, places = real
    text = (
        "Russian and Syrian forces bombed eastern Aleppo again on Tuesday, U.S. officials said in Washington.\n"
        "Diplomats will meet in Geneva next week, and the Kuwait delegation will attend."
    )
    [tagged] = places(entities([Article(id="a", source_id="a", text=text, language="en")]))
    placed = {m.text: (loc.name, loc.country_code, loc.feature_code) for loc in tagged.locations for m in loc.mentions}
    assert placed["Aleppo"][1] == "SY"
    assert placed["Washington"][1] == "US" and placed["Washington"][2] == "PPLC"
    assert placed["Geneva"][1] == "CH"
    assert placed["Kuwait"][2] == "PCLI"
    assert placed["U.S."][2] == "PCLI" and placed["Russian"][1] == "RU"
    assert all(text[m.start : m.end] == m.text for loc in tagged.locations for m in loc.mentions)


def test_a_team_or_council_named_by_a_city_alone_is_placed_but_not_by_a_small_town() -> None:
    dunmore = Place(40, "Dunmore", "P", "PPL", "OS", "07", 23.0, 82.0, 300_000)
    gazetteer = build_gazetteer([OSTLAND], {}, [], [], [(dunmore, []), (BRINE, [])], {})
    text = "Dunmore beat Brine in the cup final."
    entities = [entity(0, mention(text, "Dunmore", "ORG")), entity(1, mention(text, "Brine", "ORG"))]
    locations, _, _ = resolve_places(article(text, entities), gazetteer)
    assert [(loc.geonames_id, loc.mentions[0].text) for loc in locations] == [(40, "Dunmore")]


def test_english_is_england_unless_it_names_the_language_and_state_abbreviations_are_states() -> None:
    gazetteer = load_gazetteer()
    text = "The Kent pub, in the English countryside, printed menus in English. Its owner moved from Slidell, La. to Fresno, Calif."
    entities = [
        entity(0, mention(text, "English", "NORP"), mention(text, "English", "NORP", 1)),
        entity(1, mention(text, "Slidell", "GPE")),
        entity(2, mention(text, "La.", "GPE")),
        entity(3, mention(text, "Fresno", "GPE")),
        entity(4, mention(text, "Calif.", "GPE")),
    ]
    locations, _, _ = resolve_places(article(text, entities), gazetteer)
    by_name = {loc.name: loc for loc in locations}
    assert [m.start for m in by_name["England"].mentions] == [text.index("English")]  # not the language
    assert by_name["Louisiana"].feature_code == "ADM1" and by_name["California"].feature_code == "ADM1"
    assert by_name["Slidell"].admin1 == "LA"
    assert "la" not in gazetteer.well_known  # "La Liga" is not a place for the recovery pass


def test_a_big_city_known_by_the_name_only_as_an_alternate_loses_to_a_namesake_in_the_story_country() -> None:
    city = Place(50, "Umbata", "P", "PPL", "NV", "01", 50.2, 10.2, 1_500_000)  # once called "Brine"
    gazetteer = build_gazetteer([NORVANIA, OSTLAND], {}, [], [], [(city, ["Brine"]), (BRINE, [])], {})
    text = "Ostland police in Brine, an Ostland town, made an arrest."
    entities = [entity(0, mention(text, "Ostland", "GPE"), mention(text, "Ostland", "GPE", 1)), entity(1, mention(text, "Brine", "GPE"))]
    locations, _, _ = resolve_places(article(text, entities), gazetteer)
    assert next(loc for loc in locations if loc.mentions[0].text == "Brine").geonames_id == BRINE.geonames_id
    # without a story country the big city still wins
    alone = "Talks were held in Brine."
    locations, _, _ = resolve_places(article(alone, [entity(0, mention(alone, "Brine", "GPE"))]), gazetteer)
    assert locations[0].geonames_id == 50


def test_a_state_abbreviation_inside_a_name_is_not_placed() -> None:
    gazetteer = load_gazetteer()
    text = "She stayed at the La Quinta Inn and later at Mass General Hospital."
    entities = [entity(0, mention(text, "La Quinta Inn", "ORG")), entity(1, mention(text, "Mass General Hospital", "ORG"))]
    locations, _, _ = resolve_places(article(text, entities), gazetteer)
    assert all(loc.feature_code != "ADM1" for loc in locations)


def test_a_state_the_story_names_picks_the_namesake_town_in_it() -> None:
    text = "Marlow voters met in Brine, where the Marlow race began."
    brine_elsewhere = Place(31, "Brine", "P", "PPL", "OS", "09", 25.0, 85.0, 40_000)
    gazetteer = build_gazetteer([NORVANIA, OSTLAND], {}, [], [MARLOW_STATE], [(brine_elsewhere, []), (BRINE, [])], {})
    entities = [entity(0, mention(text, "Marlow", "GPE"), mention(text, "Marlow", "GPE", 1)), entity(1, mention(text, "Brine", "GPE"))]
    locations, _, _ = resolve_places(article(text, entities), gazetteer)
    assert next(loc for loc in locations if loc.mentions[0].text == "Brine").geonames_id == BRINE.geonames_id  # in Marlow state


def test_common_short_forms_of_country_names_are_the_country() -> None:
    gazetteer = load_gazetteer()
    for name, code in (("T&T", "TT"), ("Bosnia", "BA"), ("U.A.E.", "AE")):
        assert [e.place.country_code for e in gazetteer.lookup(name) if e.place.feature_code == "PCLI"] == [code]
