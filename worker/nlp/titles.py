"""Titles and roles: "UN Syria envoy Staffan de Mistura", "John Kirby, the State Department spokesman,".

A name right after a title word is a person, whatever the model called it (it calls "Staffan de Mistura" an
ORG), and the title phrase is that person's role in the article.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from worker.nlp.items import Mention

TITLE_WORDS = frozenset(
    """
    president vice-president minister secretary spokesman spokeswoman spokesperson envoy ambassador chancellor
    premier governor senator sen. rep. representative congressman congresswoman councilman councilwoman
    councilmember assemblyman assemblywoman alderman mayor general gen. chief director
    chairman chairwoman chair leader king queen prince princess pope judge justice commander adviser advisor
    deputy coach manager captain ceo executive founder analyst economist professor prof. dr. mr. mrs. ms. sir lord
    lady sheikh ayatollah cardinal bishop archbishop rabbi imam colonel col. lieutenant lt. sergeant admiral
    marshal commissioner dictator peacemaker dissident negotiator mediator diplomat official officer attorney
    lawyer prosecutor counsel inspector sheriff chancellor-elect president-elect emir sultan monarch
    """.split()
) | frozenset(
    # roles in sport, the arts and the press, and kin, before a name only a person bears: "Wimbledon finalist
    # MaliVai Washington" (the model: an organisation), "his brother Miles Vinar", "receiver Vincent Jackson"
    """
    finalist semifinalist champion titleholder winner runner-up seed wildcard striker midfielder goalkeeper
    defender winger fullback pitcher batsman bowler quarterback receiver linebacker lineman cornerback skipper
    jockey golfer boxer cyclist sprinter swimmer skier rider driver teammate compatriot countryman rookie veteran
    player actor actress singer songwriter rapper comedian novelist author writer poet artist journalist reporter
    photographer columnist editor activist campaigner candidate nominee brother sister son daughter wife husband
    widow widower mother father uncle aunt nephew niece cousin grandson granddaughter girlfriend boyfriend fiancee
    """.split()
)
# words that may stand inside a title phrase without being capitalised ("minister of foreign affairs")
_LINKS = frozenset({"of", "for", "foreign", "defence", "defense", "interior", "finance", "state", "deputy",
                    "special", "prime", "senior", "top", "chief", "former", "acting", "general", "press"})
_WORD = re.compile(r"[\w.'’-]+")
# capitalised only because they open a sentence: never part of a title
_SENTENCE_OPENERS = frozenset(
    "earlier later meanwhile then now also but and yet however today yesterday separately instead still".split()
)
_APPOSITIVE = re.compile(r",\s+(?:the\s+|a\s+|an\s+)?([^,.;:\n“”\"]{3,80}?)\s*(?=[,.;]|$)")


def is_title(word: str) -> bool:
    return word.lower() in TITLE_WORDS


def title_before(text: str, start: int) -> tuple[int, str] | None:
    """The title phrase ending right before ``start`` on the same line, as (phrase start, phrase), if any.

    >>> text = "Russian Foreign Minister Sergei Lavrov"
    >>> title_before(text, text.index("Sergei"))
    (0, 'Russian Foreign Minister')
    """
    line_start = text.rfind("\n", 0, start) + 1
    words = list(_WORD.finditer(text, max(line_start, start - 120), start))
    if not words or text[words[-1].end():start].strip() or not is_title(words[-1].group(0)):
        return None
    first = len(words) - 1
    for i in range(len(words) - 2, -1, -1):
        word = words[i].group(0)
        gap = text[words[i].end():words[i + 1].start()]
        if gap.strip() or not (word[:1].isupper() or word.lower() in _LINKS or is_title(word)):
            break
        if word.lower() in ("the", "a", "an"):
            break
        first = i
    while first < len(words) - 1 and words[first].group(0).lower() in ("of", "for"):
        first += 1
    # a sentence's first word is capitalised whatever it is: "Earlier Russian President" starts at "Russian"
    sentence_start = text[line_start:words[first].start()].strip() == "" or text[:words[first].start()].rstrip()[-1:] in ".!?"
    if sentence_start and first < len(words) - 1 and not is_title(words[first].group(0)):
        if words[first].group(0).lower() in _SENTENCE_OPENERS:
            first += 1
    phrase_start = words[first].start()
    return phrase_start, text[phrase_start:words[-1].end()]


def title_after(text: str, end: int) -> str | None:
    """A title in apposition right after a name: "John Kirby, the State Department spokesman, said"."""
    match = _APPOSITIVE.match(text, end)
    if match is None:
        return None
    phrase = match.group(1).strip()
    words = phrase.split()
    if len(words) > 7 or not any(is_title(w) for w in words):
        return None
    return phrase


def people_after_titles(text: str, mentions: Sequence[Mention]) -> tuple[list[Mention], set[tuple[int, int]]]:
    """Mentions right after a title word become PERSON (and their label is decided)."""
    out, decided = [], set()
    for mention in mentions:
        if mention.label != "PERSON" and mention.label not in ("GPE",) and not any(c.isdigit() for c in mention.text):
            words = mention.text.split()
            if 1 <= len(words) <= 4 and all(w[:1].isupper() or w.lower() in ("de", "al", "bin", "van", "von", "da", "di", "la", "le", "el") or w.startswith("al-") for w in words):
                if title_before(text, mention.start) is not None:
                    out.append(Mention(mention.start, mention.end, mention.text, "PERSON"))
                    decided.add((mention.start, mention.end))
                    continue
        out.append(mention)
    return out, decided


def roles(text: str, mentions: Sequence[Mention]) -> dict[int, str]:
    """Role phrases of PERSON mentions, by mention start."""
    found = {}
    for mention in mentions:
        if mention.label != "PERSON":
            continue
        before = title_before(text, mention.start)
        role = before[1] if before else title_after(text, mention.end)
        if role:
            found[mention.start] = role
    return found
