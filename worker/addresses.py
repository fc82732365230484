"""Web addresses inside article text.

Many reports carry their source address, often on a line of its own and, in tokenised corpora, spaced out
(``http : / / www . bbc . co . uk / news / technology - 24142934``). Its words say where the text was found, not
what it reports: the entity stage tags no name inside one (``GB`` of ``en_GB``, ``axzz2gqbg2R2N`` of a tracking
fragment), and story signatures blank it so that it gives no topic terms, numbers or shingles.
"""

from __future__ import annotations

import re

# a line that is a web address (also spaced out by a tokeniser: "http : / / www . x . com / a"), or an address
# inside a line
WEB_ADDRESS = re.compile(r"(?im)^[ \t]*(?:https?[ \t]*:[ \t]*/[ \t]*/|www[ \t]*\.)[^\n]*$|\b(?:https?://|www\.)\S+")


def address_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` holds web addresses, in text order.

    >>> address_spans("See www.example.org/a today.")
    [(4, 21)]
    """
    return [match.span() for match in WEB_ADDRESS.finditer(text)]
