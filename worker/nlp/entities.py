"""Canonical entities: the mentions of one real-world thing in one article grouped under one name.

"Bashar al-Assad", "Bashar Assad" and "Assad" are one PERSON; "Kirby" after "John Kirby" is that person even when
the model calls the lone surname an ORG. Grouping is per article and linear in the number of mentions (names are
looked up by their tokens, never compared pairwise with every earlier entity).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from worker.nlp.gazetteer import name_key
from worker.nlp.items import Entity, Mention
from worker.records import Span

_NAME_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# Particles that are spelled or dropped freely in transliterated names: al-Assad / Assad, bin Salman / Salman.
_PARTICLES = frozenset({"al", "el", "ad", "as", "bin", "ibn", "abu", "de", "da", "di", "del", "van", "von", "der", "la", "le"})


@lru_cache(maxsize=65536)  # called for every pair of mentions compared; names repeat within and across articles
def name_tokens(name: str) -> tuple[str, ...]:
    """Lower-cased tokens of a name without transliteration particles.

    >>> name_tokens("Bashar al-Assad"), name_tokens("Staffan de Mistura")
    (('bashar', 'assad'), ('staffan', 'mistura'))
    """
    tokens = tuple(t.lower() for t in _NAME_TOKEN.findall(name.replace("’", "'")))
    kept = tuple(t for t in tokens if t not in _PARTICLES)
    return kept or tokens


@dataclass
class _Group:
    type: str
    mentions: list[Mention] = field(default_factory=list)
    tokens: tuple[str, ...] = ()

    def name(self) -> str:
        # the fullest written form: most name tokens, then not shouted (a dateline's "NORTHFIELD" is
        # "Northfield" once the text writes it so), then the most frequent, then the first
        counts: dict[str, int] = defaultdict(int)
        for m in self.mentions:
            counts[m.text] += 1
        return max(counts, key=lambda text: (len(name_tokens(text)), not text.isupper(), counts[text],
                                             -self._first(text)))

    def _first(self, text: str) -> int:
        return next(m.start for m in self.mentions if m.text == text)


# Salience an entity gains when the headline names it: as much as two more mentions at the top of the lead
HEADLINE_WEIGHT = 4.0
_CANDIDATES = 8  # persons sharing a name token that a short form is compared with: keeps pathological text linear


def group_mentions(mentions: Sequence[Mention]) -> list[_Group]:
    """Group mentions into entities: one written name is one thing, short forms join the full personal name.

    Full personal names (two tokens or more, labelled PERSON) are grouped first, fullest first, so "Bashar
    Assad" joins "Bashar al-Assad" wherever each appears. Then every other mention joins the group with the
    same name, or, when all its tokens belong to a full personal name in the article ("Assad", "Lebed" in a
    headline before "Alexander Lebed", "Wang" after "Wang Donghai"), that person: the model often gives a bare
    surname another label. Otherwise it starts its own group.
    """
    ordered = sorted(mentions, key=lambda m: m.start)
    tokens_of = {id(m): name_tokens(m.text) for m in ordered}
    by_name: dict[tuple[str, ...], _Group] = {}
    by_token: dict[str, list[_Group]] = defaultdict(list)  # name token -> full-name person groups holding it
    groups: list[_Group] = []

    full_names = [m for m in ordered if m.label == "PERSON" and len(tokens_of[id(m)]) > 1]
    for mention in sorted(full_names, key=lambda m: -len(tokens_of[id(m)])):
        tokens = tokens_of[id(mention)]
        group = by_name.get(tokens) or next(
            (p for p in by_token[tokens[-1]][-_CANDIDATES:] if set(tokens) <= set(p.tokens)), None
        )
        if group is None:
            group = _Group("PERSON", tokens=tokens)
            groups.append(group)
            for token in tokens:
                by_token[token].append(group)
        by_name.setdefault(tokens, group)

    # a name the model calls an ORG again and again, never a PERSON, and uses before any person of that name is
    # a company or body named after someone ("Pirelli" before "Leopoldo Pirelli"): it stays apart from the person
    labels: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    for mention in ordered:
        labels[tokens_of[id(mention)]][mention.label] += 1
    first_seen: dict[int, int] = {}
    for mention in ordered:
        tokens = tokens_of[id(mention)]
        if not tokens:
            continue
        group = by_name.get(tokens)
        named_after = labels[tokens]["ORG"] >= 2 and labels[tokens]["PERSON"] == 0 and not any(
            first_seen.get(id(p), mention.start) < mention.start for p in by_token.get(tokens[-1], ())
        )
        if group is None and len(tokens) <= 2 and not named_after:
            people = [p for p in by_token.get(tokens[-1], ())[-_CANDIDATES:] if set(tokens) <= set(p.tokens)]
            if people:
                # the nearest person named before this mention, else the first one named after it
                before = [p for p in people if first_seen.get(id(p), len(mention.text) + mention.start) < mention.start]
                group = max(before, key=lambda p: first_seen[id(p)]) if before else people[0]
        if group is None:
            group = _Group(mention.label, tokens=tokens)
            groups.append(group)
            by_name[tokens] = group
        first_seen.setdefault(id(group), mention.start)
        group.mentions.append(mention)
    groups = [g for g in groups if g.mentions]
    groups.sort(key=lambda g: g.mentions[0].start)
    return groups


def entity_key(type_: str, name: str) -> str:
    """An entity id that is the same in every article naming the thing the same way.

    >>> entity_key("PERSON", "Bashar al-Assad")
    'person:bashar-assad'
    """
    return f"{type_.lower()}:{'-'.join(name_tokens(name))}"


def canonical_entities(
    mentions: Sequence[Mention],
    lead: Span | None,
    text_length: int,
    decided: frozenset[tuple[int, int]] = frozenset(),
    roles: Mapping[int, str] | None = None,
    headline: str | None = None,
) -> tuple[Entity, ...]:
    """Entities in order of first mention, each with its canonical name, type and salience.

    ``decided`` holds the spans whose label a repair rule set (a dateline, a team in a results table): their
    label is the entity's type, whatever the model said of the other mentions. ``roles`` maps a mention's start
    to the title the text gives it; an entity's role is the first one given. An entity the ``headline`` names
    is what the story is about: it counts as much as two more mentions in the lead.
    """
    groups = group_mentions(mentions)
    in_headline = f" {name_key(headline)} " if headline else ""
    scores = [
        _salience(g.mentions, lead, text_length)
        + HEADLINE_WEIGHT * any(f" {form} " in in_headline for form in _forms(g))
        for g in groups
    ]
    top = max(scores, default=1.0) or 1.0
    entities = []
    taken: set[str] = set()
    for group, score in zip(groups, scores):
        ruled = [m.label for m in group.mentions if (m.start, m.end) in decided]
        type_ = max(set(ruled), key=ruled.count) if ruled else _majority_type(group)
        relabelled = tuple(Mention(m.start, m.end, m.text, type_) for m in group.mentions)
        role = next((roles[m.start] for m in group.mentions if m.start in roles), None) if roles else None
        name = group.name()
        entity_id = entity_key(type_, name)
        if entity_id in taken:  # two things with one name and type in one article: keep ids unique
            entity_id = f"{entity_id}#{sum(1 for t in taken if t.startswith(entity_id))}"
        taken.add(entity_id)
        entities.append(Entity(entity_id, name, type_, relabelled, round(score / top, 4), role))  # type: ignore[arg-type]
    return tuple(entities)


def _forms(group: _Group) -> set[str]:
    """How a headline may name the entity: as any of its mentions, or a person by the surname alone."""
    forms = {name_key(m.text) for m in group.mentions}
    if group.type == "PERSON" and (tokens := name_tokens(group.name())):
        forms.add(name_key(tokens[-1]))
    return forms - {""}


def _majority_type(group: _Group) -> str:
    if group.type == "PERSON" or any(m.label == "PERSON" and len(name_tokens(m.text)) > 1 for m in group.mentions):
        return "PERSON"  # a full personal name outweighs what the model called the bare surname
    counts: dict[str, int] = defaultdict(int)
    for m in group.mentions:
        counts[m.label] += 1
    return max(counts, key=lambda label: (counts[label], label == group.type))


def _salience(mentions: Sequence[Mention], lead: Span | None, text_length: int) -> float:
    """Mentions in the lead count double, and earlier mentions count more than late ones."""
    score = 0.0
    for m in mentions:
        weight = 2.0 if lead is not None and m.start < lead.end else 1.0
        score += weight * (1.0 - 0.5 * m.start / max(text_length, 1))
    return score
