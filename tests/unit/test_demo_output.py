"""How ``newsworker demo`` describes an article's story (worker/commands/demo.py ``_describe_article``)."""

from __future__ import annotations

from worker.commands.demo import _Style, _describe_article


def story_line(followup: dict) -> str:
    article = {"headline": "Library opens", "part": "main", "language": "en", "word_count": 40, "followup": followup}
    (line,) = [x for x in _describe_article(article, None, _Style(False)).splitlines() if x.startswith("    story ")]
    return line


def test_a_linked_article_is_described_by_what_it_is_of_and_a_new_story_by_what_it_came_before() -> None:
    link = {"article_id": "opening", "relation": "follow_up", "score": 0.48}
    assert story_line({"story_id": "opening", "relation": "follow_up", "links": [link], "new_facts": []}) == (
        "    story opening: follow_up of opening (follow_up, 0.48)")
    later = {"article_id": "first-week", "relation": "same_story", "score": 0.46}
    assert story_line({"story_id": "opening", "relation": "new_story", "links": [later], "new_facts": []}) == (
        "    story opening: new_story, published before first-week (same_story, 0.46)")
    assert story_line({"story_id": "alone", "relation": "new_story", "links": [], "new_facts": []}) == (
        "    story alone: new_story")
