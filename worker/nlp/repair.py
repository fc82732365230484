"""Repairs to the model's mentions, before mentions are grouped: general rules that read the text's own form.

The small model misreads well-known places: it calls Aleppo NORP or LANGUAGE, Sri Lanka a PERSON, Belarus an
ORG, or misses a country written in capitals. A name that the gazetteer knows as a country, continent, US
state or city of a million people is relabelled a place, and an untagged capitalised occurrence of such a name
is added as one, unless it is part of a personal name the article uses ("Jordan" after "Michael Jordan").

The rest is decided by how the text writes a name, never by the name itself: a dateline's place, a title or an
initial before a person, a competitor's country in brackets, a cricket scorecard's players, the sides of
results lines, fixtures and standings rows, a town acting as a side in a sports report, nationalities, the
words "city of" or "region" beside a place, an acronym defined beside its name, a company's short name, and
the headings, section labels, field labels and event names that are not names of people, bodies or places.
Each rule that sets a label records the span as *decided*, so the entity takes that label over the model's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from worker.nlp.gazetteer import Gazetteer, name_key
from worker.nlp.items import Mention
from worker.nlp.ner import KEPT_LABELS, is_shouting
from worker.nlp.titles import is_title, people_after_titles, title_before

# runs of one to four capitalised words (all-caps words included), e.g. "New Zealand", "SRI LANKA"
CAPITALISED_RUN = re.compile(r"(?<![\w&.'’-])[A-Z][\w'’.-]*(?:\s[A-Z][\w'’.-]*){0,3}(?![\w&'’-])")
_BROAD = frozenset({"PCLI", "CONT"})


@dataclass(frozen=True, slots=True)
class Repaired:
    """Repaired mentions in text order, and the spans whose label a rule decided (it outvotes the model's)."""

    mentions: list[Mention]
    decided: frozenset[tuple[int, int]]


def repair_mentions(text: str, mentions: Sequence[Mention], gazetteer: Gazetteer | None) -> Repaired:
    """Relabel and recover well-known places, datelines and sports teams; drop the labels we do not keep."""
    if gazetteer is None:
        return Repaired([m for m in mentions if m.label in KEPT_LABELS], frozenset())
    mentions, decided = _dateline_places(text, mentions)
    mentions, particles = _particle_names(text, mentions)
    decided |= particles
    mentions, people = people_after_titles(text, mentions)
    decided |= people
    mentions, people = _people_by_form(text, mentions, gazetteer)
    decided |= people
    mentions = _result_pairs(text, mentions, gazetteer)
    mentions, teams = _teams(text, mentions, gazetteer, frozenset(decided))
    decided |= teams
    mentions, sides = _sports_sides(text, mentions, gazetteer, frozenset(decided))
    decided |= sides
    mentions, peoples = _peoples(mentions, gazetteer)
    decided |= peoples
    mentions, placed = _places_by_form(text, mentions, gazetteer, frozenset(decided))
    decided |= placed
    not_names = [_not_a_name(text, m, decided) for m in mentions]
    events = [m for m, not_name in zip(mentions, not_names) if not_name]
    mentions = [m for m, not_name in zip(mentions, not_names) if not not_name]
    mentions = _company_short_forms(mentions, gazetteer, frozenset(decided))
    mentions = [
        Mention(m.start, m.end, m.text, "ORG") if m.label == "PERSON" and (m.start, m.end) not in decided
        and _BODY_WORDS.intersection(m.text.split()[1:])
        else Mention(m.start, m.end, m.text, "FAC") if m.label in ("ORG", "PERSON") and (m.start, m.end) not in decided
        and len(m.text.split()) > 1 and m.text.split()[-1] in _VENUE_WORDS
        else m
        for m in mentions
    ]
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
    # an event's name is not recovered piecemeal: "Lisbon" in "Lisbon Open" is part of the event's name
    repaired.extend(_recovered(text, [*mentions, *events], gazetteer, person_tokens))
    repaired.extend(_streets(text, [*mentions, *events]))
    repaired.extend(_surnames(text, repaired))
    repaired.sort(key=lambda m: m.start)
    repaired = _common_words(text, repaired)
    repaired = _without_section_labels(text, repaired, gazetteer)
    repaired = _without_field_labels(text, repaired, gazetteer, person_tokens)
    repaired = _acronyms(text, repaired)
    repaired.extend(_repeated_names(text, repaired, events))
    repaired.sort(key=lambda m: m.start)
    return Repaired(repaired, frozenset(decided))


_WORD = re.compile(r"(?<![\w'’-])[A-Z][\w'’-]+")


_LOWER_WORD = re.compile(r"\b[a-z][a-z'-]+\b")


@functools.lru_cache(maxsize=4)  # three passes read the lower-case words of the same article
def _lowercase_words(text: str) -> frozenset[str]:
    return frozenset(_LOWER_WORD.findall(text))


def _common_words(text: str, mentions: Sequence[Mention]) -> list[Mention]:
    """Without one-word "names" that the article also writes in lower case: in a table the model reads the
    capitalised common words of a heading ("Attendance", "Men", "Extras") as names."""
    lowered = _lowercase_words(text)
    return [m for m in mentions if " " in m.text or m.text.lower() not in lowered or m.label in ("GPE", "LOC")]


_ACRONYM_AFTER = re.compile(r" ?\( ?(?P<acronym>[A-Z][A-Z&]{1,7}) ?\)")
_ACRONYM_BEFORE = re.compile(r"(?<![\w-])(?P<acronym>[A-Z][A-Z&]{1,7}) ?\( ?$")
_MINOR_WORDS = frozenset({"of", "the", "and", "for", "in", "on", "&"})


def _acronyms(text: str, mentions: Sequence[Mention]) -> list[Mention]:
    """An acronym defined beside an organisation's name takes its label: "Kurdistan Democratic Party (KDP)",
    "FOMC (Federal Open Market Committee)"; the model rarely tags a bare acronym it has not seen, and the
    repeated-name pass then finds the acronym's other mentions."""
    covered = {(m.start, m.end) for m in mentions}
    found = []
    for m in mentions:
        if m.label not in ("ORG", "NORP", "GPE", "LOC", "FAC"):
            continue
        initials = "".join(w[0] for w in m.text.split() if w.lower() not in _MINOR_WORDS and w[:1].isalpha()).upper()
        after = _ACRONYM_AFTER.match(text, m.end)
        before = _ACRONYM_BEFORE.search(text, max(0, m.start - 14), m.start)
        for match in (after, before):
            if match is None:
                continue
            acronym = match.group("acronym")
            span = (match.start("acronym"), match.end("acronym"))
            # the acronym's letters are the name's initials in order ("KDP", "FOMC"), maybe skipping some
            letters = iter(initials)
            if acronym[0] == initials[:1] and all(c in letters for c in acronym.replace("&", "")) and span not in covered:
                found.append(Mention(span[0], span[1], acronym, m.label))
                covered.add(span)
    return sorted([*mentions, *found], key=lambda m: m.start)


# A wire headline opens with its section in capitals: "SOCCER - ...", "RUGBY UNION - ...", "GOLF-...".
_SECTION_LABEL = re.compile(r"^[A-Z][A-Z&/ ]{1,30}?(?= ?- )", re.MULTILINE)


def _without_section_labels(text: str, mentions: Sequence[Mention], gazetteer: Gazetteer) -> list[Mention]:
    """Without the section label of a headline ("CRICKET - ..."), a topic the model takes for an ORG; a
    known place there is a place ("ROMANIA - ...")."""
    labels = {match.span() for match in _SECTION_LABEL.finditer(text) if is_shouting(match.group(0))}
    return [m for m in mentions if (m.start, m.end) not in labels or gazetteer.lookup(m.text)]


# A table's field label opens its line: "Attendance : 2,000", "Scorer: ...", "Extras ( lb-3 nb-6 ) 16".
_FIELD_LABEL_AFTER = re.compile(r" ?: | ?\( ?[a-z]")


def _without_field_labels(text: str, mentions: Sequence[Mention], gazetteer: Gazetteer, person_tokens: set[str]) -> list[Mention]:
    """Without one-word "names" that open a line as a field label, unless they are a known place or a word of a
    person's full name (a transcript's "Kirby: ..." is the speaker)."""
    return [
        m for m in mentions
        if " " in m.text or not (m.start == 0 or text[m.start - 1] == "\n") or not _FIELD_LABEL_AFTER.match(text, m.end)
        or gazetteer.lookup(m.text) or name_key(m.text) in person_tokens
    ]


def _repeated_names(text: str, mentions: Sequence[Mention], events: Sequence[Mention] = ()) -> list[Mention]:
    """Untagged occurrences of a name the model tagged elsewhere in the article, with its most frequent label.

    One name keeps one meaning within an article, and the model that saw "Interfax" as an ORG in one sentence
    often misses it in the next.
    """
    labels: dict[str, dict[str, int]] = {}
    lowered = _lowercase_words(text)
    for m in mentions:
        if len(m.text) > 2 and m.text[0].isalpha() and (" " in m.text or m.text.lower() not in lowered):
            counts = labels.setdefault(m.text, {})
            counts[m.label] = counts.get(m.label, 0) + 1
    if not labels:
        return []
    names = sorted(labels, key=len, reverse=True)[:500]  # bounded: a table of thousands of names stays linear
    pattern = re.compile(r"(?<![\w'’-])(?:" + "|".join(re.escape(n) for n in names) + r")(?![\w'’-])")
    covered = sorted((m.start, m.end) for m in (*mentions, *events))
    found, index = [], 0
    for match in pattern.finditer(text):
        start, end = match.span()
        while index < len(covered) and covered[index][1] <= start:
            index += 1
        if index < len(covered) and covered[index][0] < end:
            continue
        counts = labels[match.group(0)]
        found.append(Mention(start, end, match.group(0), max(counts, key=counts.get)))
    return found


def _surnames(text: str, mentions: Sequence[Mention]) -> list[Mention]:
    """Untagged occurrences of the surname of a person the article names in full ("Lebed" in the headline)."""
    surnames = {m.text.split()[-1] for m in mentions if m.label == "PERSON" and len(m.text.split()) > 1}
    surnames = {s for s in surnames if len(s) > 2 and s[0].isupper()}
    if not surnames:
        return []
    covered = sorted((m.start, m.end) for m in mentions)
    found, index = [], 0
    for match in _WORD.finditer(text):
        start, end = match.span()
        while index < len(covered) and covered[index][1] <= start:
            index += 1
        if index < len(covered) and covered[index][0] < end:
            continue
        word = match.group(0)
        if word in surnames or (word.isupper() and word.title() in surnames):
            found.append(Mention(start, end, word, "PERSON"))
    return found


_PARTICLE = r"(?:al|el|ad|as|bin|ibn|abu|de|da|di|du|del|della|der|van|von|ter|le|la)"
_PARTICLE_TAIL = re.compile(rf"(?: {_PARTICLE}[- ]|-)[A-Z][\w'-]*[a-z](?<!’s)")
_PARTICLE_NAME = re.compile(rf"^[A-Z][\w'-]+ {_PARTICLE}[- ][A-Z][\w'-]+$")


def _particle_names(text: str, mentions: Sequence[Mention]) -> tuple[list[Mention], set[tuple[int, int]]]:
    """Personal names written with a particle: "Bashar al-Assad" where the model saw only "Bashar" (or two
    names), and "Staffan de Mistura" that it called an ORG."""
    out: list[Mention] = []
    decided: set[tuple[int, int]] = set()
    skip_until = -1
    ordered = sorted(mentions, key=lambda m: m.start)
    for mention in ordered:
        if mention.start < skip_until:
            continue
        if mention.label == "PERSON":
            tail = _PARTICLE_TAIL.match(text, mention.end)
            if tail is not None:
                end = tail.end()
                out.append(Mention(mention.start, end, text[mention.start:end], "PERSON"))
                skip_until = end  # the surname piece the model may have tagged on its own is part of this name
                continue
        elif _PARTICLE_NAME.match(mention.text) and not any(c.isdigit() for c in mention.text):
            out.append(Mention(mention.start, mention.end, mention.text, "PERSON"))
            decided.add((mention.start, mention.end))
            continue
        out.append(mention)
    return out, decided


# A wire dateline on its own line: "TAVILDARA , Tajikistan 1996-08-30", "BUDAPEST 1996-08-30".
_DATELINE_LINE = re.compile(
    r"^(?P<place>[A-Z][A-Za-z'.\-]*(?: [A-Z][A-Za-z'.\-]*){0,3})(?: , (?P<region>[A-Z][A-Za-z'.\-]*(?: [A-Z][A-Za-z'.\-]*){0,3}))?"
    r" (?:\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4})$",
    re.MULTILINE,
)


def _dateline_places(text: str, mentions: Sequence[Mention]) -> tuple[list[Mention], set[tuple[int, int]]]:
    """The place names of a dateline line are places, whatever the model called them."""
    places = []
    for match in _DATELINE_LINE.finditer(text):
        for group in ("place", "region"):
            if match.group(group):
                places.append(Mention(match.start(group), match.end(group), match.group(group), "GPE"))
    if not places:
        return list(mentions), set()
    spans = [(p.start, p.end) for p in places]
    kept = [m for m in mentions if not any(m.start < end and start < m.end for start, end in spans)]
    return sorted([*kept, *places], key=lambda m: m.start), set(spans)


# A name followed by a score in a results line: "Surrey 429-7", "TEXAS 5 Cleveland 3", "CHICAGO 71 64 .526".
_SCORE_AFTER = re.compile(r" (?:\d{1,3}(?:-\d{1,2})?)(?= |$|,|\.)(?!-\d)")
_RESULT_LINE = re.compile(r"^.*[A-Za-z].* \d{1,3}(?:-\d{1,2})?(?: |$|,).*$", re.MULTILINE)


def _teams(
    text: str, mentions: Sequence[Mention], gazetteer: Gazetteer, decided: frozenset[tuple[int, int]]
) -> tuple[list[Mention], set[tuple[int, int]]]:
    """In a results story, a town, county or state followed by a score is a team: an ORG, in every mention
    except those an earlier rule decided (the dateline "NEW YORK 1996-08-29" is the city).

    Countries stay places: national sides are reported (and annotated) under the country's name.
    """
    people = {t for m in mentions if m.label == "PERSON" and len(m.text.split()) > 1 for t in name_key(m.text).split()}
    scored = {
        name_key(m.text)
        for m in mentions
        if _SCORE_AFTER.match(text, m.end)
        and not _is_country(m.text, gazetteer)
        and not (m.label == "PERSON" and (len(m.text.split()) > 1 or name_key(m.text) in people))
    }
    if len(scored) < 2 or len(_RESULT_LINE.findall(text)) < 3:
        return list(mentions), set()
    out, decided = [], set()
    for m in mentions:
        if name_key(m.text) in scored and (m.start, m.end) not in decided:
            out.append(Mention(m.start, m.end, m.text, "ORG"))
            decided.add((m.start, m.end))
        else:
            out.append(m)
    return out, decided


# Peoples and faiths with no country of their own: NORP whatever the model says ("Chechens", "Hutu", "Sikh").
_PEOPLES = frozenset(
    """
    arab bedouin basque berber catalan chechen cossack druze flemish walloon hindu hutu tutsi jew jewish kurd
    kurdish muslim moslem christian catholic protestant orthodox sikh buddhist shiite shia sunni sunnite alawite
    maronite copt coptic pashtun tamil sinhalese tuareg uighur uyghur tibetan zulu xhosa roma serb croat slav
    latino hispanic aborigine maori inuit baloch balochi ossetian ingush abkhaz hazara uzbek tajik turkmen yazidi
    """.split()
)


def _is_people(word_key: str, gazetteer: Gazetteer) -> bool:
    singular = word_key[:-1] if word_key.endswith("s") else word_key
    return any(gazetteer.demonyms.get(k) is not None or k in _PEOPLES for k in (word_key, singular))


def _peoples(mentions: Sequence[Mention], gazetteer: Gazetteer) -> tuple[list[Mention], set[tuple[int, int]]]:
    """Nationalities and peoples are NORP, singular or plural ("Rwandan", "Iraqis", "Rwandan Hutu"), and a
    nationality written before a person's name is not part of it ("American Dana Reyes" is NORP + PERSON).

    The model often calls a bare demonym PERSON or ORG; a demonym inside a longer name ("Iraqi Airways") is left.
    """
    out, decided = [], set()
    for m in mentions:
        words = name_key(m.text).split()
        if m.label != "NORP" and words and all(_is_people(w, gazetteer) for w in words):
            out.append(Mention(m.start, m.end, m.text, "NORP"))
            decided.add((m.start, m.end))
        elif m.label == "PERSON" and len(m.text.split()) >= 3 and _is_people(name_key(m.text.split()[0]), gazetteer):
            first = m.text.split()[0]
            rest = m.start + len(first) + 1
            out.append(Mention(m.start, m.start + len(first), first, "NORP"))
            out.append(Mention(rest, m.end, m.text[len(first) + 1 :], "PERSON"))
            decided.add((m.start, m.start + len(first)))
        else:
            out.append(m)
    return out, decided


# Words that make a name a body's, never a person's: "Abuja Chamber of Commerce", "Owerri University".
_BODY_WORDS = frozenset(
    "University College School Institute Chamber Commerce Industry Association Council Committee Ministry "
    "Department Bank Party Union Federation Agency Authority Company Corporation Foundation Hospital Church Club "
    "Society League Court Commission Board Trust Fund Inc Corp Ltd Group".split()
)
# Last words of the names of venues and streets, which are facilities: "National Tennis Centre", "Barclays Center".
_VENUE_WORDS = frozenset("Stadium Arena Centre Center Ground Grounds Park Square Street Avenue Road Lane Bridge Airport".split())
# Words that make a name a company's: "Cofinec S.A.", "LM Ericsson AB", "Magna International Inc".
_COMPANY_WORDS = frozenset(
    "inc inc. corp corp. corporation co co. ltd ltd. plc llc ag ab sa s.a. nv n.v. spa s.p.a. gmbh bhd oyj asa "
    "group holdings holding international industries bank".split()
)


# Names of events, not of places or bodies: "Hong Kong Open", "Fed Cup", "Berlin Grand Prix", "Atlanta Games".
_EVENT_LAST_WORDS = frozenset(
    "open cup tour games olympics olympiad championship championships grand prix classic masters trophy series "
    "marathon rally festival expo derby".split()
)
_COLUMN_HEADINGS = re.compile(r"[A-Z]{1,3}(?: [A-Z]{1,3}){2,}")
# Words that head a results table's sections ("Men 's discus", "Division two"): categories, not names.
_CATEGORY_WORDS = frozenset("men women boys girls ladies juniors seniors veterans mixed division group pool heat".split())


# A name right before an event's last word is part of the event's name: "U.S. Open", "Berlin Grand Prix".
_EVENT_AFTER = re.compile(r" (?:Open|OPEN|Cup|CUP|Games|GAMES|Grand Prix|GRAND PRIX|Olympics|Championships|Masters|Classic|Marathon)\b")
# "the city of Arbil", "the disputed Nagorno-Karabakh region": the word beside the name says it is a place.
_PLACE_WORD_BEFORE = re.compile(r"\b(?:city|town|village|province|region|state|island|port|capital|district|suburb|county) of $")
_LOCATIVE_BEFORE = re.compile(r"\b(?:in|near|outside|from)\s$")
_PLACE_WORD_AFTER = re.compile(r" (?:city|town|village|province|region|island|valley|district|suburb|county|enclave|peninsula)\b(?! of)")


def _places_by_form(
    text: str, mentions: Sequence[Mention], gazetteer: Gazetteer, decided: frozenset[tuple[int, int]]
) -> tuple[list[Mention], set[tuple[int, int]]]:
    """Names the text itself calls places ("the city of Arbil", "the Nagorno-Karabakh region") are places,
    unless a person's name or an earlier rule's label; the model often calls such a name an ORG."""
    person_words = {w for m in mentions if m.label == "PERSON" and len(m.text.split()) > 1 for w in name_key(m.text).split()}
    out, decided = [], set()
    for m in mentions:
        key = name_key(m.text)
        # "in Cirencester", "from Abuja": a known town after a preposition of place, unless a person of the article
        located = (
            _LOCATIVE_BEFORE.search(text, max(0, m.start - 8), m.start) is not None
            and any(e.primary and e.place.feature_class in ("P", "A") for e in gazetteer.lookup(m.text))
            and not set(key.split()) & person_words
        )
        if m.label in ("ORG", "PERSON", "NORP") and (m.start, m.end) not in decided and (
            located or _PLACE_WORD_BEFORE.search(text, max(0, m.start - 20), m.start) or _PLACE_WORD_AFTER.match(text, m.end)
        ) and not (m.label == "PERSON" and len(m.text.split()) > 1 and not located) and not _is_people(key, gazetteer):
            out.append(Mention(m.start, m.end, m.text, "GPE"))
            decided.add((m.start, m.end))
        else:
            out.append(m)
    return out, decided


def _not_a_name(text: str, mention: Mention, decided: set[tuple[int, int]]) -> bool:
    """The name of an event, part of one, a results table's category word, or a row of column headings
    ("W L PCT GB"), unless a rule decided the span."""
    if (mention.start, mention.end) in decided or mention.label not in ("ORG", "GPE", "LOC", "FAC", "PERSON"):
        return False
    if _EVENT_AFTER.match(text, mention.end) or _COLUMN_HEADINGS.fullmatch(mention.text):
        return True
    words = mention.text.lower().split()
    if len(words) == 1:
        return words[0] in _CATEGORY_WORDS
    return words[-1] in _EVENT_LAST_WORDS and mention.label != "PERSON"


def _company_short_forms(mentions: Sequence[Mention], gazetteer: Gazetteer, decided: frozenset[tuple[int, int]]) -> list[Mention]:
    """A one-word mention that is a word of a company's full name in the article is that company ("Ericsson"
    after "LM Ericsson AB"), whatever the model called it, unless it is part of a person's full name or a
    well-known place."""
    companies = [m.text.split() for m in mentions if m.label == "ORG" and len(m.text.split()) > 1
                 and any(w.lower() in _COMPANY_WORDS for w in m.text.split()[1:])]
    if not companies:
        return list(mentions)
    words = {w for name in companies for w in name if w[:1].isupper() and w.lower() not in _COMPANY_WORDS}
    person_words = {w for m in mentions if m.label == "PERSON" and len(m.text.split()) > 1 for w in m.text.split()}
    out = []
    for m in mentions:
        if (
            m.label in ("PERSON", "GPE", "LOC", "NORP") and m.text in words and m.text not in person_words
            and (m.start, m.end) not in decided and name_key(m.text) not in gazetteer.well_known
        ):
            out.append(Mention(m.start, m.end, m.text, "ORG"))
        else:
            out.append(m)
    return out


_INITIAL_NAME = re.compile(r"[A-Z]\. ?[A-Z][\w'’-]*[a-z][\w'’-]*")
# a first name in a list ("Chaminda Vaas , Muthiah Muralitharan"), never at the start of a sentence or line, where
# any word is capitalised
_FIRST_NAME_BEFORE = re.compile(r"(?:(?<=, )|(?<=,)|(?<=: )|(?<=\( )|(?<= and ))(?P<first>[A-Z][a-z]{2,}) $")
_NOT_FIRST_NAMES = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july august "
    "september october november december one two three four five six seven eight nine ten".split()
)


def _could_be_first_name(word: str, lowered: frozenset[str], gazetteer: Gazetteer) -> bool:
    """A capitalised word that is not a common word of the text, a title, a calendar word, a place or a people."""
    key = word.lower()
    return (
        key not in lowered and not is_title(word) and key not in _NOT_FIRST_NAMES
        and key not in gazetteer.well_known and not _is_people(key, gazetteer)
    )


_INITIAL_BEFORE = re.compile(r"(?<![\w.])[A-Z]\. ?$")
_PERSON_RUN = r"[A-Z][\w'’-]*[a-z][\w'’-]*(?: (?:[A-Z][\w'’-]*[a-z][\w'’-]*|de|da|van|von|di|del|al|el|le|la)){1,3}"
# A competitor with a country or a minute in brackets: "Tomas Berg ( Sweden )", "Ana Lopes (75th)". The bracket
# is found first and the name looked for right before it, which keeps long texts linear.
_BRACKET_NOTE = re.compile(r" ?\( ?(?P<note>[A-Z][\w .'-]{0,40}?|\d{1,3}(?:st|nd|rd|th)) ?\)")
_NAME_BEFORE = re.compile(rf"(?<![\w'’.-])(?P<name>{_PERSON_RUN})$")


_PLAYER = r"(?:[A-Z]\. ?){0,2}[A-Z][\w'’-]+(?: [A-Z][\w'’-]+){0,2}"
# A cricket scorecard's batting line ("Saeed Anwar c Stewart b Gough 33", "Moin Khan lbw b Mullally 0") and
# bowling figures ("Wasim Akram 10-0-50-0"): every name in them is a player.
_BATTING_LINE = re.compile(
    rf"^(?P<batsman>{_PLAYER}) (?:(?:c (?P<catcher>{_PLAYER}) |st (?P<keeper>{_PLAYER}) |c & |lbw )?b (?P<bowler>{_PLAYER})"
    rf"|not out|run out(?: \( ?(?P<fielder>{_PLAYER}) ?\))?) \d{{1,3}}$",
    re.MULTILINE,
)
_BOWLING_FIGURES = re.compile(rf"(?<![\w'’.-])(?P<bowler>{_PLAYER}) \d{{1,2}}(?:\.\d)?-\d{{1,2}}-\d{{1,3}}-\d{{1,2}}\b")


def _scorecard_names(text: str) -> list[tuple[int, int]]:
    """Spans of the players named in a cricket scorecard's batting lines and bowling figures."""
    if " b " not in text and "-0-" not in text:
        return []
    spans = []
    for match in _BATTING_LINE.finditer(text):
        spans.extend(match.span(g) for g in ("batsman", "catcher", "keeper", "bowler", "fielder") if match.group(g))
    spans.extend(match.span("bowler") for match in _BOWLING_FIGURES.finditer(text))
    return spans


def _people_by_form(text: str, mentions: Sequence[Mention], gazetteer: Gazetteer) -> tuple[list[Mention], set[tuple[int, int]]]:
    """Names whose written form says they are people: an initial before a surname ("R. Kaluwitharana", where the
    model tags only the surname or calls it a place) and competitors listed with their country or a minute in
    brackets ("Tomas Berg ( Sweden )"), which the model often calls ORG or misses in results tables."""
    out: list[Mention] = []
    decided: set[tuple[int, int]] = set()
    lowered = _lowercase_words(text)
    covered_ends = {m.end for m in mentions}
    for m in mentions:
        initial = _INITIAL_BEFORE.search(text, max(0, m.start - 3), m.start)
        first = _FIRST_NAME_BEFORE.search(text, max(0, m.start - 20), m.start) if m.label == "PERSON" else None
        if initial is not None and m.label in ("PERSON", "ORG", "GPE", "LOC", "NORP") and len(m.text.split()) == 1:
            span = (initial.start(), m.end)
            out.append(Mention(span[0], span[1], text[span[0]:span[1]], "PERSON"))
            decided.add(span)
        elif _INITIAL_NAME.fullmatch(m.text) and m.label in ("ORG", "GPE", "LOC"):
            out.append(Mention(m.start, m.end, m.text, "PERSON"))  # "H. Morris"
            decided.add((m.start, m.end))
        elif (
            first is not None and len(m.text.split()) == 1 and first.end("first") + 1 == m.start
            and not _is_people(name_key(m.text), gazetteer)
            and first.end("first") not in covered_ends and _could_be_first_name(first.group("first"), lowered, gazetteer)
        ):
            # the model tagged the surname alone: "Romesh Kaluwitharana" in a team list
            out.append(Mention(first.start("first"), m.end, text[first.start("first"):m.end], "PERSON"))
        else:
            out.append(m)
    competitors = _scorecard_names(text)
    for match in _BRACKET_NOTE.finditer(text):
        note = match.group("note")
        if not (note[0].isdigit() or _is_country(note, gazetteer)):
            continue
        window = max(0, match.start() - 80)
        before = _NAME_BEFORE.search(text[window:match.start()])
        if before is not None:
            name = before.group("name")
            if not gazetteer.lookup(name) and not _is_people(name_key(name.split()[0]), gazetteer):
                competitors.append((window + before.start("name"), window + before.end("name")))
    if competitors:
        out = [m for m in out if not any(m.start < e and s < m.end for s, e in competitors)]
        out.extend(Mention(s, e, text[s:e], "PERSON") for s, e in competitors)
        decided.update(competitors)
        out.sort(key=lambda m: m.start)
    return out, decided


_SIDE = r"[A-Z][\w.'&-]*(?: [A-Z][\w.'&-]*){0,3}"
# A results line of two sides and their scores: "Puchon 2 Chonbuk 1", "DETROIT 4 Kansas City 1".
_RESULT_PAIR = re.compile(rf"^(?P<home>{_SIDE}) \d{{1,3}} (?P<away>{_SIDE}) \d{{1,3}}\b", re.MULTILINE)
# A fixture ("Walsall v Wrexham") and a standings row ("Falkirk 3 1 1 1 1 1 4", "HOUSTON 72 63 .533 -").
_FIXTURE = re.compile(rf"^(?:[A-Z][a-z]+ : )?(?P<home>{_SIDE}) (?:v|vs\.?) (?P<away>{_SIDE})$", re.MULTILINE)
_STANDINGS_ROW = re.compile(rf"^(?P<home>{_SIDE})(?: \d{{1,3}}){{2}}(?: (?:\d{{1,3}}|\.\d{{3}}|-|1/2)){{2,}}$", re.MULTILINE)


# An opponent in a fixture list: "June 14-16 v Leicestershire ( three days )", "May 20 v Durham".
_VERSUS_SIDE = re.compile(rf"(?<=\w )v (?P<side>{_SIDE})(?= \(|$)", re.MULTILINE)
_SCORE = r"\d{1,3}(?:-\d{1,2})?(?: and \d{1,3}(?:-\d{1,2})?)?"
# A cricket result's innings: "Hove : Sussex 363 ( W. Athey 111 ) , Kent 108-3" (outside the brackets).
_INNINGS = re.compile(rf"(?:^[^:\n]{{2,40}} : |(?<=[\d)]) [,;] )(?P<side>{_SIDE}) {_SCORE}(?= [(,;]| dec| declared|$)", re.MULTILINE)
_BRACKETED = re.compile(r"\([^()\n]*\)")


def _innings_sides(text: str) -> list[tuple[int, int]]:
    """The sides of cricket results lines; what brackets hold (batsmen's scores) is blanked first, offsets kept."""
    if " : " not in text:
        return []
    unbracketed = _BRACKETED.sub(lambda m: "(" + " " * (len(m.group(0)) - 2) + ")", text)
    return [match.span("side") for match in _INNINGS.finditer(unbracketed)]


def _result_pairs(text: str, mentions: Sequence[Mention], gazetteer: Gazetteer) -> list[Mention]:
    """The sides of results lines as ORG mentions, replacing what the model made of them (it misses or splits
    them), when the article has at least two such lines; countries are left to the model (national sides are
    reported under the country's name)."""
    sides = [
        match.span(group)
        for pattern in (_RESULT_PAIR, _FIXTURE, _STANDINGS_ROW)
        for match in pattern.finditer(text)
        for group in ("home", "away")
        if group in match.groupdict() and match.group(group)
    ]
    sides.extend(match.span("side") for match in _VERSUS_SIDE.finditer(text))
    sides.extend(_innings_sides(text))
    if len(sides) < 4:
        return list(mentions)
    sides = [(s, e) for s, e in sides if not _is_country(text[s:e], gazetteer)]
    kept = [m for m in mentions if not any(m.start < e and s < m.end for s, e in sides)]
    added = [Mention(s, e, text[s:e], "ORG") for s, e in sides]
    return sorted([*kept, *added], key=lambda m: m.start)


# Words of sports reports: an article using several of them reports on games.
_SPORTS_WORDS = re.compile(
    r"\b(?:innings|wickets?|batting|bowl(?:ed|ing|er)|goals?|scored|striker|midfielder|halftime|half-time|"
    r"match(?:es)?|league|championship|tournament|seeded|inning|pitcher|touchdowns?|quarterback|playoffs?|"
    r"coach|stadium|season|fixtures?|runs|points|beat|defeated|drew|draw)\b"
)
# What a side does in a report ("Essex reached 372", "title rivals Kent made up", "against Yorkshire").
_SIDE_AFTER = re.compile(
    r"(?: 's)? (?:beat|beats|defeated|drew|draw|won|win|wins|lost|lose|loses|reached|closed|scored|made|took|"
    r"trail(?:ed)?|led|lead|leads|need(?:ed)?|were|are|captain|coach|manager|striker|midfielder|batsman|"
    r"bowlers?|fans|supporters|team|side|squad)\b"
)
_LIST_GAP = re.compile(r" ?, | and | ?, and ")
_VENUE_BEFORE = re.compile(r"\b(?:in|at|to|from) $")
_SIDE_BEFORE = re.compile(r"\b(?:against|beat|beats|defeated|v|vs|versus|over|hosts?|rivals?|visitors?|side|club|champions|leaders) $")


def _sports_sides(
    text: str, mentions: Sequence[Mention], gazetteer: Gazetteer, decided: frozenset[tuple[int, int]]
) -> tuple[list[Mention], set[tuple[int, int]]]:
    """In a sports report, a town, county or state that acts as a side ("Essex reached 372", "against Kent")
    is a team: an ORG in every mention except those an earlier rule decided (a dateline, a title's person).

    Countries stay places (national sides are reported under the country's name), and a name that is part of a
    person's full name stays a person ("Washington" after "MaliVai Washington").
    """
    if len(_SPORTS_WORDS.findall(text)) < 3:
        return list(mentions), set()
    person_tokens = {t for m in mentions if m.label == "PERSON" and len(m.text.split()) > 1 for t in name_key(m.text).split()}
    place_like: set[str] = set()
    acting: set[str] = set()
    for m in mentions:
        key = name_key(m.text)
        if len(key.split()) > 2 or key in person_tokens or _is_country(m.text, gazetteer):
            continue
        if m.label in ("GPE", "LOC") or gazetteer.lookup(m.text) or key.endswith("shire"):
            place_like.add(key)
        if _SIDE_AFTER.match(text, m.end) or _SIDE_BEFORE.search(text, max(0, m.start - 12), m.start):
            acting.add(key)
    # names listed with a side are sides too: "title rivals Essex, Derbyshire and Surrey all closed in"
    ordered = sorted(mentions, key=lambda m: m.start)
    for _ in range(2):
        for left, right in zip(ordered, ordered[1:]):
            if _LIST_GAP.fullmatch(text[left.end:right.start]):
                if name_key(left.text) in acting or name_key(right.text) in acting:
                    acting.update((name_key(left.text), name_key(right.text)))
    titled = {name_key(m.text) for m in mentions if title_before(text, m.start) is not None}
    sides = (place_like & acting) - titled
    if not sides:
        return list(mentions), set()
    out, decided_now = [], set()
    for m in mentions:
        # "in Texas", "at Headingley": the place where the game is, not the side
        venue = _VENUE_BEFORE.search(text, max(0, m.start - 6), m.start) is not None
        if name_key(m.text) in sides and (m.start, m.end) not in decided and not venue:
            out.append(Mention(m.start, m.end, m.text, "ORG"))
            decided_now.add((m.start, m.end))
        else:
            out.append(m)
    return out, decided_now


def _is_country(name: str, gazetteer: Gazetteer) -> bool:
    """A country or continent, or a nation of the United Kingdom (each fields its own national sides)."""
    return any(
        e.place.feature_code in _BROAD or (e.place.feature_code == "ADM1" and e.place.country_code == "GB")
        for e in gazetteer.lookup(name)
    )


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


_STREET = re.compile(r"(?<![\w'’.-])(?:[A-Z][\w'’.-]* ){1,3}(?:Street|Avenue|Boulevard|Road|Lane|Square)(?![\w'’-])")


def _streets(text: str, mentions: Sequence[Mention]) -> list[Mention]:
    """Untagged streets and squares ("Wall Street", "Royal Street"), which the model often leaves out: facilities."""
    covered = [(m.start, m.end) for m in mentions]
    found = []
    for match in _STREET.finditer(text):
        start, end = match.span()
        words = match.group(0).split()
        while len(words) > 1 and (words[0].lower() in _LOWER_WORDS_OPENING or words[0].lower() in _lowercase_words(text)):
            start += len(words.pop(0)) + 1  # "On Wall Street": the sentence's first word is not part of the name
        if len(words) > 1 and not any(s < end and start < e for s, e in covered):
            found.append(Mention(start, end, text[start:end], "FAC"))
    return found


_LOWER_WORDS_OPENING = frozenset("the on in at of from to and near off along".split())


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
        # the mentions the model made inside the run ("LITHUANIA" in "ROMANIA BEAT LITHUANIA IN") stay as they are
        inside = [c for c in covered[index:index + 8] if c[0] < end]
        # the longest well-known names among the run's other words, left to right: "FRANCE BEAT MEXICO"
        words = [(w.start() + start, w.end() + start) for w in re.finditer(r"\S+", surface)]
        i = 0
        while i < len(words):
            for j in range(len(words), i, -1):
                piece = text[words[i][0]:words[j - 1][1]]
                key = name_key(piece)
                if any(s < words[j - 1][1] and words[i][0] < e for s, e in inside):
                    continue
                if key in gazetteer.well_known and key not in person_tokens and gazetteer.demonyms.get(key) is None:
                    kinds = {entry.place.feature_code for entry in gazetteer.by_name.get(key, ())}
                    found.append(Mention(words[i][0], words[j - 1][1], piece, "LOC" if "CONT" in kinds else "GPE"))
                    i = j - 1
                    break
            i += 1
    return found
