"""Mirror of the story index in a key-value table (a Faust ``Table``, or any ``MutableMapping``).

The linking agent owns the table; nothing else writes it. Layout: key = article id, value = the JSON bytes of
``Entry.to_dict()`` (signature + story id): kept as bytes, a value costs its ~1 KB of JSON in memory instead of
the several KB of the same entry as Python dicts and lists. Each decision costs one write for the new article, one delete per
evicted article and one rewrite per member of a re-rooted story; the LSH buckets and the inverted index are not
stored — ``index_from_table`` rebuilds them from the entries after the table is recovered from its changelog.

How the agent uses it (one instance, on a single-partition topic, so it sees every article in order)::

    index = index_from_table(story_table)                      # on start / after rebalance (table recovered)
    async for article in stream:                               # articles after the pure stages
        change, followup = link(index, article, config)        # pure
        index.apply(change)
        write_change(story_table, index, change)               # changelogged
        await articles_topic.send(key=article.id, value=replace(article, followup=followup))
        await followups_topic.send(key=followup.story_id, value=followup_event(article, followup))
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from worker import codec
from worker.stories.index import Entry, IndexChange, StoryIndex


def write_change(table: MutableMapping[str, bytes], index: StoryIndex, change: IndexChange) -> None:
    """Write what ``change`` did to ``index`` (already applied) into ``table``."""
    for article_id in change.evict:
        table.pop(article_id, None)
    for _, new in change.restory:
        story = index.story(new)
        # Every member of ``new`` now has that story id: only the stored story id changes, so the stored value
        # is patched rather than the entry rebuilt from the index (a story of 100,000 members moves in ~1 s).
        for member in story.members if story is not None else ():
            stored = table.get(member)
            if stored is None:
                table[member] = codec.dumps(index.entries[member].to_dict())
                continue
            value = codec.loads(stored)
            if value["story"] != new:
                value["story"] = new
                table[member] = codec.dumps(value)
    if change.add is not None:
        table[change.add.signature.article_id] = codec.dumps(change.add.to_dict())


def index_from_table(table: Mapping[str, bytes], **options: float) -> StoryIndex:
    """The in-memory index recovered from the table's entries."""
    return StoryIndex.from_entries((Entry.from_dict(codec.loads(value)) for value in table.values()), **options)
