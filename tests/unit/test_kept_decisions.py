"""The decisions table keeps one decision per indexed article, in memory: compressed, and still readable when a
changelog written by an earlier version (plain JSON) is recovered."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from worker import codec
from worker.stories.table import keep_decision, read_decision
from worker.records import Article
from worker.stories import StoryLinker, followup_event

FIRST = ("PORT ELLIS — The harbour reopened on Monday after the storm, Mayor Ines Calder said. Grey Gull Lines "
         "will resume its Dublin crossings on Wednesday, the company said.")
FOLLOW_UP = ("PORT ELLIS — Grey Gull Lines resumed its Dublin crossings on Wednesday after the storm, Mayor Ines "
             "Calder said. Divers found two sunken trawlers near the north pier on Tuesday. The council will "
             "spend 3 million euros on the sea wall, Calder said. Fishermen said 14 boats were lost in the storm.")


def decision_of(article: Article, linker: StoryLinker) -> dict:
    followup = linker.link_one(article).followup
    return {"followup": codec.to_plain(followup), "event": followup_event(article, followup)}


def test_a_kept_decision_reads_back_whole_and_smaller_and_old_json_still_reads():
    start = datetime(2024, 2, 5, 9, tzinfo=timezone.utc)
    linker = StoryLinker()
    decision_of(Article(id="a-1", source_id="s-1", text=FIRST, published_at=start), linker)
    later = Article(id="a-2", source_id="s-2", text=FOLLOW_UP, published_at=start + timedelta(days=2))
    decision = decision_of(later, linker)
    assert decision["followup"]["new_facts"], "a decision with facts written out is what costs memory"
    kept = keep_decision(decision)
    assert read_decision(kept) == decision
    assert len(kept) < len(codec.dumps(decision))
    assert read_decision(codec.dumps(decision)) == decision  # kept by an earlier version
