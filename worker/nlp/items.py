"""Item types the entity, place and quote stages put on an ``Article`` (described in schemas/article.schema.json).

Offsets are half-open ``[start, end)`` character ranges into ``Article.text``; ``text`` is always
``article.text[start:end]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# The spaCy OntoNotes labels we keep. PERSON, ORG, NORP (nationalities, religious and political groups) and the
# three place labels; other labels (DATE, MONEY, ...) are either handled by normalization or not wanted.
EntityType = Literal["PERSON", "ORG", "NORP", "GPE", "LOC", "FAC"]
PLACE_TYPES: frozenset[str] = frozenset({"GPE", "LOC", "FAC"})


@dataclass(frozen=True, slots=True)
class Mention:
    """One mention of a named thing in the text."""

    start: int
    end: int
    text: str
    label: str


@dataclass(frozen=True, slots=True)
class Entity:
    """One real-world thing in one article: all its mentions grouped under a canonical name.

    ``id`` is the type and the canonical name's tokens (``person:bashar-assad``), so the same name gets the same
    id in every article (a ``#n`` suffix keeps two namesakes in one article apart); ``salience`` is in
    ``(0, 1]``, the most salient entity of the article scoring 1; ``role`` is a title the text gives the
    entity ("State Department spokesman"), if any.
    """

    id: str
    name: str
    type: EntityType
    mentions: tuple[Mention, ...]
    salience: float
    role: str | None = None
    count: int = 0  # len(mentions), written out for consumers

    def __post_init__(self) -> None:
        object.__setattr__(self, "count", len(self.mentions))


@dataclass(frozen=True, slots=True)
class Place:
    """A gazetteer entry (GeoNames)."""

    geonames_id: int
    name: str
    feature_class: str  # "A" country/state/region, "P" populated place, "L" area (continent)...
    feature_code: str  # PCLI, ADM1, PPLC, PPLA, CONT...
    country_code: str | None
    admin1: str | None
    lat: float
    lon: float
    population: int


@dataclass(frozen=True, slots=True)
class Location:
    """A place the article mentions, resolved to a gazetteer entry, with the mentions that name it."""

    geonames_id: int
    name: str
    feature_class: str
    feature_code: str
    country_code: str | None
    admin1: str | None
    lat: float
    lon: float
    population: int
    mentions: tuple[Mention, ...]
    score: float  # focus score: how central the place is to the story (ranked in focus_locations)
    entity_id: str | None = None


@dataclass(frozen=True, slots=True)
class Quote:
    """A direct quotation (the text between the quotation marks) and who said it, where the text says."""

    text: str
    start: int
    end: int
    speaker: str | None  # the canonical name of the speaker entity
    speaker_id: str | None  # the id of that entity in Article.entities
    cue: Literal["after", "before", "previous"] | None = None
