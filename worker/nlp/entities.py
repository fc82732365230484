"""Canonical entities: the mentions of one real-world thing in one article grouped under one name.

"Bashar al-Assad", "Bashar Assad" and "Assad" are one PERSON; "Kirby" after "John Kirby" is that person even when
the model calls the lone surname an ORG. Grouping is per article and linear in the number of mentions (names are
looked up by their tokens, never compared pairwise with every earlier entity).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from worker.nlp.items import Entity, Mention
from worker.records import Span

_NAME_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# Particles that are spelled or dropped freely in transliterated names: al-Assad / Assad, bin Salman / Salman.
_PARTICLES = frozenset({"al", "el", "ad", "as", "bin", "ibn", "abu", "de", "da", "di", "del", "van", "von", "der", "la", "le"})


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
        # the fullest written form: most name tokens, then the most frequent, then the first
        counts: dict[str, int] = defaultdict(int)
        for m in self.mentions:
            counts[m.text] += 1
        return max(counts, key=lambda text: (len(name_tokens(text)), counts[text], -self._first(text)))

    def _first(self, text: str) -> int:
        return next(m.start for m in self.mentions if m.text == text)


def group_mentions(mentions: Sequence[Mention]) -> list[_Group]:
    """Group mentions (in text order) into entities; person surnames and short forms join their full name."""
    groups: list[_Group] = []
    # one written name is one thing within an article, whatever label the model gave each occurrence
    exact: dict[tuple[str, ...], _Group] = {}
    # person token -> the person groups whose name has it as its last token (surname) or any token
    by_surname: dict[str, list[_Group]] = defaultdict(list)
    bare: dict[str, list[_Group]] = defaultdict(list)  # one-word ORG groups: often a surname the model missed
    for mention in sorted(mentions, key=lambda m: m.start):
        tokens = name_tokens(mention.text)
        if not tokens:
            continue
        group = exact.get(tokens)
        if group is None and mention.label in ("PERSON", "ORG", "GPE", "NORP") and len(tokens) <= 3:
            # "Assad" / "Bashar Assad" after "Bashar al-Assad": a person whose name holds every token, ending
            # with the same surname. The model often mislabels a lone surname, so any label may join a person.
            candidates = by_surname.get(tokens[-1], ())
            for person in reversed(candidates):
                if set(tokens) <= set(person.tokens):
                    group = person
                    break
        if group is None and mention.label == "PERSON" and len(tokens) > 1:
            # "John Kirby" after a headline's bare "Kirby": the fuller name takes over the surname's group
            # (a bare surname the model called an ORG counts too; a place does not: "Washington" is not George)
            earlier = [*by_surname.get(tokens[-1], ()), *bare.get(tokens[-1], ())]
            for person in reversed(earlier):
                if set(person.tokens) < set(tokens):
                    group = person
                    break
        if group is None:
            group = _Group(mention.label, tokens=tokens)
            groups.append(group)
            if len(tokens) == 1 and mention.label == "ORG":
                bare[tokens[0]].append(group)
            if mention.label == "PERSON":
                by_surname[tokens[-1]].append(group)
        elif mention.label == "PERSON" and (len(tokens) > len(group.tokens) or group not in by_surname[tokens[-1]]):
            group.tokens = max(group.tokens, tokens, key=len)  # a fuller name seen later ("Kirby", then "John Kirby")
            by_surname[tokens[-1]].append(group)
        exact.setdefault(tokens, group)
        group.mentions.append(mention)
    return groups


def canonical_entities(mentions: Sequence[Mention], lead: Span | None, text_length: int) -> tuple[Entity, ...]:
    """Entities in order of first mention, each with its canonical name, type and salience."""
    groups = group_mentions(mentions)
    scores = [_salience(g.mentions, lead, text_length) for g in groups]
    top = max(scores, default=1.0) or 1.0
    entities = []
    for index, (group, score) in enumerate(zip(groups, scores)):
        type_ = _majority_type(group)
        relabelled = tuple(Mention(m.start, m.end, m.text, type_) for m in group.mentions)
        entities.append(Entity(f"e{index}", group.name(), type_, relabelled, round(score / top, 4)))  # type: ignore[arg-type]
    return tuple(entities)


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
