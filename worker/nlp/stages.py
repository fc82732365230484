"""The pipeline stages of worker/nlp, as callables over a batch of articles."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from worker.nlp.entities import canonical_entities
from worker.nlp.gazetteer import Gazetteer
from worker.nlp.ner import tag_texts
from worker.nlp.places import resolve_places
from worker.nlp.quotes import attribute_quotes
from worker.nlp.repair import repair_mentions
from worker.nlp.tidy import tidy_mentions
from worker.nlp.titles import roles as person_roles
from worker.records import Article, Span


@dataclass(frozen=True)
class EntityStage:
    """reads: text, language, paragraphs, headline — writes: entities, notices (when skipped).

    Runs the NER model over the batch with ``nlp.pipe`` and groups each article's mentions into entities.
    """

    nlp: Any
    gazetteer: Gazetteer | None = None  # for relabelling and recovering well-known places the model misses
    # Texts per nlp.pipe batch. Measured on 100 GeoWebNews articles: 16 is as fast as 64 per core and peaks at
    # ~305 MB instead of ~618 MB (spaCy holds a batch's activations at once), which keeps the worker under 700 MB.
    batch_size: int = 16

    def __call__(self, articles: Sequence[Article]) -> list[Article]:
        english = [i for i, a in enumerate(articles) if _is_english(a)]
        mentions = tag_texts(self.nlp, [articles[i].text for i in english], self.batch_size)
        out = list(articles)
        for i, found in zip(english, mentions):
            article = articles[i]
            lead = article.paragraphs[0] if article.paragraphs else Span(0, min(len(article.text), 400))
            repaired = repair_mentions(article.text, found, self.gazetteer)
            mentions, tidied = tidy_mentions(article.text, repaired.mentions, article.dateline)
            roles = person_roles(article.text, mentions)
            entities = canonical_entities(mentions, lead, len(article.text), repaired.decided | tidied, roles,
                                          article.headline)
            out[i] = dataclasses.replace(article, entities=entities)
        for i, article in enumerate(articles):
            if not _is_english(article):
                notice = {"stage": "entities", "reason": f"language {article.language!r} is not English: not tagged"}
                out[i] = dataclasses.replace(article, notices=(*article.notices, notice))
        return out


def _is_english(article: Article) -> bool:
    # unknown language is tagged: short or odd texts often have no detectable language and are still English
    return article.language in (None, "en")


@dataclass(frozen=True)
class PlaceStage:
    """reads: entities, text, dateline, headline, paragraphs — writes: locations, focus_locations, dateline_location."""

    gazetteer: Gazetteer

    def __call__(self, articles: Sequence[Article]) -> list[Article]:
        out = []
        for article in articles:
            locations, focus, dateline = resolve_places(article, self.gazetteer)
            out.append(dataclasses.replace(article, locations=locations, focus_locations=focus, dateline_location=dateline))
        return out


@dataclass(frozen=True)
class QuoteStage:
    """reads: text, entities — writes: quotes."""

    def __call__(self, articles: Sequence[Article]) -> list[Article]:
        return [dataclasses.replace(a, quotes=attribute_quotes(a.text, a.entities)) for a in articles]
