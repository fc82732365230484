"""HTML page → main text lines, page metadata and the boxed stories beside the main one.

reads: HTML string — writes: HtmlPage(lines, title, author, published_at, boxes)

lxml parses the page once (no network access: no DTDs, no external entities); the size and nesting limits are
checked on that tree before anything else walks it. Boxes that carry a story of their own (an ``<aside>`` or a
"related"/"sidebar" block with a heading and prose) are cut out and returned separately, then trafilatura
extracts the main text and the metadata (title, author, date) from what is left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import lxml.etree
import lxml.html
import trafilatura

from worker.records import InputRejected, RejectCode

_PARSER = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, huge_tree=True)
_BOX_XPATH = (
    "//aside | //*[self::div or self::section][contains(translate(concat(' ', @class, ' ', @id), "
    "'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'related') or "
    "contains(translate(concat(' ', @class, ' ', @id), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "
    "'abcdefghijklmnopqrstuvwxyz'), 'sidebar')]"
)
_DATE_FROM_MARKUP = {"extensive_search": False, "original_date": True}
_HEADINGS = ("h1", "h2", "h3", "h4", "h5")
_MARKER_HEADING = re.compile(r"^(?:related(?:\s+\w+)?|see\s+also|read\s+more|more\s+stories)\s*:?\s*$", re.IGNORECASE)


@dataclass
class Box:
    kind: str  # "sidebar" or "related"
    headline: str
    paragraphs: list[str]


@dataclass
class HtmlPage:
    lines: list[str]
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    boxes: list[Box] = field(default_factory=list)


def parse_html(html: str, max_depth: int, max_elements: int) -> HtmlPage:
    """Main text (one line per block), metadata and boxed stories of a page.

    >>> page = parse_html("<html><head><title>Tide tables</title></head><body><article><p>The tide turned "
    ...                   "early today along the whole coast, the harbour master said.</p></article></body></html>",
    ...                   max_depth=100, max_elements=1000)
    >>> page.title, page.lines
    ('Tide tables', ['The tide turned early today along the whole coast, the harbour master said.'])
    """
    try:
        tree = lxml.html.document_fromstring(html, parser=_PARSER)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise InputRejected(RejectCode.EMPTY_BODY, f"the HTML has no content: {exc}") from None
    _check_limits(tree, max_depth, max_elements)
    boxes = [box for element in tree.xpath(_BOX_XPATH) if (box := _cut_box(element)) is not None]
    document = trafilatura.bare_extraction(
        tree, fast=True, with_metadata=True, include_comments=False, include_tables=False, include_images=False,
        # Dates from the page's markup only: the extensive search reads free text and copyright lines
        # ("© 2025" became 2025-01-01), a guess the contract forbids.
        date_extraction_params=_DATE_FROM_MARKUP,
    )
    if document is None:
        return HtmlPage(lines=[], boxes=boxes, title=_page_title(tree))
    return HtmlPage(
        lines=(document.text or "").split("\n"),
        title=document.title or _page_title(tree),
        author=document.author,
        published_at=_published(tree, document.date),
        boxes=boxes,
    )


def _check_limits(tree: lxml.html.HtmlElement, max_depth: int, max_elements: int) -> None:
    elements = 0
    depth = deepest = 0
    for event, _ in lxml.etree.iterwalk(tree, events=("start", "end")):
        if event == "start":
            elements += 1
            depth += 1
            deepest = max(deepest, depth)
            if elements > max_elements:
                raise InputRejected(
                    RejectCode.HTML_TOO_COMPLEX, f"the HTML has more than {max_elements} elements"
                )
            if depth > max_depth:
                raise InputRejected(
                    RejectCode.HTML_TOO_COMPLEX, f"the HTML nests deeper than {max_depth} elements"
                )
        else:
            depth -= 1


def _cut_box(element: lxml.html.HtmlElement) -> Box | None:
    if element.getparent() is None:
        return None
    headings = [h.text_content().strip() for h in element.iter(*_HEADINGS)]
    headings = [h for h in headings if h and not _MARKER_HEADING.match(h)]
    paragraphs = [" ".join(p.text_content().split()) for p in element.iter("p")]
    paragraphs = [p for p in paragraphs if len(p.split()) >= 8]
    label = " ".join([element.get("class", ""), element.get("id", ""), element.text_content()[:40]]).lower()
    if not headings or not paragraphs:
        # Navigation, link lists and ads: never part of any story. Drop them so they cannot leak into the text.
        if element.tag == "aside" or "related" in label:
            _remove(element)
        return None
    _remove(element)
    return Box(kind="related" if "related" in label else "sidebar", headline=headings[0], paragraphs=paragraphs)


def _remove(element: lxml.html.HtmlElement) -> None:
    parent = element.getparent()
    if parent is not None:
        element.drop_tree()  # keeps the tail text that follows the element


def _page_title(tree: lxml.html.HtmlElement) -> str | None:
    for xpath in ("//meta[@property='og:title']/@content", "//h1", "//title"):
        found = tree.xpath(xpath)
        if found:
            text = found[0] if isinstance(found[0], str) else found[0].text_content()
            text = " ".join(text.split())
            if text:
                return text
    return None


def _published(tree: lxml.html.HtmlElement, day: str | None) -> datetime | None:
    # Prefer the full timestamp of the usual meta tags; trafilatura's date is a day only.
    for xpath in (
        "//meta[@property='article:published_time']/@content",
        "//meta[@itemprop='datePublished']/@content",
        "//time[@datetime]/@datetime",
    ):
        for value in tree.xpath(xpath):
            try:
                parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    if day:
        try:
            return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=timezone.utc)
        except ValueError:
            return None
    return None
