"""Web addresses inside article text.

Many reports carry their source address, often on a line of its own and, in tokenised corpora, spaced out
(``http : / / www . bbc . co . uk / news / technology - 24142934``). Its words say where the text was found, not
what it reports: normalization takes a line that is only an address at the top of a story for the story's
address, the entity stage tags no name inside one (``GB`` of ``en_GB``, ``axzz2gqbg2R2N`` of a tracking
fragment), and story signatures blank it so that it gives no topic terms, numbers or shingles.
"""

from __future__ import annotations

import re

# a line that is a web address (also spaced out by a tokeniser: "http : / / www . x . com / a"), or an address
# inside a line
WEB_ADDRESS = re.compile(r"(?im)^[ \t]*(?:https?[ \t]*:[ \t]*/[ \t]*/|www[ \t]*\.)[^\n]*$|\b(?:https?://|www\.)\S+")
# a line that is one web address as a browser writes it, and nothing else (not a tokeniser's spaced-out form)
_ADDRESS_LINE = re.compile(r"^<?((?:https?://|www\.)[^\s<>]+)>?$", re.IGNORECASE)


def address_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` holds web addresses, in text order.

    >>> address_spans("See www.example.org/a today.")
    [(4, 21)]
    """
    return [match.span() for match in WEB_ADDRESS.finditer(text)]


def address_line(line: str) -> str | None:
    """The address when ``line`` is one web address and nothing else.

    >>> address_line("<www.example.org/2016/10/03/a>"), address_line("See www.example.org/a")
    ('www.example.org/2016/10/03/a', None)
    """
    match = _ADDRESS_LINE.match(line)
    return match.group(1) if match else None
