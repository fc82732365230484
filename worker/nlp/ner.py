"""Running the NER model over article texts: truecasing, chunking, offsets kept exact.

The small model reads capitalisation as a strong signal, so all-caps lines (headlines, sports tables, datelines
such as ``LONDON 1996-08-30``) come out as garbage. We hand the model a *truecased copy* of the text of exactly
the same length, so every offset it returns is also an offset into the original, and slice mentions from the
original text. Long texts are cut into chunks at line breaks so one article cannot make a single huge ``Doc``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from worker.nlp.items import Mention

KEPT_LABELS: frozenset[str] = frozenset({"PERSON", "ORG", "NORP", "GPE", "LOC", "FAC"})
# Labels the model gives names it has misread (it calls Aleppo NORP or LANGUAGE): kept until the repair pass.
NAME_LABELS: frozenset[str] = KEPT_LABELS | {"LANGUAGE", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW"}

CHUNK_CHARS = 20_000  # a chunk is cut at a line break (or a space) at most this far from its start
_WORD = re.compile(r"[^\W\d_]+(?:['’.\-][^\W\d_]+)*\.?")
_LETTERS = re.compile(r"[^\W\d_]+")
# Short words that stay lower case inside a truecased line ("Take Over at Top after Innings Victory").
_LOWER_WORDS = frozenset(
    "a an and as at but by for from in into of on or over per the to up via vs with after before than".split()
)
_LEADING_ARTICLE = re.compile(r"^(?:the|The|THE)\s+")
_TRAILING_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")
_ATTACHED_PREFIX = re.compile(r"(?:ex|anti|pro|non|pan|post|pre|mid|neo|former)-(?=[A-Z])")
_FIGURE = re.compile(r"[\d.,:/%-]*\d[\d.,:/%-]*")
_HEADLINE_WORDS = 5  # a shouting line of at least this many words is a headline


def is_shouting(line: str) -> bool:
    """True when most words of the line are written in capitals (a headline, table row or dateline).

    >>> is_shouting("LEICESTERSHIRE TAKE OVER AT TOP"), is_shouting("NATO met in Brussels")
    (True, False)
    """
    words = _LETTERS.findall(line)
    if not words:
        return False
    capital = sum(1 for w in words if len(w) > 1 and w.isupper())
    return capital >= 1 and capital * 2 >= len(words)


def truecase(text: str) -> str:
    """A copy of ``text`` with shouting lines in title case; always the same length as ``text``.

    >>> truecase("LONDON 1996-08-30\\nShe said NATO would.")
    'London 1996-08-30\\nShe said NATO would.'
    >>> truecase("OKAFOR LIFTS TITLE AS RIVALS FADE\\nAda Okafor won the title.")
    'Okafor lifts title as rivals fade\\nAda Okafor won the title.'
    """
    lines = text.split("\n")
    shouting = [is_shouting(line) for line in lines]
    if not any(shouting):
        return text
    common, written = _body_words(line for line, shouts in zip(lines, shouting) if not shouts)
    return "\n".join(
        _truecase_line(line, common | _unwritten(line, written)) if shouts else line
        for line, shouts in zip(lines, shouting)
    )


def _unwritten(line: str, written: frozenset[str]) -> frozenset[str]:
    """The words of a shouting headline that the rest of the text never writes: its verbs and nouns ("LIFTS",
    "FADE"), lower-cased for the model, which would read them as part of a name. A name in a headline is nearly
    always written again below it. A shorter shouting line (a dateline, a table's label) is left alone: its
    place or team need not appear in the text. (CoNLL-2003 dev: F1 0.864 -> 0.867, precision and recall up.)"""
    words = _LETTERS.findall(line)
    if len(words) < _HEADLINE_WORDS:
        return frozenset()
    return frozenset(w.lower() for w in words if len(w) > 1 and w.lower() not in written)


_BODY_WORD = re.compile(r"(?<![\w'’.-])([^\W\d_]+)(?![\w'’-])")


def _body_words(lines: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Over the lines that do not shout, in one pass: the common words (written in lower case and never
    capitalised inside a sentence: not names) and every word written at all, lower-cased.

    A headline's "TAKE", "NAMED" or "CAPTAIN" are then lower-cased for the model, which otherwise reads a
    title-cased headline ("Shearer Named as England Captain") as one long name.
    """
    lower: set[str] = set()
    named: set[str] = set()
    written: set[str] = set()
    for line in lines:
        previous_end = 0
        for match in _BODY_WORD.finditer(line):
            word = match.group(1)
            written.add(word.lower())
            if word.islower():
                lower.add(word)
            elif previous_end and line[previous_end:match.start()].strip() not in (".", "!", "?", ":", "\"", "“"):
                named.add(word.lower())  # capitalised after other words: a name (or part of one)
            previous_end = match.end()
    return frozenset(lower - named), frozenset(written)


def _truecase_line(line: str, common: frozenset[str] = frozenset()) -> str:
    first = True

    def fix(match: re.Match[str]) -> str:
        nonlocal first
        word = match.group(0)
        lowered = word.lower()
        if not first and (lowered in _LOWER_WORDS or lowered in common):
            cased = lowered
        else:
            # capitalise each letter run: O'NEILL -> O'Neill, AL-ASSAD -> Al-Assad
            cased = _LETTERS.sub(lambda m: m.group(0)[:1].upper() + m.group(0)[1:].lower(), word)
        first = False
        # a few characters change length when their case changes (ß -> SS): keep the original then
        return cased if len(cased) == len(word) else word

    return _WORD.sub(fix, line)


def chunk_spans(text: str, limit: int = CHUNK_CHARS) -> list[tuple[int, int]]:
    """Cut ``text`` into ``[start, end)`` pieces of at most ``limit`` characters, at line breaks where possible.

    >>> chunk_spans("aaaa\\nbbbb\\ncccc", limit=10)
    [(0, 10), (10, 14)]
    """
    spans = []
    start = 0
    while len(text) - start > limit:
        end = text.rfind("\n", start + 1, start + limit)
        if end <= start:
            end = text.rfind(" ", start + 1, start + limit)
        end = start + limit if end <= start else end + 1
        spans.append((start, end))
        start = end
    if start < len(text) or not spans:
        spans.append((start, len(text)))
    return spans


def tag_texts(nlp: Any, texts: Sequence[str], batch_size: int = 16) -> list[list[Mention]]:
    """NER mentions of names (``NAME_LABELS``) for each text, offsets into that text, in text order."""
    pieces: list[tuple[int, int, int]] = []  # (text index, chunk start, chunk end)
    for index, text in enumerate(texts):
        pieces.extend((index, start, end) for start, end in chunk_spans(text))
    cased = (truecase(texts[i][start:end]) for i, start, end in pieces)
    mentions: list[list[Mention]] = [[] for _ in texts]
    for (index, offset, _), doc in zip(pieces, nlp.pipe(cased, batch_size=batch_size)):
        text = texts[index]
        for ent in doc.ents:
            if ent.label_ in NAME_LABELS:
                for start, end in _name_pieces(text, offset + ent.start_char, offset + ent.end_char):
                    mention = _trimmed(text, start, end, ent.label_)
                    if mention is not None:
                        mentions[index].append(mention)
    return mentions


# Separators no name spans: a line break, a spaced dash or bracket, a comma. The model runs a table row or a
# results line together ("Scott Draper ( Australia", "Lithuania - Danius Gleveckas", "Oval , Surrey").
_SEPARATOR = re.compile(r"\s*\n\s*| [-–—(){}\[\]] | [()] ?|, ")
# what may follow a comma inside one name: "Martin Luther King, Jr.", "Acme, Inc."
_AFTER_COMMA_IN_NAME = re.compile(r"(?:Jr|Sr|Inc|Ltd|LLC|Co|Corp|PLC|AG|SA|NV)\b\.?")


def _name_pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``[start, end)`` cut at the separators no name spans.

    >>> text = "Scott Draper ( Australia ) won"
    >>> [text[s:e] for s, e in _name_pieces(text, 0, 24)]
    ['Scott Draper', 'Australia']
    """
    pieces = []
    piece_start = start
    for match in _SEPARATOR.finditer(text, start, end):
        if match.group(0) == ", " and _AFTER_COMMA_IN_NAME.match(text, match.end()):
            continue
        pieces.append((piece_start, match.start()))
        piece_start = match.end()
    pieces.append((piece_start, end))
    return [(s, e) for s, e in pieces if e > s]


def _trimmed(text: str, start: int, end: int, label: str) -> Mention | None:
    """The mention without a leading "the" or a trailing possessive, which are not part of the name."""
    surface = text[start:end]
    article = _LEADING_ARTICLE.match(surface)
    if article and article.end() < len(surface):
        start += article.end()
    prefix = _ATTACHED_PREFIX.match(text, start, end)
    if prefix and prefix.end() < end:
        start = prefix.end()  # "ex-England" is England, "anti-Russian" Russian
    possessive = _TRAILING_POSSESSIVE.search(text[start:end])
    if possessive and possessive.start() > 0:
        end = start + possessive.start()
    surface = text[start:end].rstrip()
    # names end with a capitalised word: "Interfax news agency" is the name "Interfax", and a figure after a
    # name is a score or a count ("J. Ratcliffe 63", "Kent 108-3")
    words = surface.split(" ")
    while len(words) > 1 and (words[-1][:1].islower() or _FIGURE.fullmatch(words[-1])):
        words.pop()
    surface = " ".join(words)
    if not any(c.isalpha() for c in surface):
        return None
    return Mention(start, start + len(surface), surface, label)


