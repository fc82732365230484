"""Places: each place entity (and demonym) resolved to a gazetteer entry, with context-aware disambiguation.

A candidate's score adds up what news usage suggests: the kind of place (a country or US state before a town of
the same name), its population, the countries the article already names unambiguously, an explicit
qualifier written after the name ("Paris, Texas", "Washington state"), the dateline's country, and whether
the name is the place's own name or only an alternate. Pure functions of the article and the gazetteer.
"""

from __future__ import annotations

import dataclasses
import math
import re

from collections.abc import Sequence

from worker.nlp.gazetteer import Entry, Gazetteer, name_key
from worker.nlp.items import PLACE_TYPES, Entity, Location, Mention, Place
from worker.nlp.repair import CAPITALISED_RUN
from worker.records import Article

# A country name means the country ("Mexico", "Kuwait") unless the text qualifies it; a state's name means the
# state more often than a town of that name; a capital is the best-known town of its name.
_KIND_PRIOR = {"PCLI": 6.0, "CONT": 6.0, "ADM1": 3.0, "PPLC": 1.5}
_QUALIFIER = re.compile(r"\s*,\s*((?:[A-Z][\w.'-]*\s?){1,3})")
_STATE_WORD = re.compile(r"\s+(?:state|State)\b")
# a name written as the qualifier of a town ("Slidell, La.", "Helena, Mont.") is its state
_AFTER_TOWN = re.compile(r"\b[A-Z][\w'-]+(?: [A-Z][\w'-]+){0,2}, $")
FOCUS_LIMIT = 5


def resolve_places(article: Article, gazetteer: Gazetteer) -> tuple[tuple[Location, ...], tuple[Location, ...], Location | None]:
    """(locations in order of first mention, focus locations ranked, dateline location) for one article."""
    text = article.text
    candidates: list[tuple[Entity, tuple[Entry, ...]]] = []
    demonym_places: list[tuple[Entity, Place]] = []
    for entity in article.entities:
        if entity.type in PLACE_TYPES:
            entries = gazetteer.lookup(entity.name) or _lookup_any(entity.mentions, gazetteer)
            if entity.type != "GPE":
                # LOC and FAC names (oceans, regions, buildings, airports) that match a town are coincidences
                # ("White House", Tennessee; "Atlantic", Iowa): only well-known places and regions count
                entries = tuple(e for e in entries if e.place.feature_code in _EMBEDDED_KINDS
                                or name_key(entity.name) in gazetteer.well_known)
            if entries:
                candidates.append((entity, entries))
        elif entity.type == "NORP":
            place = gazetteer.demonym(entity.name)
            mentions = tuple(m for m in entity.mentions if not _names_a_language(text, m))
            if place is not None and mentions:
                demonym_places.append((dataclasses.replace(entity, mentions=mentions), place))

    embedded = _embedded_places(article.entities, gazetteer)
    context = _context_countries(candidates, demonym_places)
    dateline_country = None
    dateline_place = None
    if article.dateline is not None:
        entries = gazetteer.lookup(article.dateline.place)
        if entries:
            dateline_place = _best(entries, context, None, None).place
            dateline_country = dateline_place.country_code
            context.add(dateline_country or "")

    hints = [
        (
            _qualifier(text, entity.mentions, gazetteer),
            any(_STATE_WORD.match(text, m.end) or _AFTER_TOWN.search(text, max(0, m.start - 40), m.start) for m in entity.mentions),
        )
        for entity, _ in candidates
    ]
    # first pass: the states (admin1 areas) the article's places lie in, from its unambiguous towns and cities
    # and the states it names ("Iowa's third district" puts Red Oak in Iowa)
    states: set[tuple[str | None, str | None]] = set()
    for (entity, entries), (qualifier, prefers_state) in zip(candidates, hints):
        place = _best(entries, context, qualifier, dateline_country, prefers_state).place
        if (place.feature_class == "P" and (len(entries) == 1 or qualifier is not None)) or place.feature_code == "ADM1":
            states.add((place.country_code, place.admin1))
    resolved: dict[int, tuple[Place, list[Mention], str]] = {}
    for (entity, entries), (qualifier, prefers_state) in zip(candidates, hints):
        place = _best(entries, context, qualifier, dateline_country, prefers_state, states).place
        _add(resolved, place, entity)
    for entity, place in demonym_places:
        _add(resolved, place, entity)
    for mention, entries in embedded:
        place = entries[0].place if len(entries) == 1 else _best(entries, context, None, dateline_country).place
        _add_mention(resolved, place, mention)

    locations = []
    for place, mentions, entity_id in resolved.values():
        mentions.sort(key=lambda m: m.start)
        locations.append(_location(place, tuple(mentions), _focus(mentions, article, place, dateline_place), entity_id))
    locations.sort(key=lambda loc: loc.mentions[0].start)
    focus = tuple(sorted(locations, key=lambda loc: -loc.score)[:FOCUS_LIMIT])
    dateline_location = None
    if dateline_place is not None:
        dateline_location = next((loc for loc in locations if loc.geonames_id == dateline_place.geonames_id), None)
        dateline_location = dateline_location or _location(dateline_place, (), 0.0, None)
    return tuple(locations), focus, dateline_location


# "in English", "French-speaking", "Chinese translation": the adjective names a language, not a place
_LANGUAGE_BEFORE = re.compile(r"\b(?:in|into|from|speak|speaks|spoke|speaking|learn|learning|fluent|native) $")
_LANGUAGE_AFTER = re.compile(
    r"[ -](?:language|languages|speaking|speaker|speakers|translation|translations|subtitles?|version|"
    r"words?|lessons?|class|classes|teachers?|dictionary|grammar|literature|proficiency|test)\b"
)


def _names_a_language(text: str, mention: Mention) -> bool:
    return bool(_LANGUAGE_AFTER.match(text, mention.end) or _LANGUAGE_BEFORE.search(text, max(0, mention.start - 10), mention.start))


_EMBEDDED_KINDS = frozenset({"PCLI", "CONT", "ADM1"})


def _embedded_places(entities: Sequence[Entity], gazetteer: Gazetteer) -> list[tuple[Mention, tuple[Entry, ...]]]:
    """Places named inside organisation and facility names: "Air Zimbabwe", "Central Bank of Malta", "U.S. Navy".

    News readers (and geoparsing gold standards) take these as references to the place. A whole ORG mention that
    is a known place counts too ("Harare said", "Liverpool won"); inside a longer name only a country, continent,
    US state or demonym does, since city names start many names that are not about the city ("New York Times").
    """
    found = []
    for entity in entities:
        if entity.type not in ("ORG", "FAC"):
            continue
        for mention in entity.mentions:
            whole = gazetteer.lookup(mention.text)
            if whole and (name_key(mention.text) in gazetteer.well_known or _is_city(whole)):
                found.append((Mention(mention.start, mention.end, mention.text, "GPE"), whole))
                continue
            for run in CAPITALISED_RUN.finditer(mention.text):
                words = list(re.finditer(r"\S+", run.group(0)))
                for i in range(len(words)):
                    for j in range(min(len(words), i + 3), i, -1):
                        start, end = run.start() + words[i].start(), run.start() + words[j - 1].end()
                        surface = mention.text[start:end]
                        demonym = gazetteer.demonym(surface)
                        famous = name_key(surface) in gazetteer.well_known
                        # a state inside a name only under its own name: "La Quinta", "Mass General" are not states
                        entries = (Entry(demonym, True),) if demonym else tuple(
                            e for e in gazetteer.lookup(surface)
                            if famous or e.place.feature_code in ("PCLI", "CONT")
                            or (e.place.feature_code in _EMBEDDED_KINDS and e.primary)
                        )
                        if entries and (end - start) < len(mention.text):
                            offset = mention.start
                            found.append((Mention(offset + start, offset + end, surface, "GPE"), entries))
                            break
    return found


_CITY_POPULATION = 100_000


def _is_city(entries: Sequence[Entry]) -> bool:
    """A city under its own name: a team or council named by its city alone ("Louisville won") refers to it."""
    return any(e.primary and e.place.feature_class == "P" and e.place.population >= _CITY_POPULATION for e in entries)


def _add_mention(resolved: dict[int, tuple[Place, list[Mention], str]], place: Place, mention: Mention) -> None:
    if place.geonames_id in resolved:
        resolved[place.geonames_id][1].append(mention)
    else:
        resolved[place.geonames_id] = (place, [mention], None)  # type: ignore[assignment]


def _lookup_any(mentions: Sequence[Mention], gazetteer: Gazetteer) -> tuple[Entry, ...]:
    for mention in mentions:
        entries = gazetteer.lookup(mention.text)
        if entries:
            return entries
    return ()


def _add(resolved: dict[int, tuple[Place, list[Mention], str]], place: Place, entity: Entity) -> None:
    if place.geonames_id in resolved:
        resolved[place.geonames_id][1].extend(entity.mentions)
    else:
        resolved[place.geonames_id] = (place, list(entity.mentions), entity.id)


def _context_countries(candidates, demonym_places) -> set[str]:
    """Countries the article names without ambiguity: countries themselves, and places with one candidate."""
    countries: set[str] = set()
    for _, entries in candidates:
        top = max(entries, key=lambda e: _prior(e))
        if top.place.feature_code == "PCLI" or len(entries) == 1:
            countries.add(top.place.country_code or "")
    for _, place in demonym_places:
        if place.feature_code in ("PCLI", "ADM1"):  # "Russian", and "English" (England) for the UK
            countries.add(place.country_code or "")
    countries.discard("")
    return countries


def _prior(entry: Entry) -> float:
    place = entry.place
    return _KIND_PRIOR.get(place.feature_code, 0.0) + math.log10(place.population + 1) / 2 + (0.5 if entry.primary else 0.0)


def _best(entries, context, qualifier, dateline_country, prefers_state: bool = False, states=frozenset()) -> Entry:
    towns = sorted((e.place.population for e in entries if e.place.feature_class == "P"), reverse=True)
    # a city known by the name only as an alternate (Harare, once "Salisbury") does not outweigh a town with
    # that very name in a country the story names
    named_here = any(e.primary and e.place.feature_class == "P" and e.place.country_code in context for e in entries)
    # a city far bigger than every namesake is the one meant even in a story that names another country
    # ("Geneva" in a story about U.S. diplomacy is Geneva, Switzerland)
    dominant = towns[0] if towns and towns[0] >= 100_000 and (len(towns) == 1 or towns[0] >= 5 * towns[1]) else None

    def score(entry: Entry) -> float:
        place = entry.place
        value = _prior(entry)
        if dominant is not None and place.population == dominant and place.feature_class == "P" and (entry.primary or not named_here):
            value += 3.0
        if named_here and not entry.primary:
            value -= 2.0
        if place.feature_code not in ("PCLI", "CONT") and place.country_code in context:
            value += 1.5
        if dateline_country and place.country_code == dateline_country and place.feature_code != "PCLI":
            value += 1.0
        if qualifier is not None and qualifier.place.geonames_id != place.geonames_id and _within(place, qualifier.place):
            value += 4.0
        if prefers_state and place.feature_code == "ADM1":
            value += 4.0
        if place.feature_code != "PCLI" and (place.country_code, place.admin1) in states:
            value += 2.0  # the state of other places in the story, or a town in it
        return value

    return max(entries, key=score)


def _within(place: Place, container: Place) -> bool:
    if container.feature_code == "PCLI":
        return place.country_code == container.country_code
    if container.feature_code == "ADM1":
        return place.country_code == container.country_code and place.admin1 == container.admin1
    return False


def _qualifier(text: str, mentions: Sequence[Mention], gazetteer: Gazetteer) -> Entry | None:
    """The state or country written right after a mention: "Springfield, Illinois", "Paris, France"."""
    for mention in mentions:
        match = _QUALIFIER.match(text, mention.end)
        if match is None:
            continue
        for entry in gazetteer.lookup(match.group(1).strip()):
            if entry.place.feature_code in ("PCLI", "ADM1"):
                return entry
    return None


def _focus(mentions: Sequence[Mention], article: Article, place: Place, dateline_place: Place | None) -> float:
    lead_end = article.paragraphs[0].end if article.paragraphs else min(len(article.text), 400)
    score = sum(2.0 if m.start < lead_end else 1.0 for m in mentions)
    if article.headline and any(name_key(m.text) and name_key(m.text) in name_key(article.headline) for m in mentions[:1]):
        score += 2.0
    if dateline_place is not None and dateline_place.geonames_id == place.geonames_id:
        score += 3.0
    return round(score, 3)


def _location(place: Place, mentions: tuple[Mention, ...], score: float, entity_id: str | None) -> Location:
    return Location(
        geonames_id=place.geonames_id, name=place.name, feature_class=place.feature_class,
        feature_code=place.feature_code, country_code=place.country_code, admin1=place.admin1, lat=place.lat,
        lon=place.lon, population=place.population, mentions=mentions, score=score, entity_id=entity_id,
    )


