"""Entities, places and quotes: the NLP stages of the pipeline.

Each stage is a pure batch function (``list[Article] -> list[Article]``) built once by
``worker.pipeline.build_pipeline`` with its heavy resources (the spaCy model, the gazetteer) injected.
"""

from __future__ import annotations

from worker.nlp.items import Entity, Location, Mention, Place, Quote
from worker.nlp.stages import EntityStage, PlaceStage, QuoteStage

__all__ = ["Entity", "EntityStage", "Location", "Mention", "Place", "PlaceStage", "Quote", "QuoteStage"]
