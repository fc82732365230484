"""Last repairs of an article's mentions that need what normalization found: its dateline, its own wording.

* The dateline's place ("NORTHFIELD —", "LYON, France (Demo Press) —") is a place, whatever the model called it,
  and is tagged when the model missed it: normalization already knows where the dateline is. (Wire datelines
  on a line of their own with a date, as in CoNLL-2003 copy, are not a normalized dateline; repair.py's
  ``_dateline_places`` reads those from the text.)
* A job written before a name is not part of the name: "Librarian Samir Haddad" is Samir Haddad (the model
  takes a capitalised job at the start of a sentence into the name), and "Harbour Councilman Tomas Lindqvist"
  is Tomas Lindqvist. When the model cuts such a phrase in two ("Brooklyn Councilman" + "Jumaane Williams"),
  the part that ends in the title is no name: left in, it made a person of every later "Brooklyn".
* A mention without a capital letter is not a name ("a repair café" tagged PERSON), and neither is one inside a
  web address (the ``GB`` of ``en_GB``, a tracking fragment ``#axzz2gqbg2R2N`` tagged PERSON).
* A time zone after a clock time is not a name ("Last updated at 13:59 GMT", "4:45 p.m. EST"): the model tags
  the web page's time stamp an organisation, and story linking would take the zone for a participant that two
  reports share.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from worker.addresses import address_spans
from worker.nlp.items import Mention
from worker.nlp.titles import is_title
from worker.normalize.dates import TIME_ZONES
from worker.records import Dateline

# Jobs and roles that head a name in news copy without being part of it, beyond the titles of titles.py (which
# count as jobs too: ``_is_job``).
OCCUPATIONS = frozenset(
    """
    librarian grower farmer teacher headteacher headmaster headmistress nurse doctor surgeon engineer pilot
    resident student worker owner historian scientist researcher councillor councilor clerk architect curator
    designer priest vicar pastor principal chef baker fisherman fishermen shopkeeper landlord tenant volunteer
    organiser organizer trainer boss owner-manager contractor builder developer investor trader banker broker
    consultant witness survivor neighbour neighbor parent
    """.split()
)
_PLACE_LABELS = ("GPE", "LOC", "FAC")
_NON_SPACE = re.compile(r"\S+")  # the words of ``str.split``, with their offsets
# a clock time just before: "13:59", "13 : 59" (tokenised), "0737", "4:45 p.m.", "2:35am", "( 0300"
_CLOCK_BEFORE = re.compile(r"\d\s*(?:[ap]\s?\.?\s?m\b\s?\.?)?\s*\(?\s*$", re.IGNORECASE)
# a zone, with an offset after GMT or UTC: "GMT+05:00"
_ZONE = re.compile(r"([A-Za-z]{2,4})(?:\s*[+\-−]\s*\d[\d :]*)?")


def tidy_mentions(text: str, mentions: Sequence[Mention],
                  dateline: Dateline | None) -> tuple[list[Mention], set[tuple[int, int]]]:
    """Mentions after the repairs above, in text order, and the spans whose label a rule here decided."""
    decided: set[tuple[int, int]] = set()
    out: list[Mention] = []
    addresses = address_spans(text)
    ordered = sorted(mentions, key=lambda m: m.start)
    for mention, following in zip(ordered, [*ordered[1:], None]):
        if not any(c.isupper() or c.isdigit() for c in mention.text) or _is_clock_zone(text, mention):
            continue
        if any(start < mention.end and mention.start < end for start, end in addresses):
            continue
        words = mention.text.split()
        if mention.label in ("PERSON", "ORG") and len(words) >= 2 and is_title(words[-1]) \
                and following is not None and following.label == "PERSON" \
                and not text[mention.end:following.start].strip():
            continue  # the title phrase of the name that follows
        name_from = _name_after_job(words) if mention.label in ("PERSON", "ORG") else 0
        if name_from:
            start = mention.start + [w.start() for w in _NON_SPACE.finditer(mention.text)][name_from]
            mention = Mention(start, mention.end, text[start:mention.end], "PERSON")
            decided.add((mention.start, mention.end))
        out.append(mention)
    if dateline is not None:
        out, placed = _dateline_place(text, out, dateline)
        decided |= placed
    return out, decided


def _is_clock_zone(text: str, mention: Mention) -> bool:
    """``mention`` is a time zone written after a clock time.

    >>> text = "Updated 4:45 p.m. EST by Ana Ruiz"
    >>> _is_clock_zone(text, Mention(18, 21, "EST", "ORG")), _is_clock_zone(text, Mention(25, 33, "Ana Ruiz", "PERSON"))
    (True, False)
    """
    zone = _ZONE.fullmatch(mention.text)
    if zone is None or zone.group(1).casefold() not in TIME_ZONES:
        return False
    return _CLOCK_BEFORE.search(text, max(0, mention.start - 16), mention.start) is not None


def _name_after_job(words: list[str]) -> int:
    """Where the name starts in a mention that opens with a job or title phrase (0: it does not).

    A job as the first word ("Librarian Samir Haddad") or a title after other words ("Harbour Councilman Tomas
    Lindqvist"), followed by capitalised words: one at least after a first-word job, two after a title further in
    (so "Martin Luther King Jr" keeps its King).

    >>> _name_after_job("Harbour Councilman Tomas Lindqvist".split()), _name_after_job("Martin Luther King Jr".split())
    (2, 0)
    """
    for i in range(len(words) - 2, -1, -1):
        if _is_job(words[i]) if i == 0 else is_title(words[i]):
            rest = words[i + 1 :]
            enough = len(rest) >= 2 if i else len(words) >= 3  # "King Abdullah" may be a name as written
            return i + 1 if enough and all(w[:1].isupper() for w in rest) else 0
    return 0


def _is_job(word: str) -> bool:
    lowered = word.lower()
    return lowered in OCCUPATIONS or is_title(lowered)


def _dateline_place(text: str, mentions: list[Mention],
                    dateline: Dateline) -> tuple[list[Mention], set[tuple[int, int]]]:
    """Each comma-separated part of the dateline's place ("LYON, France") is one place mention."""
    decided: set[tuple[int, int]] = set()
    at = text.find(dateline.place, dateline.start, dateline.end)
    if at < 0:
        return mentions, decided
    for part in re.finditer(r"[^,]+", dateline.place):
        name = part.group(0).strip()
        if not re.search(r"[A-Za-z]", name):
            continue
        start = at + part.start() + part.group(0).index(name)
        end = start + len(name)
        if any(m.label in _PLACE_LABELS and (m.start, m.end) == (start, end) for m in mentions):
            continue
        mentions = [m for m in mentions if m.end <= start or m.start >= end]
        mentions.append(Mention(start, end, name, "GPE"))
        decided.add((start, end))
    mentions.sort(key=lambda m: m.start)
    return mentions, decided
