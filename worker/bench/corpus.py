"""A synthetic, deterministic news corpus for the benchmarks, written from our own sentence templates.

Articles look like what crawlers send: a headline, sometimes a byline and a dateline, 8–30 paragraphs of
prose with curly quotes, numbers, names and relative dates (about one date expression per 500 characters, as
on the reference page); some carry non-breaking spaces or a mojibake line
(a page decoded with the wrong charset), some a "Related Story" block with a second story. The HTML form
wraps the same story in the furniture of a real news page (navigation, scripts, share bar, "most read"
list, footer), about 30–60 KB a page, because extraction cost grows with the page, not the story.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

_PEOPLE = ["Amira Haddad", "Jonas Berg", "Lucía Ortega", "Kwame Mensah", "Mei Lin", "Oskar Nowak", "Priya Rao",
           "Tomás Silva", "Hannah Okoro", "Ilya Petrov", "Sofia Marino", "Daniel Weiss"]
_ORGS = ["the transport ministry", "the city council", "the port authority", "the central bank", "the health board",
         "the teachers' union", "the regional parliament", "the national rail operator", "the water company"]
_PLACES = ["Lisbon", "Gdańsk", "Accra", "Montreal", "Osaka", "Valparaíso", "Tbilisi", "Marseille", "Nairobi",
           "Bergen", "Cork", "Izmir"]
_TOPICS = [("bridge", "repairs"), ("rail line", "strike"), ("harbour", "expansion"), ("hospital", "funding"),
           ("school", "closures"), ("power plant", "outage"), ("budget", "vote"), ("water supply", "shortage")]
_WHEN = ["yesterday", "on Monday", "on Tuesday", "last week", "on Friday", "earlier this month", "in March",
         "on September 9", "last year", "in 2019", "this morning", "on Thursday"]
_TEMPLATES = [
    "{person}, who speaks for {org}, said the {thing} {issue} would cost about {n} million euros.",
    "“We have no choice but to act now,” {person} told reporters in {place} {when}.",
    "Officials in {place} said the {thing} had been under review for years, and that {n} people were affected.",
    "According to {org}, the {issue} began after talks with {person} broke down.",
    "{person} said the plan was “not perfect, but it is the best we could agree”, adding that {org} would meet again.",
    "Critics of the {thing} {issue}, including {person}, argued that {org} had ignored warnings for {n} months.",
    "The figures show a rise of {n} percent compared with the same period a year earlier.",
    "In a statement, {org} said it regretted the disruption and promised a full report by the end of the year.",
    "Residents of {place} queued for hours {when}, some of them carrying signs that read “{issue_title} now”.",
    "{person} declined to comment on whether the {thing} would reopen before {year2}.",
    "The decision follows a similar {issue} in {place}, which lasted {n} days.",
    "“It’s a question of trust,” said {person}, a former adviser to {org}.",
]


@dataclass(frozen=True, slots=True)
class SyntheticArticle:
    id: str
    title: str
    text: str
    html: str
    published_at: str


def _paragraph(rng: random.Random, thing: str, issue: str) -> str:
    sentences = []
    for _ in range(rng.randint(1, 3)):
        template = rng.choice(_TEMPLATES)
        sentences.append(template.format(
            person=rng.choice(_PEOPLE), org=rng.choice(_ORGS), place=rng.choice(_PLACES), when=rng.choice(_WHEN),
            thing=thing, issue=issue, issue_title=issue.title(), n=rng.randint(2, 950), year=rng.randint(2009, 2023),
            year2=rng.randint(2025, 2030),
        ))
    return " ".join(sentences)


def _story(rng: random.Random, paragraphs: int) -> tuple[str, list[str]]:
    thing, issue = rng.choice(_TOPICS)
    place = rng.choice(_PLACES)
    headline = f"{place} {thing} {issue} deepens as {rng.choice(_ORGS).removeprefix('the ')} weighs options"
    body = [_paragraph(rng, thing, issue) for _ in range(paragraphs)]
    if body and rng.random() < 0.5:
        body[0] = f"{place.upper()} — {body[0]}"
    return headline[0].upper() + headline[1:], body


def make_corpus(count: int, seed: int = 7) -> list[SyntheticArticle]:
    """``count`` articles; the same seed gives the same corpus."""
    rng = random.Random(seed)
    articles = []
    for i in range(count):
        headline, body = _story(rng, rng.randint(8, 30))
        lines = [headline, ""]
        if rng.random() < 0.4:
            lines += [f"By {rng.choice(_PEOPLE)}", ""]
        for paragraph in body:
            if rng.random() < 0.1:
                paragraph = "\u00a0" + paragraph.replace(" ", "\u00a0", 2)  # scraped indentation
            if rng.random() < 0.03:
                paragraph = paragraph.encode("utf-8").decode("latin-1", errors="replace")  # wrong-charset line
            lines.append(paragraph)
        related_headline, related_body = None, []
        if rng.random() < 0.2:
            related_headline, related_body = _story(rng, rng.randint(4, 10))
            lines += ["", "Related Story", related_headline, *related_body]
        text = "\n".join(lines)
        articles.append(SyntheticArticle(
            id=f"bench-{seed}-{i}",
            title=headline,
            text=text,
            html=_page(rng, headline, body, related_headline, related_body),
            published_at=f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:15:00+00:00",
        ))
    return articles


def _page(rng: random.Random, headline: str, body: list[str], related: str | None, related_body: list[str]) -> str:
    links = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(rng.randint(30, 60)))
    most_read = "".join(
        f'<li><a href="/story/{rng.randint(1, 10**6)}">{_story(rng, 0)[0]}</a></li>' for _ in range(10)
    )
    script = "<script>window.dataLayer=window.dataLayer||[];" + "track({id:%d,k:'v'});" * 80 % tuple(range(80)) + "</script>"
    paragraphs = "".join(f"<p>{p}</p>" for p in body)
    aside = ""
    if related:
        aside = (f'<aside class="related-story"><h2>Related Story</h2><h3>{related}</h3>'
                 + "".join(f"<p>{p}</p>" for p in related_body) + "</aside>")
    footer = "".join(f'<a href="/about/{i}">About {i}</a> ' for i in range(40))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{headline} | The Daily Example</title>"
        f'<meta property="og:title" content="{headline}">'
        '<meta property="article:published_time" content="2024-05-17T06:30:00Z">'
        f'<meta name="author" content="{rng.choice(_PEOPLE)}">'
        f"<style>{'.c{color:#333;margin:0 auto}' * 100}</style>{script}</head>"
        f'<body><header><nav class="menu"><ul>{links}</ul></nav></header>'
        '<div class="share"><a href="#">Share</a><a href="#">Tweet</a><a href="#">Email</a></div>'
        f'<main><article><h1>{headline}</h1><div class="story-body">{paragraphs}</div>{aside}</article>'
        f'<section class="most-read"><h2>Most read</h2><ol>{most_read}</ol></section></main>'
        f"<footer>{footer}<p>© 2024 The Daily Example</p></footer>{script}</body></html>"
    )
