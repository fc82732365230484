"""Quotes: direct quotations and who said them, where the text says.

A quotation is the text between paired quotation marks (curly or straight) of at least three words (a quoted
word or two is a scare quote, and capitalised words without punctuation a name or a title, not speech). A
quotation whose paragraph ends without a closing mark runs on when the next paragraph opens with a quotation
mark, the news convention for long quotes. The speaker
is the person (or organisation) named beside a speech verb right after the quote ("…,” Kirby said",
"…,” said Kirby"), right before it ("Earnest added: “…”"), a pronoun standing for the last person named
before the quote ("…,” he said"), the person who opened the quote's sentence with a speech verb ("Kirby said
the militaries will … during “…”"), or else the speaker of the quote just before it in the same or the previous
paragraph.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from worker.nlp.items import Entity, Quote

SPEECH_VERBS = (
    "said|says|say|added|adds|told|tells|stated|states|asked|asks|explained|explains|noted|notes|wrote|writes|"
    "tweeted|declared|insisted|insists|warned|warns|argued|argues|continued|replied|responded|recalled|"
    "acknowledged|admitted|claimed|claims|suggested|announced|stressed|emphasized|emphasised|urged|according to|"
    "accused|accuses|called|calls|described|describes|saying|quoted"
)
_VERB = re.compile(rf"\b(?:{SPEECH_VERBS})\b")
_PRONOUN = re.compile(r"\s*,?\s*(?:he|she)\s+(?:" + SPEECH_VERBS + r")\b", re.IGNORECASE)
_OPEN, _CLOSE = "“\"", "”\""
_MIN_WORDS = 3
_WINDOW = 80  # characters beside a quote searched for its speaker
_SENTENCE_WINDOW = 600  # characters before a quote searched for the person who opened its sentence


def find_quotations(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` of the quoted text (inside the marks) of every quotation, paragraphs joined.

    >>> text = 'He said: “We will rebuild the port.” Then “fine” was all.'
    >>> [text[s:e] for s, e in find_quotations(text)]
    ['We will rebuild the port.']
    """
    spans = []
    i, n = 0, len(text)
    while i < n:
        if text[i] not in _OPEN:
            i += 1
            continue
        start = i + 1
        end = _closing(text, start)
        while end is None:
            # unclosed at the paragraph's end: a long quote goes on if the next paragraph opens with a mark
            paragraph_end = text.find("\n", start)
            if paragraph_end < 0:
                break
            following = paragraph_end + 1
            while following < n and text[following] in " \n":
                following += 1
            if following < n and text[following] in _OPEN:
                end = _closing(text, following + 1)
                start_next = following + 1
                if end is None:
                    start = start_next
                    continue
            break
        if end is None:
            i = start
            continue
        quote_start = i + 1
        if len(text[quote_start:end].split()) >= _MIN_WORDS and not _is_title_phrase(text[quote_start:end]):
            spans.append((quote_start, end))
        i = end + 1
    return spans


_TITLE_LINKS = frozenset("a an and at by for from in of on or the to with".split())


def _is_title_phrase(quoted: str) -> bool:
    """Quoted words that are a name or a title, not speech: every word capitalised (but the short links), no
    punctuation ("the “Joint Implementation Centre”", "“The Wind in the Willows”").

    >>> _is_title_phrase("Joint Implementation Centre"), _is_title_phrase("We Will Rebuild, He Said")
    (True, False)
    """
    words = quoted.split()
    if len(words) > 8 or any(c in quoted for c in ".,;:!?"):
        return False
    return all(w[:1].isupper() or w.lower() in _TITLE_LINKS for w in words) and words[0][:1].isupper()


def _closing(text: str, start: int) -> int | None:
    """Index of the closing mark of a quote opened just before ``start``, within its paragraph."""
    paragraph_end = text.find("\n", start)
    paragraph_end = len(text) if paragraph_end < 0 else paragraph_end
    for j in range(start, paragraph_end):
        if text[j] in _CLOSE and (text[j] == "”" or j + 1 >= len(text) or not text[j + 1].isalnum()):
            if text[j] == '"' and j > start and text[j - 1] == " ":
                return None  # a straight mark after a space opens the next quote: this one is unclosed
            return j
    return None


def attribute_quotes(text: str, entities: Sequence[Entity]) -> tuple[Quote, ...]:
    """Quotations with their speakers resolved to the article's entities."""
    speakers = sorted(
        ((m, e) for e in entities if e.type in ("PERSON", "ORG") for m in e.mentions), key=lambda pair: pair[0].start
    )
    quotes: list[Quote] = []
    previous: Quote | None = None
    for start, end in find_quotations(text):
        entity, cue = _speaker(text, start, end, speakers)
        if entity is None and previous is not None and previous.speaker_id and _close_by(text, previous.end, start):
            entity = next(e for e in entities if e.id == previous.speaker_id)
            cue = "previous"
        quote = Quote(
            text=text[start:end], start=start, end=end, speaker=entity.name if entity else None,
            speaker_id=entity.id if entity else None, cue=cue if entity else None,  # type: ignore[arg-type]
        )
        quotes.append(quote)
        previous = quote
    return tuple(quotes)


def _speaker(text: str, start: int, end: int, speakers) -> tuple[Entity | None, str | None]:
    after = end + 1
    sentence_end = _sentence_end(text, after)
    # "…,” Kirby said" / "…,” said Kirby" / "…,” State Department spokesman John Kirby told reporters":
    # the names in the attribution clause, a person preferred to an organisation named in his title
    limit = min(after + _WINDOW, sentence_end)
    clause = [(m, e) for m, e in speakers if after <= m.start < limit]
    if clause and _VERB.search(text, after, min(clause[-1][0].end + 40, sentence_end)):
        people = [pair for pair in clause if pair[1].type == "PERSON"]
        return (people or clause)[0][1], "after"
    if _PRONOUN.match(text, after):
        before = [pair for pair in speakers if pair[0].end <= start - 1 and pair[1].type == "PERSON"]
        if before:
            return before[-1][1], "after"
    # "Earnest added: “…”" / "Zakharova said that “…”"
    opening = start - 1
    described = _described_speaker(text, opening, speakers)
    if described is not None:
        return described, "before"
    for mention, entity in reversed(speakers):
        if mention.end <= opening and mention.end > opening - _WINDOW:
            between = text[mention.end:opening]
            if "\n" not in between and _VERB.search(between) and not any(c in between for c in "”\""):
                return entity, "before"
            break
        if mention.end <= opening - _WINDOW:
            break
    opener = _sentence_speaker(text, opening, speakers)
    return opener, "before" if opener is not None else None


def _sentence_speaker(text: str, opening: int, speakers) -> Entity | None:
    """A quote closing a sentence that a person opened with a speech verb ("Kirby said the two militaries will keep
    a channel open during “counterterrorism operations in Syria.”"): that person, however long the sentence."""
    window = max(0, opening - _SENTENCE_WINDOW)
    stops = [m.end() - 1 for m in _SENTENCE_STOP.finditer(text, window, opening)]
    start = max(text.rfind("\n", window, opening), stops[-1] if stops else window - 1)
    for mention, entity in speakers:
        if mention.start <= start or mention.end > opening or entity.type != "PERSON":
            continue
        verb = _VERB.match(text, mention.end + 1) if text[mention.end:mention.end + 1] == " " else None
        if verb is not None and not any(c in text[mention.end:opening] for c in "”\""):
            return entity
    return None


_DESCRIPTION = re.compile(r"(?:according to|said|says|told)\s+(?:the|a)\s+((?:[\w’'-]+\s+){0,4})([\w’'-]+)\s*,[^“\"\n]{0,60}$", re.I)


def _described_speaker(text: str, opening: int, speakers) -> Entity | None:
    """"According to the US spokesman, Russia was “…”": the person whose role has that title word."""
    match = _DESCRIPTION.search(text, max(0, opening - 120), opening)
    if match is None:
        return None
    head = match.group(2).lower()
    for mention, entity in reversed(speakers):
        if mention.end <= opening and entity.role and head in entity.role.lower().split():
            return entity
    return None


_SENTENCE_STOP = re.compile(r"[.!?][”\"’]?\s")  # where a sentence before a quote ended
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)|\n")  # where the sentence after a quote ends


def _sentence_end(text: str, position: int) -> int:
    match = _SENTENCE_END.search(text, position)
    return match.end() if match else len(text)


def _close_by(text: str, previous_end: int, start: int) -> bool:
    """The next quote is in the same paragraph as the previous one, or in the paragraph right after it."""
    return text.count("\n", previous_end, start) <= 1 and start - previous_end < 600


