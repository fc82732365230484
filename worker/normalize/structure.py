"""Page structure: clean lines → the stories on the page, each with headline, standfirst, byline, paragraphs.

reads: cleaned lines (blank lines kept), the producer's title — writes: StoryParts per story, main story first

Scraped pages carry more than one story. The cues this module reads, all of them visible in plain text:

* a **marker line** ("Related Story", "Related Articles", "Read more") opens a reproduced story of its own
  (kind ``related``); other furniture lines ("Advertisement", "Share this article") are dropped;
* a **headline line** (short, capitalised, no closing full stop) after a blank line and before a body paragraph
  opens a box with its own headline (kind ``sidebar``), unless the text under it reads on from the story above:
  then it is a **crosshead** and stays in the story, as an HTML page's ``<h2>`` does. A box's first paragraph
  opens a story of its own, so it introduces whom it names; a crosshead's section may open with a pronoun or a
  linking word ("He", "But", "Meanwhile") or name someone by the surname alone whom the story above named in
  full ("Tennant said" under "Councillor Maria Tennant");
* under a headline, a short line without a closing full stop, or one followed by a datelined paragraph, is the
  **standfirst**; a "By ..." line near the top is the **byline**;
* a line at the top of a story that only gives a date ("Posted: May 3, 2013 4:12 PM EDT") is its **stamp**, not
  its headline or standfirst (a reproduced story's stamp is when it was first published);
* a line at the top of a story that is only a web address is the story's **address** (where it was first
  published), not its text: taken for a paragraph, it would leave the main story nothing but itself and push the
  real headline and body into a box.

Hard-wrapped text (paragraphs of several short lines between blank lines) is re-flowed first, so the same cues
apply to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from worker.addresses import address_line
from worker.normalize.dates import is_date_stamp

# Lines that introduce a reproduced story. Matched on the whole line, case-insensitively; the marker may be
# glued to the next headline when a scraper lost the line break ("Related StoryUS suspends...").
_RELATED_MARKER = re.compile(
    r"^(?:related\s+(?:story|stories|article|articles|coverage|content|news|link|links|reading)|related|"
    r"see\s+also|more\s+on\s+this\s+story|read\s+more|also\s+read|read\s+also|recommended(?:\s+stories)?)"
    r"\s*:?\s*(?=$|[A-Z0-9‘“\"'])",
    re.IGNORECASE,
)
# Page furniture: dropped wherever it stands on a line of its own.
_FURNITURE = re.compile(
    r"^(?:advertisement|advertising|sponsored(?:\s+content)?|story\s+continues\s+below(?:\s+advertisement)?|"
    r"continue\s+reading(?:\s+the\s+main\s+story)?|share\s+this(?:\s+(?:article|story))?|share|tweet|"
    r"click\s+here.*|sign\s+up.*newsletter.*|subscribe(?:\s+now)?|print|email|comments?|"
    r"(?:photo|image|video)\s*:.*|skip\s+to\s+(?:main\s+)?content|back\s+to\s+top|"
    r"follow\s+us\s+on\s+\w+|all\s+rights\s+reserved.*|©.*|copyright\s+©?.*)\s*$",
    re.IGNORECASE,
)
_READ_MORE_INLINE = re.compile(r"^(?:read\s+more|see\s+also|related)\s*:\s+\S", re.IGNORECASE)
_BYLINE = re.compile(r"^(?:[Bb]y|BY)\s+[A-Z\u00c0-\u024f][\w.'’\-]*(?:[ ,]+(?:and\s+|&\s+)?[\w.'’\-|]+){0,9}$")
# "WASHINGTON —", "BEIRUT, Lebanon (AP) —", "LONDON, Oct 3 (Reuters) -": a capitalised place, optional
# region, date and agency, then a dash.
_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z'’.\-]+(?:\s[A-Z][A-Z'’.\-]+){0,3}(?:,\s[A-Z][A-Za-z.]+(?:\s[A-Z][A-Za-z.]+){0,2})?)"
    r"(?:,\s[A-Z][a-z]{2,8}\.?\s[0-9]{1,2})?"
    r"(?:\s?\((?P<agency>[A-Za-z][\w .&-]{0,30})\))?"
    r"\s?(?P<sep>—|–|--|-|:)\s"
)
_CLOSING_MARKS = "\"'”’)]»"
# Words a story's first paragraph cannot open with, since they point back to what came before.
_READS_ON_WORDS = frozenset(
    "he she they his her their him them but however meanwhile still yet and also instead nevertheless nonetheless "
    "moreover furthermore besides indeed likewise similarly thus hence therefore".split()
)
_OPENING_WORD = re.compile(r"^[‘“\"'(]?([A-Za-z]+)\b")
# Two capitalised words, a given name and a surname ("Maria Tennant", "Jean-Marc Ayrault"); overlapping matches.
_GIVEN_AND_SURNAME = re.compile(
    r"(?<![\w’'\-])(?=([A-Z][a-z]+(?:-[A-Z][a-z]+)?)\s((?:Mc|Mac)?[A-Z][a-z]+(?:-[A-Z][a-z]+)?)\b)"
)
# Capitalised words that are not given names: sentence openers, days, months, compass points and the like.
_NOT_GIVEN_NAMES = frozenset(
    "the a an in on at of for to by with from as after before when while if but and or so his her their its this "
    "that these those it he she they we you there here our your my what who which where why how not no all some "
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july august "
    "september october november december north south east west northern southern eastern western central "
    "greater upper lower new old great united saint st san santa".split()
)
_COURTESY_TITLES = frozenset({"Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof"})
_CAPITALISED = re.compile(r"(?<![\w’'\-])(?:Mc|Mac)?[A-Z][a-z]+(?:-[A-Z][a-z]+)?(?![\w\-])")
_LOWER_CASE_WORD = re.compile(r"(?<![\w’'\-])[a-z]+(?![\w\-])")
_NEXT_CAPITALISED = re.compile(r"\s[A-Z]")
_SECTION_PARAGRAPHS = 3


def _ends_with_stop(line: str) -> bool:
    """True when the line ends like a sentence or clause (closing quotes and brackets aside)."""
    return line.rstrip(_CLOSING_MARKS)[-1:] in (".", "!", "?", "…", ":", ";", ",")


@dataclass
class StoryParts:
    kind: Literal["main", "sidebar", "related"]
    headline: str | None = None
    standfirst: str | None = None
    byline: str | None = None
    stamps: list[str] = field(default_factory=list)  # the story's date stamp lines ("Posted ...", "Updated ...")
    address: str | None = None  # the web address printed at the top of the story
    paragraphs: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Block:
    text: str
    after_gap: bool  # a blank line (or the start of a marked section) comes before it


def split_stories(lines: list[str], title: str | None = None, *, wrapped: bool | None = None) -> list[StoryParts]:
    """Stories on a page of cleaned lines, the main story first. Stories left without text are dropped.

    >>> page = ["Ferry service resumes", "", "The ferry sailed again on Friday after repairs.", "",
    ...         "Related Story", "Harbour closed for repairs", "Crews said the work would take a week."]
    >>> [(s.kind, s.headline, s.paragraphs) for s in split_stories(page)]
    [('main', 'Ferry service resumes', ['The ferry sailed again on Friday after repairs.']), \
('related', 'Harbour closed for repairs', ['Crews said the work would take a week.'])]
    """
    blocks = _blocks(lines, wrapped)
    crossheads = _Crossheads(lines)
    stories: list[StoryParts] = [StoryParts("main")]
    current = stories[0]
    expect_headline = True  # the top of a story may carry a headline
    for index, block in enumerate(blocks):
        text = block.text
        marker = _RELATED_MARKER.match(text)
        if marker and not _READ_MORE_INLINE.match(text):
            rest = text[marker.end() :].strip()
            current = StoryParts("related")
            stories.append(current)
            expect_headline = True
            if not rest:
                continue
            text = rest
        elif _FURNITURE.match(text) or _READ_MORE_INLINE.match(text):
            continue
        following = blocks[index + 1].text if index + 1 < len(blocks) else None

        if not current.paragraphs and is_date_stamp(text):
            current.stamps.append(text)
            continue
        if not current.paragraphs and (address := address_line(text)):
            current.address = current.address or address
            continue
        if expect_headline and current.headline is None and not current.paragraphs and _looks_like_headline(text):
            if following is not None:  # a headline over nothing is not a story
                current.headline = text
                continue
        if (
            current.paragraphs
            and block.after_gap
            and _looks_like_headline(text)
            and following is not None
            and _looks_like_body(following)
            and not crossheads.reads_on(current, _section(blocks, index + 1))
        ):
            # A headline in the middle of a story opens a box of its own.
            current = StoryParts("sidebar" if current.kind == "main" else current.kind, headline=text)
            stories.append(current)
            continue
        if not current.paragraphs:
            if current.byline is None and _BYLINE.match(text):
                current.byline = text
                continue
            if (
                current.headline is not None
                and current.standfirst is None
                and not dateline_of(text)
                and len(text.split()) <= 60
                and (not _ends_with_stop(text) or (following is not None and dateline_of(following) is not None))
                and following is not None
            ):
                current.standfirst = text
                continue
        current.paragraphs.append(text)
        expect_headline = False

    main = stories[0]
    if title:
        # The producer's title names the main story; a first line repeating it is not body text.
        if main.headline is None and main.paragraphs and _same_words(main.paragraphs[0], title):
            main.paragraphs.pop(0)
        main.headline = title
    return [s for s in stories if s.paragraphs]


def dateline_of(paragraph: str) -> re.Match[str] | None:
    """The dateline at the head of a paragraph (``WASHINGTON —``), if there is one."""
    match = _DATELINE.match(paragraph)
    if match is None:
        return None
    place = match.group("place")
    # Upper-case sentence openers ("NATO - the alliance", "UPDATE:") are not places.
    letters = [c for c in place if c.isalpha()]
    if len(letters) < 3 or (match.group("sep") == ":" and match.group("agency") is None):
        return None
    return match


def _looks_like_headline(text: str) -> bool:
    words = text.split()
    if not 2 <= len(words) <= 20 or len(text) > 160:
        return False
    first = text.lstrip("‘“\"'(")[:1]
    if not (first.isupper() or first.isdigit()):
        return False
    ending = text.rstrip(_CLOSING_MARKS)  # a paragraph that is one quoted sentence ends in a stop too
    if ending.endswith((".", ",", ";", ":")) and not ending.endswith("..."):
        return False
    if text[:1] in "“\"" and text[-1:] in "”\"" and ending.endswith(("?", "!")):
        return False  # a quoted question or cry standing alone: speech, which a headline only cites in part
    if _BYLINE.match(text) or dateline_of(text):
        return False
    # Headlines are mostly capitalised or sentence case; a line of lower-case prose with no stop is a fragment.
    return True


def _section(blocks: list[_Block], start: int) -> list[str]:
    """The paragraphs under a heading (its first one is blocks[start]): up to the next heading or marker, at most
    three."""
    section = [blocks[start].text]
    for block in blocks[start + 1 : start + _SECTION_PARAGRAPHS]:
        if (block.after_gap and _looks_like_headline(block.text)) or _RELATED_MARKER.match(block.text):
            break
        section.append(block.text)
    return section


class _Crossheads:
    """Tells a crosshead from a box's headline, for the headings in the middle of one page's stories.

    Each heading's section is read once; the page's lower-case words and each story's full names are gathered once
    however many headings there are, so a page of a thousand headings costs what its text does.
    """

    def __init__(self, page: list[str]) -> None:
        self._page = page
        self._lower_words: set[str] | None = None
        self._story: StoryParts | None = None
        self._read = 0  # paragraphs of that story whose names are gathered
        self._surnames: set[str] = set()

    def reads_on(self, story: StoryParts, section: list[str]) -> bool:
        """True when a heading's section goes on with the story above: the heading is a crosshead.

        >>> above = StoryParts("main", paragraphs=["Councillor Maria Tennant said the baths would close in May."])
        >>> _Crossheads(above.paragraphs).reads_on(above, ["Tennant said residents would be asked about a new pool."])
        True
        >>> _Crossheads(above.paragraphs).reads_on(above, ["Swimming clubs will train at the university from May."])
        False
        """
        opener = _OPENING_WORD.match(section[0])
        if opener and opener.group(1).casefold() in _READS_ON_WORDS:
            return True
        surnames = self._surnames_of(story)
        text = " ".join(section)
        seen: set[str] = set()
        for word in _CAPITALISED.finditer(text):
            name = word.group()
            if name in surnames and name not in seen:
                seen.add(name)  # the first mention decides: a full name there introduces the person anew
                if _is_bare(text, word.start(), word.end()):
                    return True
        return False

    def _surnames_of(self, story: StoryParts) -> set[str]:
        if story is not self._story:
            self._story, self._read, self._surnames = story, 0, set()
        if self._lower_words is None:
            self._lower_words = {w for line in self._page for w in _LOWER_CASE_WORD.findall(line)}
        for paragraph in story.paragraphs[self._read :]:
            for pair in _GIVEN_AND_SURNAME.finditer(paragraph):
                given, surname = pair.group(1), pair.group(2)
                if given.casefold() not in _NOT_GIVEN_NAMES and surname.casefold() not in self._lower_words:
                    self._surnames.add(surname)
        self._read = len(story.paragraphs)
        return self._surnames


def _is_bare(text: str, start: int, end: int) -> bool:
    """True when the name at text[start:end] stands alone: "Tennant said", "Ms Tennant", not "Maria Tennant"."""
    before = text[max(0, start - 40) : start]
    if before[-1:].isspace() and (words := before.split()):
        word = words[-1]
        if word[:1].isupper() and not _ends_with_stop(word) and word.rstrip(".") not in _COURTESY_TITLES:
            return False  # a given name or a title before it: the person is named in full
    return not _NEXT_CAPITALISED.match(text, end)  # "Tennant Street" is another name


def _looks_like_body(text: str) -> bool:
    return len(text.split()) >= 12 or bool(dateline_of(text))


def _same_words(a: str, b: str) -> bool:
    return re.sub(r"\W+", " ", a).strip().casefold() == re.sub(r"\W+", " ", b).strip().casefold()


def _blocks(lines: list[str], wrapped: bool | None) -> list[_Block]:
    if wrapped is None:
        wrapped = _is_hard_wrapped(lines)
    blocks: list[_Block] = []
    gap = True
    pending: list[str] = []
    for line in lines:
        if not line:
            if pending:
                blocks.append(_Block(" ".join(pending), gap))
                pending = []
            gap = True
            continue
        if wrapped and not _RELATED_MARKER.match(line) and not _FURNITURE.match(line):
            pending.append(line)
            continue
        if pending:
            blocks.append(_Block(" ".join(pending), gap))
            pending, gap = [], False
        blocks.append(_Block(line, gap))
        gap = False
    if pending:
        blocks.append(_Block(" ".join(pending), gap))
    return blocks


def _is_hard_wrapped(lines: list[str]) -> bool:
    # Hard-wrapped prose: most lines are short and many end mid-sentence. One-paragraph-per-line text (what
    # scrapers and feeds produce) has long, varied lines.
    texts = [line for line in lines if line]
    if len(texts) < 4:
        return False
    # A wrap falls mid-sentence, so the next line usually goes on in lower case; a headline over its body
    # does not.
    continued = sum(
        1 for a, b in zip(lines, lines[1:]) if a and b and not _ends_with_stop(a) and b[0].islower()
    )
    short = sum(1 for line in texts if len(line) <= 100)
    return short >= 0.8 * len(texts) and continued >= 0.25 * len(texts)
