"""Follow-up story detection: signatures, the story index and the pure linking decision.

``link(index, article) -> (IndexChange, FollowUp)`` is pure; whoever owns the index applies the change:
``StoryLinker`` does it in memory for ``newsworker enrich`` and the evaluation, the worker's linking agent does
it on a Faust table (see worker/stories/index.py for the table layout).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from worker.records import Article
from worker.stories.index import Entry, IndexChange, StoryIndex
from worker.stories.link import Evidence, Fact, FollowUp, Link, LinkConfig, StoryUpdate, followup_event, link
from worker.stories.signature import Signature, signature_of

__all__ = [
    "Entry",
    "Evidence",
    "Fact",
    "FollowUp",
    "IndexChange",
    "Link",
    "LinkConfig",
    "Signature",
    "StoryIndex",
    "StoryLinker",
    "StoryUpdate",
    "followup_event",
    "link",
    "signature_of",
]


@dataclass
class StoryLinker:
    """Links articles in the order given against an in-memory index (the offline twin of the linking agent).

    reads: Article (see ``link``) — writes: Article.followup
    """

    config: LinkConfig = field(default_factory=LinkConfig)
    index: StoryIndex = field(default_factory=StoryIndex)

    def __post_init__(self) -> None:
        self.index.retention_seconds = self.config.retention_seconds

    def link_one(self, article: Article) -> Article:
        change, followup = link(self.index, article, self.config)
        self.index.apply(change)
        return replace(article, followup=followup)

    def __call__(self, articles: Sequence[Article]) -> list[Article]:
        return [self.link_one(article) for article in articles]
