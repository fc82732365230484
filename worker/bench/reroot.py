"""``newsworker bench reroot``: what the linking agent does for one out-of-order article that re-roots a story of
N members, bounded (the worker's ``MAX_RESTATED`` moves listed and restated) against restating every member
(the baseline, what the agent did before the bound), measured in the same run.

The story is built here: N copies of one real article's signature, published an hour and more after the
article, each with a kept decision, in plain dicts standing in for the Faust tables (the table's changelog
sends are not measured). The timed call is the agent's whole ``link_messages``: the decision, moving the story
in the index and the table, restating decisions, and encoding what it would publish. Times are the thread's
CPU time (the machine is shared); the largest record is what the broker would have to accept.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from datetime import datetime, timezone

from worker.app import MAX_RESTATED, WorkerMetrics, link_messages
from worker.records import Article, Envelope
from worker.settings import Settings
from worker.stories import Entry, LinkConfig, StoryIndex, link
from worker.stories.table import encode_entry, keep_decision

TEXT = ("HALVERSTON — Flood water reached the old mill district of Halverston on Sunday after the Teme river burst "
        "its banks upstream. Mayor Ines Valcourt said 300 homes were evacuated overnight and the rail bridge was "
        "closed. Engineers of the river authority expected the level to peak on Monday morning.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="1000,10000,100000", help="members of the story re-rooted at each step")


def _story(size: int, article: Article) -> tuple[StoryIndex, dict, dict]:
    """An index and tables holding a story of ``size`` members, all published after ``article``."""
    signature = link(StoryIndex(), article)[0].add.signature  # type: ignore[union-attr]
    entries, table, decisions = [], {}, {}
    for n in range(size):
        member = dataclasses.replace(signature, article_id=f"member-{n}", published=signature.published + 3600 + n)
        entry = Entry(member, "member-0")
        entries.append(entry)
        table[member.article_id] = encode_entry(entry)
        relation = "new_story" if n == 0 else "same_story"
        event = {"article_id": member.article_id, "source_id": member.article_id, "url": None,
                 "published_at": None, "story_id": "member-0", "relation": relation, "links": [],
                 "new_fact_count": 0, "updates": [], "unlinkable": None}
        followup = {"story_id": "member-0", "relation": relation, "links": [], "new_facts": [],
                    "evidence": {"shared_keys": [], "shared_quotes": 0, "text_overlap": 0.0}, "updates": [],
                    "unlinkable": None}
        decisions[member.article_id] = keep_decision({"followup": followup, "event": event})
    return StoryIndex.from_entries(entries), table, decisions


def _reroot(size: int, article: Article, settings: Settings, most: int) -> tuple[float, int, int]:
    """CPU seconds of ``link_messages`` re-rooting a story of ``size``, records it would publish, largest bytes."""
    index, table, decisions = _story(size, article)
    started = time.thread_time()
    messages = link_messages(index, table, decisions, article, Envelope(value=b""), settings, LinkConfig(),
                             WorkerMetrics(), max_restated=most)
    took = time.thread_time() - started
    return took, len(messages), max(len(m.value) for m in messages)


def run(args: argparse.Namespace, settings: Settings) -> int:
    article = Article(id="flood-0", source_id="flood-0", text=TEXT,
                      published_at=datetime(2025, 2, 9, 8, 0, tzinfo=timezone.utc))
    print(f"re-rooting a story of N members: bounded ({MAX_RESTATED} restated) vs every member restated")
    print("members     bounded CPU  records   largest      all CPU   records     largest   CPU ratio")
    for size in sorted(int(s) for s in args.sizes.split(",")):
        bounded = _reroot(size, article, settings, MAX_RESTATED)
        unbounded = _reroot(size, article, settings, size + 1)
        over = "  (over the record limit)" if unbounded[2] > settings.max_message_bytes else ""
        print(f"{size:>7}  {bounded[0] * 1000:>10.2f} ms {bounded[1]:>8} {bounded[2]:>9} B  "
              f"{unbounded[0] * 1000:>9.2f} ms {unbounded[1]:>8} {unbounded[2]:>10} B  "
              f"{bounded[0] / unbounded[0]:>8.2f}{over}")
    return 0
