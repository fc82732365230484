"""Repairs to the model's mentions that a gazetteer makes possible, before mentions are grouped.

The small model misreads well-known places: it calls Aleppo NORP or LANGUAGE, Sri Lanka a PERSON, Belarus an
ORG, or misses a country written in capitals. A name that the gazetteer knows as a country, continent, US
state or city of a million people is relabelled a place, and an untagged capitalised occurrence of such a name
is added as one, unless it is part of a personal name the article uses ("Jordan" after "Michael Jordan").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from worker.nlp.gazetteer import Gazetteer, name_key
from worker.nlp.items import Mention
from worker.nlp.ner import KEPT_LABELS

# runs of one to four capitalised words (all-caps words included), e.g. "New Zealand", "SRI LANKA"
CAPITALISED_RUN = re.compile(r"(?<![\w&.'’-])[A-Z][\w'’.-]*(?:\s[A-Z][\w'’.-]*){0,3}(?![\w&'’-])")
_BROAD = frozenset({"PCLI", "CONT"})


def repair_mentions(text: str, mentions: Sequence[Mention], gazetteer: Gazetteer | None) -> list[Mention]:
    """Relabel and recover well-known places; drop the labels we do not keep. Mentions stay in text order."""
    if gazetteer is None:
        return [m for m in mentions if m.label in KEPT_LABELS]
    person_tokens = {
        token for m in mentions if m.label == "PERSON" for token in name_key(m.text).split()[:-1] + name_key(m.text).split()[1:]
        if len(name_key(m.text).split()) > 1
    }
    repaired = []
    for mention in mentions:
        label = _place_label(mention, gazetteer, person_tokens)
        if label is not None:
            repaired.append(Mention(mention.start, mention.end, mention.text, label))
        elif mention.label in KEPT_LABELS:
            repaired.append(mention)
    repaired.extend(_recovered(text, mentions, gazetteer, person_tokens))
    repaired.sort(key=lambda m: m.start)
    return repaired


def _place_label(mention: Mention, gazetteer: Gazetteer, person_tokens: set[str]) -> str | None:
    """The place label a mislabelled well-known place should have, or None to keep the model's label."""
    if mention.label in ("GPE", "LOC", "FAC"):
        return None
    key = name_key(mention.text)
    if key not in gazetteer.well_known or gazetteer.demonyms.get(key) is not None:
        return None
    kinds = {entry.place.feature_code for entry in gazetteer.by_name.get(key, ())}
    if mention.label == "ORG" and not kinds & _BROAD:
        return None  # a city or state name as an ORG is usually a team or a government ("Chicago beat Boston")
    if mention.label == "PERSON" and key in person_tokens:
        return None
    return "LOC" if "CONT" in kinds else "GPE"


def _recovered(text: str, mentions: Sequence[Mention], gazetteer: Gazetteer, person_tokens: set[str]) -> list[Mention]:
    covered = sorted((m.start, m.end) for m in mentions)
    found = []
    index = 0
    for match in CAPITALISED_RUN.finditer(text):
        start, end = match.span()
        surface = match.group(0).rstrip(".")
        end = start + len(surface)
        while index < len(covered) and covered[index][1] <= start:
            index += 1
        if index < len(covered) and covered[index][0] < end:
            continue  # overlaps a mention the model made
        key = name_key(surface)
        if key in gazetteer.well_known and key not in person_tokens and gazetteer.demonyms.get(key) is None:
            kinds = {entry.place.feature_code for entry in gazetteer.by_name.get(key, ())}
            found.append(Mention(start, end, surface, "LOC" if "CONT" in kinds else "GPE"))
    return found
