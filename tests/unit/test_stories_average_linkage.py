"""An article joins the story it scores best with on average over the story's members (its best five of them), and
a report that scores well with two stories merges them only when the two score well together
(worker/stories/link.py)."""

from __future__ import annotations

from test_stories_link import FLOOD_FIRST, FLOOD_FOLLOW_UP, FLOOD_RETOLD, OTHER_STORY, article
from worker.stories import Entry, IndexChange, LinkConfig, StoryIndex, link, signature_of
from worker.stories.link import pair_scores

MARKET_REPORTS = (
    "Copper prices in London fell for a third day as warehouses reported rising stocks of the metal.",
    "The central bank of Norway kept its deposit rate unchanged and said inflation was easing slowly.",
    "Airline bookings for the summer rose nine percent on a year earlier, a travel industry survey found.",
    "A shipping group in Hamburg ordered six container vessels that run on methanol from a Korean yard.",
)
TRANSIT_BUDGETS = tuple(
    f"The council of {town} approved {millions} million euros for new bus lanes and a tram depot."
    for town, millions in (
        ("Lyon", 12), ("Porto", 8), ("Graz", 5), ("Turku", 7), ("Gdansk", 9), ("Bilbao", 11), ("Aarhus", 6)
    )
)
FLOOD_SHELTERS = (
    "Volunteers in Koblenz handed out blankets and hot meals on Sunday night in the four school gyms that Mayor "
    "Helga Brandauer opened after the Rhine River flooded the old town. Most of the 3,400 people who fled slept "
    "there, the fire brigade said."
)
FLOOD_BRIDGES = (
    "Both bridges over the Moselle in Koblenz stayed closed on Monday after the Rhine River flood, the city's fire "
    "brigade said. Mayor Helga Brandauer asked the 3,400 residents who left the old town not to return yet."
)
FLOOD_CLAIMS = (
    "Insurers said on Wednesday that claims from the Koblenz flood had passed 25 million euros. Mayor Helga "
    "Brandauer said shop owners in the old town would get help first."
)


def index_of(*stories: tuple[str, list[tuple[str, str]]]) -> StoryIndex:
    """An index holding the given stories as they are: (story id, [(article id, text), ...]) each."""
    index = StoryIndex()
    hours = 0
    for story_id, members in stories:
        for article_id, text in members:
            index.apply(IndexChange(add=Entry(signature_of(article(article_id, text, hours)), story_id)))
            hours += 1
    return index


def test_a_story_is_joined_on_the_mean_score_of_its_members_not_its_best_one() -> None:
    retold = article("flood-2", FLOOD_RETOLD, 10)
    alone = index_of(("flood-1", [("flood-1", FLOOD_FIRST)]))
    best = dict(pair_scores(alone, retold))["flood-1"]
    assert best >= LinkConfig().link_threshold
    _, followup = link(alone, retold)
    assert (followup.story_id, followup.links[0].article_id) == ("flood-1", "flood-1")

    # the same best member in a story whose four other members share nothing with the report: a mean of a fifth
    padded = [("flood-1", FLOOD_FIRST)] + [(f"market-{i}", text) for i, text in enumerate(MARKET_REPORTS)]
    assert best / 5 < LinkConfig().link_threshold
    _, followup = link(index_of(("flood-1", padded)), retold)
    assert (followup.relation, followup.story_id, followup.links) == ("new_story", "flood-2", ())


def test_a_large_story_is_joined_when_five_of_its_members_score_well_though_the_rest_do_not() -> None:
    floods = [("flood-1", FLOOD_FIRST), ("flood-2", FLOOD_RETOLD), ("flood-3", FLOOD_FOLLOW_UP),
              ("flood-4", FLOOD_SHELTERS), ("flood-5", FLOOD_BRIDGES)]
    unrelated = [(f"market-{i}", text) for i, text in enumerate(MARKET_REPORTS + TRANSIT_BUDGETS)]
    index = index_of(("flood-1", floods + unrelated))
    claims = article("flood-6", FLOOD_CLAIMS, 100)
    scores = dict(pair_scores(index, claims))
    everyone = [scores.get(member, 0.0) for member, _ in floods + unrelated]
    assert len(everyone) == LinkConfig().story_sample  # the whole story is the sample
    best = LinkConfig().join_best
    assert sum(sorted(everyone)[-best:]) / best >= LinkConfig().link_threshold > sum(everyone) / len(everyone)
    _, followup = link(index, claims)
    assert followup.story_id == "flood-1"
    assert {x.article_id for x in followup.links} <= {member for member, _ in floods}

    # the mean over every member, as the linker once took it, leaves the report on its own
    _, followup = link(index, claims, LinkConfig(join_best=LinkConfig().story_sample))
    assert (followup.relation, followup.story_id) == ("new_story", "flood-6")

    # and one member that scores well is not enough in a large story either: the best five include four others
    lone = index_of(("flood-1", [floods[0]] + unrelated + [("market-x", TRANSIT_BUDGETS[0] + " Work starts soon.")]))
    _, followup = link(lone, claims)
    assert (followup.relation, followup.story_id) == ("new_story", "flood-6")


def test_a_report_scoring_well_with_two_stories_merges_them_when_they_score_well_together() -> None:
    two = index_of(("flood-1", [("flood-1", FLOOD_FIRST)]), ("flood-2", [("flood-2", FLOOD_RETOLD)]))
    change, followup = link(two, article("flood-3", FLOOD_FOLLOW_UP, 50))
    assert followup.story_id == "flood-1"  # the earlier-published of the two
    assert change.restory == (("flood-2", "flood-1"),)
    assert [(u.article_id, u.story_id, u.previous_story_id) for u in followup.updates] == [
        ("flood-2", "flood-1", "flood-2")
    ]

    # the same report when the two stories may not merge: it joins one and the other is left as it was
    change, followup = link(two, article("flood-3", FLOOD_FOLLOW_UP, 50), LinkConfig(merge_threshold=1.01))
    assert followup.story_id in ("flood-1", "flood-2")
    assert (change.restory, followup.updates) == ((), ())


def test_a_big_story_is_compared_on_an_even_sample_of_its_members() -> None:
    members = [(f"chips-{i}", f"{OTHER_STORY} Trading note {i}.") for i in range(100)]
    index = index_of(("chips-0", members), ("flood-1", [("flood-1", FLOOD_FIRST)]))
    rows = index.story_sample("chips-0", 16)
    ids = index.ids_of(rows)
    assert len(set(ids)) == 16
    assert (ids[0], ids[-1]) == ("chips-0", "chips-99")  # spread from the first member to the last
    assert index.ids_of(index.story_sample("chips-0", 1000)) == [m for m, _ in members]
    assert index.ids_of(index.story_sample("flood-1", 16)) == ["flood-1"]  # a lone article is its own story
    assert index.story_sample("chips-7", 16).size == 0  # a member's id names no story
    _, followup = link(index, article("chips-new", OTHER_STORY + " Shares closed higher.", 200))
    assert followup.story_id == "chips-0"


def test_an_article_linked_again_while_its_own_entry_is_indexed_is_not_linked_to_itself() -> None:
    # a redelivery after a crash that kept the index entry but lost the decision
    index = index_of(("flood-1", [("flood-1", FLOOD_FIRST), ("flood-2", FLOOD_RETOLD)]))
    change, followup = link(index, article("flood-2", FLOOD_RETOLD, 1))
    assert followup.story_id == "flood-1"
    assert [x.article_id for x in followup.links] == ["flood-1"]
    assert followup.evidence.text_overlap < 1.0  # measured against the other report, not its own copy


def test_in_a_story_larger_than_its_sample_the_members_the_lookup_returned_count_among_the_best_five() -> None:
    towns = ("Lyon", "Porto", "Graz", "Turku", "Gdansk", "Bilbao", "Aarhus", "Ghent", "Malmo", "Brno", "Cork",
             "Split", "Tartu", "Kaunas", "Bergen", "Tampere", "Utrecht", "Parma", "Leeds", "Nantes", "Kosice",
             "Varna", "Pecs", "Linz")
    unrelated = [(f"market-{i}", text) for i, text in enumerate(MARKET_REPORTS + TRANSIT_BUDGETS)] + [
        (f"harbour-{town}", f"The harbour board of {town} bought {i + 2} electric cranes for its container quay.")
        for i, town in enumerate(towns)
    ]
    floods = [("flood-1", FLOOD_FIRST), ("flood-2", FLOOD_RETOLD), ("flood-3", FLOOD_FOLLOW_UP),
              ("flood-4", FLOOD_SHELTERS), ("flood-5", FLOOD_BRIDGES)]
    members = list(unrelated)
    for place, flood in zip((1, 2, 4, 6, 7), floods):  # between the members an even spread of 16 out of 40 takes
        members.insert(place, flood)
    assert len(members) == 40
    index = index_of(("market-0", members))
    sampled = set(index.ids_of(index.story_sample("market-0", LinkConfig().story_sample)))
    assert not sampled & {member for member, _ in floods}
    claims = article("flood-6", FLOOD_CLAIMS, 100)
    found = {member for member, _ in pair_scores(index, claims)}
    assert {member for member, _ in floods} <= found  # the lookup finds them by the names they share

    _, followup = link(index, claims)
    assert followup.story_id == "market-0"
    assert {x.article_id for x in followup.links} <= {member for member, _ in floods}

    # one such member is still not enough: the best five then hold four unrelated ones
    lone = list(unrelated)
    lone.insert(1, floods[0])
    _, followup = link(index_of(("market-0", lone)), claims)
    assert (followup.relation, followup.story_id) == ("new_story", "flood-6")
