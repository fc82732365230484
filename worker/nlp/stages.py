"""The pipeline stages of worker/nlp, as callables over a batch of articles."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from worker.nlp.entities import canonical_entities
from worker.nlp.ner import tag_texts
from worker.records import Article, Span


@dataclass(frozen=True)
class EntityStage:
    """reads: text, language, paragraphs — writes: entities, notices (when skipped).

    Runs the NER model over the batch with ``nlp.pipe`` and groups each article's mentions into entities.
    """

    nlp: Any
    batch_size: int = 64

    def __call__(self, articles: Sequence[Article]) -> list[Article]:
        english = [i for i, a in enumerate(articles) if _is_english(a)]
        mentions = tag_texts(self.nlp, [articles[i].text for i in english], self.batch_size)
        out = list(articles)
        for i, found in zip(english, mentions):
            article = articles[i]
            lead = article.paragraphs[0] if article.paragraphs else Span(0, min(len(article.text), 400))
            out[i] = dataclasses.replace(article, entities=canonical_entities(found, lead, len(article.text)))
        for i, article in enumerate(articles):
            if not _is_english(article):
                notice = {"stage": "entities", "reason": f"language {article.language!r} is not English: not tagged"}
                out[i] = dataclasses.replace(article, notices=(*article.notices, notice))
        return out


def _is_english(article: Article) -> bool:
    # unknown language is tagged: short or odd texts often have no detectable language and are still English
    return article.language in (None, "en")
