"""A follow-up's listed new facts are bounded: one long page cannot make a decision too large to keep or send."""

from __future__ import annotations

from datetime import datetime, timezone

from worker import codec
from worker.records import Article
from worker.stories import LinkConfig, StoryIndex, followup_event, link

LEAD = ("HOLMFIRTH — A landslide closed the Holmfirth road on Monday after heavy rain, the county council said. "
        "Engineer Maud Petrakis said the slope above the Ravensclough quarry had moved two metres overnight.")
FOLLOW_UP = ("HOLMFIRTH — The Holmfirth road stayed closed on Tuesday after Monday's landslide, the county council "
             "said. Engineer Maud Petrakis said the slope above the Ravensclough quarry was still moving.")


def letters(n: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    return "".join(alphabet[n // 26**k % 26] for k in range(4))


def test_a_follow_up_with_ten_thousand_new_sentences_lists_a_bounded_number_of_short_facts():
    config = LinkConfig()
    index = StoryIndex()
    first = Article(id="slide-1", source_id="slide-1", text=LEAD,
                    published_at=datetime(2025, 2, 3, 9, tzinfo=timezone.utc))
    change, _ = link(index, first, config)
    index.apply(change)
    sentences = [" ".join(letters(n) for n in range(s * 10, s * 10 + 10)).capitalize() + "."
                 for s in range(10_000)]
    endless = " ".join(letters(n) for n in range(100_000, 102_000))  # one 'sentence' of 10,000 characters
    text = f"{FOLLOW_UP} {endless}. {' '.join(sentences)}"
    later = Article(id="slide-2", source_id="slide-2", text=text,
                    published_at=datetime(2025, 2, 4, 9, tzinfo=timezone.utc))

    _, followup = link(index, later, config)

    assert followup.story_id == "slide-1" and followup.relation == "follow_up"
    assert len(followup.new_facts) == config.max_new_facts
    assert all(len(fact.text) <= config.max_fact_chars for fact in followup.new_facts)
    long_fact = next(f for f in followup.new_facts if f.end - f.start > config.max_fact_chars)
    assert text[long_fact.start:long_fact.end].strip().startswith(long_fact.text)  # cut, still locatable
    kept = codec.dumps({"followup": codec.to_plain(followup), "event": followup_event(later, followup)})
    assert len(kept) < 64_000
