"""Date expressions in a story and the calendar dates they stand for.

reads: text, published_at — writes: DateMention(text, start, end, value, precision, relative)

News prose names dates in a handful of shapes: ``yesterday``, ``on Monday``, ``last year``, ``September 9``,
``9 September 2016``, ``in 2010``, ``2016-10-03``. One compiled pattern finds them all in a single pass and the
resolution is calendar arithmetic against the publication date. We tried dateparser's ``search_dates`` on
the reference page: ~40 ms per call against ~0.7 ms here, and it reports durations ("a week", "in the
five-year") and bare month names as dates, which the contract forbids; so the finding is ours.
Durations never match: every pattern needs a month name, a weekday, a day word or a year with a preposition.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from worker.records import DateMention

_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}
_WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}
_DAY_WORDS = {"yesterday": -1, "today": 0, "tonight": 0, "tomorrow": 1, "last night": -1, "this morning": 0,
              "this afternoon": 0, "this evening": 0}

_MONTH = (r"(?P<{name}>January|February|March|April|May|June|July|August|September|October|November|December"
          r"|Jan\.?|Feb\.?|Mar\.?|Apr\.?|Jun\.?|Jul\.?|Aug\.?|Sept\.?|Sep\.?|Oct\.?|Nov\.?|Dec\.?)")
_DAY = r"(?P<{name}>[12][0-9]|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?P<{name}>1[89][0-9]{{2}}|20[0-9]{{2}}|2100)"
_WEEKDAY = r"(?P<weekday>Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"

_PATTERN = re.compile(
    # Tried only at the word starts find_dates picks around a head word, never scanned over the whole text.
    r"(?<![\w])(?:"
    + "|".join(
        [
            # 2016-10-03
            r"(?P<iso>\b(?P<iso_y>(?:19|20)[0-9]{2})-(?P<iso_m>0[1-9]|1[0-2])-(?P<iso_d>0[1-9]|[12][0-9]|3[01])\b)",
            # September 9, 2016 / Sept. 9 / September 9th
            r"(?P<md>\b" + _MONTH.format(name="md_m") + r"\s" + _DAY.format(name="md_d")
            + r"(?: ?,?\s" + _YEAR.format(name="md_y") + r")?\b(?![-–][0-9]))",
            # 9 September 2016 / 9th of September
            r"(?P<dm>\b" + _DAY.format(name="dm_d") + r"\s(?:of\s)?" + _MONTH.format(name="dm_m")
            + r"(?: ?,?\s" + _YEAR.format(name="dm_y") + r")?\b)",
            # (in) September 2016
            r"(?P<my>\b(?:(?i:in|since|by|until|from|during|of|before|after)\s)?" + _MONTH.format(name="my_m")
            + r"\s" + _YEAR.format(name="my_y") + r"\b)",
            # in January: a month alone only after a preposition ("May" alone is too often the verb)
            r"(?P<mo>\b(?i:in|since|by|until|during|before|after|last|next|this|early|late|mid-)\s?" + _MONTH.format(name="mo_m")
            + r"(?![\w-]))",
            # in 2010: a bare year only after a preposition, so counts ("2000 people") are not dates
            r"(?P<y>\b(?i:in|since|by|until|from|during|before|after)\s" + _YEAR.format(name="y_y")
            + r"\b(?![-–/,.]?[0-9]))",
            # last/next/this week-less units
            r"(?P<rel>\b(?P<rel_dir>(?i:last|next|this))\s(?P<rel_unit>year|month)\b)",
            # (on|last|next) Monday / Monday last week
            r"(?P<wd>\b(?:(?P<wd_pre>(?i:on|last|next|this|since|by|until))\s)?" + _WEEKDAY
            + r"(?:\s(?P<wd_week>last|next|this)\sweek)?\b(?!\s[0-9]))",
            r"(?P<word>\b(?:[Yy]esterday|[Tt]oday|[Tt]onight|[Tt]omorrow|[Ll]ast night|[Tt]his (?:morning|afternoon|evening))\b)",
        ]
    )
    + ")"
)


# The word every date expression is built around: a month, a weekday, a day word, a year or a day number.
# Heads that start with a capital or a digit are found by one regex whose look-ahead skips, in C, every other
# word start; the few lower-case heads by str.find. The full pattern is then tried only around the heads:
# 3-4x faster than running it over the text, because most words in prose cannot start a date.
_UPPER_HEAD = re.compile(
    r"(?=[A-Z0-9])(?<![\w])(?:January|February|March|April|May|June|July|August|September|October"
    r"|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec|Monday|Tuesday|Wednesday|Thursday"
    r"|Friday|Saturday|Sunday|Yesterday|Today|Tonight|Tomorrow|[12][0-9]{3}|[0-3]?[0-9](?:st|nd|rd|th)?)(?![\w])"
)
_LOWER_HEADS = ("yesterday", "today", "tonight", "tomorrow", "night", "morning", "afternoon", "evening", "year",
                "month")


def _heads(text: str) -> list[int]:
    heads = [m.start() for m in _UPPER_HEAD.finditer(text)]
    for word in _LOWER_HEADS:
        at = text.find(word)
        while at >= 0:
            end = at + len(word)
            if (at == 0 or not text[at - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
                heads.append(at)
            at = text.find(word, end)
    heads.sort()
    return heads


def find_dates(text: str, published_at: datetime | None) -> list[DateMention]:
    """Every date expression in ``text``, resolved against the publication date when there is one.

    >>> [(d.text, d.value) for d in find_dates("Talks ended yesterday, after a deal in 2010.", datetime(2016, 10, 4))]
    [('yesterday', '2016-10-03'), ('in 2010', '2010')]
    """
    anchor = published_at.date() if published_at is not None else None
    mentions = []
    done = 0
    for head in _heads(text):
        if head < done:
            continue
        for start in _starts_around(text, head):
            match = _PATTERN.match(text, start) if start >= done else None
            if match is not None and match.end() > head:
                break
        else:
            continue
        done = match.end()
        resolved = _resolve(match, anchor)
        if resolved is None:
            continue
        value, precision, relative = resolved
        if value is None and not relative:  # "February 30": not a calendar date
            continue
        mentions.append(
            DateMention(
                text=match.group(0),
                start=match.start(),
                end=match.end(),
                value=value,
                precision=precision if value is not None else None,
                relative=relative,
            )
        )
    return mentions


def _starts_around(text: str, head: int) -> list[int]:
    """Where an expression around the head word may begin: two words back ("9th of September"), one word
    back ("on Monday", "in 2010"), or the head itself; earliest first, so the longest expression wins."""
    starts = [head]
    position = head
    for _ in range(2):
        if position < 2 or text[position - 1] != " ":
            break
        previous = max(text.rfind(" ", max(0, position - 16), position - 1),
                       text.rfind("\n", max(0, position - 16), position - 1)) + 1
        if previous >= position - 1 or (previous == 0 and position - 1 > 15):
            break
        starts.insert(0, previous)
        position = previous
    return starts


def _resolve(match: re.Match[str], anchor: date | None) -> tuple[str | None, str, bool] | None:
    kind = match.lastgroup
    g = match.group
    if kind == "iso":
        return _day(int(g("iso_y")), int(g("iso_m")), int(g("iso_d"))), "day", False
    if kind in ("md", "dm"):
        month, day, year = _MONTHS[g(f"{kind}_m").rstrip(".").lower()], int(g(f"{kind}_d")), g(f"{kind}_y")
        if year is not None:
            return _day(int(year), month, day), "day", False
        if anchor is None:
            return None, "day", True
        return _day(_nearest_year(anchor, month, day), month, day), "day", True
    if kind == "my":
        return f"{int(g('my_y')):04d}-{_MONTHS[g('my_m').rstrip('.').lower()]:02d}", "month", False
    if kind == "mo":
        if anchor is None:
            return None, "month", True
        month = _MONTHS[g("mo_m").rstrip(".").lower()]
        prefix = match.group(0).split()[0].lower()
        year = anchor.year
        # A month named alone is the latest one not after the publication month, unless "next" says otherwise.
        if prefix == "next" or (prefix != "last" and month > anchor.month and _future_context(match)):
            year += 1 if month <= anchor.month else 0
        elif month > anchor.month or (prefix == "last" and month == anchor.month):
            year -= 1
        return f"{year:04d}-{month:02d}", "month", True
    if kind == "y":
        return g("y_y"), "year", False
    if kind == "rel":
        if anchor is None:
            return None, g("rel_unit"), True
        step = {"last": -1, "next": 1, "this": 0}[g("rel_dir").lower()]
        if g("rel_unit").lower() == "year":
            return f"{anchor.year + step:04d}", "year", True
        month_index = anchor.year * 12 + anchor.month - 1 + step
        return f"{month_index // 12:04d}-{month_index % 12 + 1:02d}", "month", True
    if kind == "wd":
        if anchor is None:
            return None, "day", True
        target = _WEEKDAYS[g("weekday").lower()]
        week = g("wd_week")
        if week is not None:  # "Monday last week": that weekday in the calendar week before (after, this) one
            shift = {"last": -1, "next": 1, "this": 0}[week]
            monday = anchor - timedelta(days=anchor.weekday()) + timedelta(weeks=shift)
            return (monday + timedelta(days=target)).isoformat(), "day", True
        back = (anchor.weekday() - target) % 7
        prefix = (g("wd_pre") or "").lower()
        if prefix == "next" or (prefix != "last" and back and _future_context(match)):
            ahead = (target - anchor.weekday()) % 7 or 7
            return (anchor + timedelta(days=ahead)).isoformat(), "day", True
        if prefix == "last" and back == 0:
            back = 7
        # A bare or "on" weekday in news copy is the most recent one: reports look back far more than ahead.
        return (anchor - timedelta(days=back)).isoformat(), "day", True
    if kind == "word":
        if anchor is None:
            return None, "day", True
        shift = _DAY_WORDS[g("word").lower()]
        return (anchor + timedelta(days=shift)).isoformat(), "day", True
    return None


_FUTURE_BEFORE = re.compile(
    r"\b(?:will|would|shall|'ll|is due|are due|is expected|are expected|plans? to|scheduled|set to|is to|are to|"
    r"going to|until|by|from)\b[^.!?;]{0,40}$"
)
_FUTURE_AFTER = re.compile(r"[^.!?;]{0,40}?\b(?:will|shall|is due|are due|is set to|are set to|is to|are to)\b")
_REPORTED = re.compile(r"\b(?:said|announced|told|reported|confirmed|added|stated|wrote|declared)\s*$")


def _future_context(match: re.Match[str]) -> bool:
    """Whether the sentence points ahead: "talks will resume on Monday", "On Tuesday the library will open".

    A reporting verb right before the date ("said on Tuesday it would build") dates the statement: past.
    """
    text = match.string
    before = text[max(0, match.start() - 60) : match.start()]
    if _REPORTED.search(before):
        return False
    return _FUTURE_BEFORE.search(before) is not None or _FUTURE_AFTER.match(text, match.end(), match.end() + 60) is not None


def _day(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:  # "February 30"
        return None


def _nearest_year(anchor: date, month: int, day: int) -> int:
    # A date written without a year is the one nearest the publication date: "December 28" in a January
    # article is last December, "January 3" in a December article is next January.
    best = anchor.year
    for year in (anchor.year - 1, anchor.year + 1):
        try:
            if abs((date(year, month, day) - anchor).days) < abs((date(best, month, day) - anchor).days):
                best = year
        except ValueError:
            continue
    return best


# Time zones written after a clock time ("13:59 GMT", "4:45 p.m. EST"): a page's time stamp. Read here by the
# stamp lines and by the entity stage, which must not take a zone for an organisation.
TIME_ZONES = frozenset(
    """
    gmt utc et ct mt pt est edt cst cdt mst mdt pst pdt akst akdt hst bst ist cet cest eet eest wet west msk
    aest aedt acst acdt awst nzst nzdt jst kst hkt sgt pht wib
    """.split()
)
# The words a page's date stamp is made of besides its numbers: labels, months, weekdays, clock words and zones
_STAMP_WORDS = (
    frozenset(_MONTHS) | frozenset(_WEEKDAYS) | TIME_ZONES
    | frozenset("mon tue tues wed thu thur thurs fri sat sun".split())
    | frozenset("posted published updated last first modified edited date dated time on at of".split())
    | frozenset("st nd rd th am pm a p m".split())
)
_STAMP_TOKEN = re.compile(r"[^\W\d_]+|\d+")
_NUMERIC_DATE = re.compile(r"\b\d{1,4}\s?[./-]\s?\d{1,2}\s?[./-]\s?\d{2,4}\b")
# a year of the 20th or 21st century written out ("2013"); the story signature finds its years with it too
FOUR_DIGIT_YEAR = re.compile(r"\b(?:19|20)[0-9]{2}\b")
_SPACE_BEFORE_POINT = re.compile(r"\s+([.,])")
_MONTH_WORD = re.compile(r"\b(?:" + "|".join(_MONTHS) + r")\b", re.IGNORECASE)
# a day written in numbers with a four-digit year (09/14/2013, 14.09.2013): read when only one order is a date
_NUMERIC_DAY = re.compile(r"\b(\d{1,2})\s?[./-]\s?(\d{1,2})\s?[./-]\s?((?:19|20)\d\d)\b")


def is_date_stamp(line: str) -> bool:
    """A line that only says when the page was written: a date, perhaps a clock time, a weekday and a label.

    Pages print one at the top of a story ("Posted: May 3, 2013 4:12 PM EDT", "Updated 09/26/2013"); it is
    neither a headline nor a standfirst nor prose. A line with any other word is not a stamp.

    >>> is_date_stamp("Published on Friday, 27 September 2013, 10:05 GMT"), is_date_stamp("2013-09-26")
    (True, True)
    >>> is_date_stamp("Flood wall approved on May 3, 2013"), is_date_stamp("May 3")
    (False, False)
    """
    tokens = _STAMP_TOKEN.findall(line)
    if len(tokens) > 20 or not any(t.isdigit() for t in tokens):
        return False
    if any(not t.isdigit() and t.casefold() not in _STAMP_WORDS for t in tokens):
        return False
    named_month = any(t.casefold() in _MONTHS for t in tokens)
    return bool(_NUMERIC_DATE.search(line) or (named_month and FOUR_DIGIT_YEAR.search(line)))


def stamp_day(line: str) -> date | None:
    """The calendar day a date stamp writes out in full (day, month and year), None when it does not
    (``09/10/2013`` may be either of two days; ``09/14/2013`` may not).

    Stamps are printed in capitals (``SEPTEMBER 16, 2013``) and, in tokenised text, with spaces before their
    points and commas (``Dec . 7 , 2009``); as the line is known to be a stamp, it is read in its plain form.

    >>> stamp_day("Posted: May 3, 2013 4:12 PM EDT"), stamp_day("Updated 09/10/2013")
    (datetime.date(2013, 5, 3), None)
    >>> stamp_day("UPDATED DEC . 7 , 2009 , 7 : 15 AM"), stamp_day("Updated 09 / 14 / 2013 01:03 PM")
    (datetime.date(2009, 12, 7), datetime.date(2013, 9, 14))
    """
    plain = _MONTH_WORD.sub(lambda m: m.group(0).capitalize(), _SPACE_BEFORE_POINT.sub(r"\1", line))
    for mention in find_dates(plain, None):
        if mention.precision == "day" and not mention.relative and mention.value is not None:
            return date.fromisoformat(mention.value)
    numeric = _NUMERIC_DAY.search(plain)
    if numeric is not None:
        first, second, year = (int(part) for part in numeric.groups())
        month, day = sorted((first, second))
        if month <= 12 < day and (value := _day(year, month, day)) is not None:
            return date.fromisoformat(value)
    return None
