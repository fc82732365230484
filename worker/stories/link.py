"""The pure decision: ``link(index, article) -> (IndexChange, FollowUp)``.

reads: Article.{id, text, headline, sentences, published_at, dates, entities, locations, quotes} and the index
writes: nothing; returns the change to apply to the index and the ``FollowUp`` to put on the article.

How a decision is made:
1. candidates from the index (LSH band buckets + inverted index over keys), at most ``max_candidates``;
2. each candidate inside the retention window is scored, all at once over their rows: ``text`` = MinHash
   Jaccard estimate, ``keys`` = IDF-weighted Dice overlap of the keys (entities, places, terms; IDF from the
   index's live document frequencies); ``score = max(text, keys)`` less a penalty when neither article names the
   other's lead participants and one when the latest years they name differ and the one naming the later does
   not name the earlier too (who and when tell two events of one kind apart, topic words do not), plus a bonus
   when both write out the same event day ("March 3"), or else when both name the same past year as their latest;
3. the article joins the story it scores best with on average: the mean of its ``join_best`` best scores against
   the story's members (``story_sample`` of them spread over the story, and those the lookup returned) must reach
   ``link_threshold``. Several members must agree: one look-alike member of another event is not enough, and a
   story reported in many words is not joined through its one member that repeats this article's topic words; but
   a report need not resemble every member of a large story, whose reports tell many sides of it;
4. another candidate story merges in when the mean score between it and the grown story (this article and the
   joined members, sampled) reaches ``merge_threshold``: this article may be the report that shows two stories
   are one. The story id is the id of the earliest-published article (this one, when it was published first:
   the earlier stories are re-rooted and every member gets an update);
5. a small grown story (``split_most``) that average linkage parts into two groups scoring low together splits:
   this article may be the report that shows one story holds two events. The group with the earliest article
   keeps the story id; the other moves to its own earliest article's id, and each moved member gets an update;
6. relation: ``new_story`` when the article is its story's first (published before the articles it links to),
   ``duplicate`` when the text is a near copy, ``follow_up`` when a large enough part of it is new facts
   (sentences/quotes the linked earlier articles did not report), else ``same_story``;
7. links: the ``max_links`` best-scoring members, and the first article of each story the article re-roots or
   merges (the worker publishes that one's decision again, linked back to this article with this score).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Literal

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from worker.records import Article
from worker.stories.index import DEFAULT_RETENTION_SECONDS, Candidates, Entry, IndexChange, StoryIndex
from worker.stories.signature import (
    FACT_HASH_SPACE,
    Signature,
    days_apart,
    fact_hashes,
    is_named,
    key_labels,
    prose,
    quote_fingerprint,
    quotes_of,
    sentences_of,
    signature_of,
)

Relation = Literal["new_story", "duplicate", "same_story", "follow_up"]

_MOST_LINKS = 5  # links of one decision: schemas/followup.schema.json's maxItems


@dataclass(frozen=True, slots=True)
class LinkConfig:
    # the mean score of an article against a story's members that joins it (ECB+ dev, mean of 5 streaming
    # orders, merge threshold the same, past-year bonus 0.08: 0.17 links 8.4% of the other-event pairs of a topic
    # at F1 0.876, 0.18 7.2% at 0.872, 0.19 5.8% at 0.868, 0.20 6.0% at 0.856)
    link_threshold: float = 0.19
    # the mean score between two stories (one grown by this article) that merges them
    merge_threshold: float = 0.19
    story_sample: int = 16  # members a story is compared on, spread evenly over it
    # the article's score against a story is the mean of its best ``join_best`` scores against the sampled members and
    # those the lookup returned (all of them when there are at most that many): several members must agree, so one
    # look-alike member of another event is not enough, but a report need not resemble every member of a large story
    # (ECB+ dev, 5 streaming orders, before the year rule of ``year_conflict_penalty``: all 16, F1 0.874 with 5.1% of
    # the other-event pairs linked; 8: 0.880 / 5.4%; 6: 0.886 / 5.7%; 5: 0.894 / 5.2%; 4: 0.893 / 5.5%; 3: 0.899 / 6.1%)
    join_best: int = 5
    merge_sample: int = 8  # members of the grown story compared with another story before a merge
    max_stories: int = 8  # candidate stories weighed per decision (those of the best-scoring candidates)
    duplicate_threshold: float = 0.80  # MinHash Jaccard of 3-shingles: a near copy
    # a follow_up brings at least this many new facts and this share of its sentences: a retelling may add
    # one detail, a development adds several
    follow_up_min_new: int = 2
    follow_up_new_share: float = 0.10
    fact_known_share: float = 0.65  # a sentence whose content words are at least this much known was reported
    name_weight: float = 2.0  # a shared entity/place/proper name counts this many times a shared topic word
    # subtracted from the score when neither article names the other's lead participants: another event of
    # the same kind (ECB+ dev: 10% of same-story pairs, 54% of same-topic other-event pairs). With average
    # linkage 0.10 beats 0.15 and 0.05 (F1 0.862, 0.855, 0.862; other-event pairs linked 7.7%, 8.4%, 8.9%)
    lead_conflict_penalty: float = 0.10
    # subtracted when both texts name a latest year, the years differ, and the text with the later one does not
    # name the earlier one too: the same kind of event another year. A report that names both years may tell a
    # later part of the story the other dates in the earlier one (ECB+ dev, 5 streaming orders: F1 0.901 with 5.9%
    # of the other-event pairs linked, 0.886 / 8.6% with the address line as the url; penalising every difference,
    # 0.894 / 5.2% and 0.870 / 8.6%)
    year_conflict_penalty: float = 0.15
    # added when both texts name the same latest year and it is before this article's publication year: a past
    # year both reports date their event in. The current year is named by most reports of any event, so it is no
    # evidence. Less than an event day's bonus: a year is a coarser match. (ECB+ dev at 0.19: without it F1 0.846
    # with 6.0% of other-event pairs linked, 0.06: 0.865 / 5.8%, 0.08: 0.868 / 5.8%, 0.10: 0.870 / 5.8%; every
    # year ECB+ names is a past one, its articles stream as of 2020)
    past_year_bonus: float = 0.08
    # added when both texts write out an event day (day and month) and the days are at most
    # ``event_day_tolerance`` apart: reports of one event name its day
    date_agreement_bonus: float = 0.10
    event_day_tolerance: int = 2
    max_candidates: int = 64
    # links listed per decision: the best-scoring members of the joined stories (and, past them, the first article
    # of each story it re-roots or merges, up to ``_MOST_LINKS`` in all)
    max_links: int = 3
    retention_seconds: float = DEFAULT_RETENTION_SECONDS
    max_evictions: int = 1_000  # per decision: eviction work stays bounded
    # What a follow-up lists of its new facts: a page of 10,000 new sentences must not make a decision of a
    # megabyte (the worker keeps each decision in a changelogged table, and Kafka refuses records over 1 MB)
    max_new_facts: int = 32
    max_fact_chars: int = 600  # a longer fact's text is cut; its start/end still span all of it
    # A story of at most ``split_most`` articles (this one included) splits in two when average linkage over all
    # its pairs parts it into two groups of at least ``split_min_part`` whose mean score between them is under
    # ``split_threshold``: the later reports show that two events were joined. (ECB+ dev, 5 streaming orders:
    # without splitting F1 0.867 with 5.9% of the other-event pairs linked; under 0.14 0.874 with 5.3%, under
    # 0.16 0.874 with 5.1%, under 0.18 0.869 with 5.0%)
    split_threshold: float = 0.16
    split_most: int = 16
    split_min_part: int = 2


@dataclass(frozen=True, slots=True)
class Link:
    article_id: str
    relation: Relation
    score: float


@dataclass(frozen=True, slots=True)
class Fact:
    kind: Literal["sentence", "quote"]
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Evidence:
    shared_keys: tuple[str, ...] = ()  # "e:..." entities/names, "p:..." places, "n:..." detail numbers, "t:..." terms
    shared_quotes: int = 0
    text_overlap: float = 0.0  # MinHash Jaccard estimate with the best link


@dataclass(frozen=True, slots=True)
class StoryUpdate:
    """An earlier decision changed: ``article_id`` now belongs to ``story_id`` (was ``previous_story_id``)."""

    article_id: str
    story_id: str
    previous_story_id: str


@dataclass(frozen=True, slots=True)
class FollowUp:
    """Article.followup; serialised by the codec as is (schemas/followup.schema.json#/$defs/followup)."""

    story_id: str
    relation: Relation
    links: tuple[Link, ...] = ()
    new_facts: tuple[Fact, ...] = ()
    evidence: Evidence = field(default_factory=Evidence)
    updates: tuple[StoryUpdate, ...] = ()
    unlinkable: str | None = None  # why the article could not be linked (no_text, ...)


def link(index: StoryIndex, article: Article, config: LinkConfig = LinkConfig()) -> tuple[IndexChange, FollowUp]:
    """Decide how ``article`` relates to the indexed ones. Pure: the index is only read.

    >>> change, followup = link(StoryIndex(), Article(id="a", source_id="a", text="Quake hits Amatrice."))
    >>> followup.relation, followup.story_id
    ('new_story', 'a')
    """
    now = article.published_at.timestamp() if article.published_at is not None else None
    evict = tuple(index.expired(now, config.max_evictions))
    if not article.text.strip():
        return IndexChange(evict=evict), FollowUp(article.id, "new_story", unlinkable="no_text")
    labels = key_labels(article)
    signature = signature_of(article, labels)
    published = signature.published if signature.published is not None else index.watermark
    if published is not None and index.watermark is not None:
        if published < index.watermark - config.retention_seconds:
            # Too old to be indexed; linking it would resurrect evicted stories.
            return IndexChange(evict=evict), FollowUp(article.id, "new_story", unlinkable="outside_retention")

    scored = _score_candidates(index, signature, published, config)
    stories, linked = _stories_to_join(index, signature, published, scored, config)
    if not stories:
        entry = Entry(_stored(signature, published), article.id)
        unlinkable = "no_published_at" if signature.published is None else None
        return IndexChange(add=entry, evict=evict), FollowUp(article.id, "new_story", unlinkable=unlinkable)

    story_id, restory, updates = _choose_story(index, article.id, published, stories)
    # the first articles of the stories re-rooted or merged (each story's id), whose decisions change with it
    roots = [old for old, _ in restory if old != article.id]
    move: tuple[tuple[str, str], ...] = ()
    split = _split(index, article.id, published, story_id, stories, linked, config)
    if split is not None:
        story_id, move, updates, linked = split
        into = {update.article_id: update.story_id for update in updates}  # at most ``split_most``
        roots = [old for old in roots if into.get(old) == story_id]
    linked = [c for c in linked if c.score > 0]
    listed = linked[: config.max_links]
    earlier = [c for c in listed if c.published is None or published is None or c.published <= published]
    new_facts, sentence_count = _new_facts(
        article, [index.entries[c.article_id].signature for c in earlier], config.fact_known_share
    )
    best = listed[0]
    if story_id == article.id:
        # published before every article of its story (it re-rooted it, or a split made it its part's first):
        # nothing earlier matched, and its links are to later articles, whose own decisions say how they relate
        relation: Relation = "new_story"
    elif best.text >= config.duplicate_threshold:
        relation = "duplicate"
    elif (
        earlier
        and len(new_facts) >= config.follow_up_min_new
        and len(new_facts) / max(sentence_count, 1) >= config.follow_up_new_share
    ):
        relation = "follow_up"
    else:
        relation = "same_story"
    shown = listed + _first_articles(index, signature, published, roots, listed, linked, config)
    links = tuple(
        Link(
            c.article_id,
            "duplicate" if c.text >= config.duplicate_threshold else relation_to(relation),
            min(c.score, 1.0),  # the event-day and past-year bonuses can lift a near copy's over 1
        )
        for c in sorted(shown, key=lambda c: (-c.score, c.article_id))
    )
    best_signature = index.entries[best.article_id].signature
    shared = set(signature.key_array().tolist()) & set(best_signature.key_array().tolist())
    evidence = Evidence(
        shared_keys=tuple(sorted(labels[k] for k in shared if k in labels)),
        shared_quotes=len(set(signature.quote_array().tolist()) & set(best_signature.quote_array().tolist())),
        text_overlap=round(best.text, 3),
    )
    change = IndexChange(add=Entry(_stored(signature, published), story_id), restory=restory, evict=evict,
                         move=move)
    followup = FollowUp(
        story_id,
        relation,
        links,
        _listed(new_facts, config) if relation in ("same_story", "follow_up") else (),
        evidence,
        updates,
        "no_published_at" if signature.published is None else None,
    )
    return change, followup


def pair_scores(index: StoryIndex, article: Article, config: LinkConfig = LinkConfig()) -> list[tuple[str, float]]:
    """``(article id, score)`` of every indexed candidate that ``link`` would weigh for ``article``, best first:
    the same lookup and scoring, without a decision (``eval stories`` clusters on them)."""
    signature = signature_of(article)
    published = signature.published if signature.published is not None else index.watermark
    return [(c.article_id, c.score) for c in _score_candidates(index, signature, published, config)]


def _stored(signature: Signature, published: float | None) -> Signature:
    """An undated article is kept under the time it was linked at (the latest indexed), so retention applies."""
    if signature.published is None and published is not None:
        return replace(signature, published=published)
    return signature


def relation_to(relation: Relation) -> Relation:
    """A decision's relation to a linked article that is not a near copy of it: ``same_story`` for a duplicate (of
    another linked article) and for a new story (whose links are to the later articles of its story)."""
    return "same_story" if relation in ("duplicate", "new_story") else relation


@dataclass(frozen=True, slots=True)
class _Scored:
    article_id: str
    published: float | None
    story_id: str
    text: float
    keys: float
    penalty: float = 0.0

    @property
    def score(self) -> float:
        return round(max(self.text, self.keys) - self.penalty, 4)


def _score_candidates(
    index: StoryIndex, signature: Signature, published: float | None, config: LinkConfig
) -> list[_Scored]:
    """Score every candidate of the lookup, best first."""
    return _score_block(index, signature, published, index.candidate_block(signature, config.max_candidates), config)


def _score_block(
    index: StoryIndex, signature: Signature, published: float | None, block: Candidates, config: LinkConfig
) -> list[_Scored]:
    """Score the block's articles at once (numpy over their rows): text, weighted keys, penalties; best first.
    Articles outside the retention window of ``published`` are left out."""
    if not len(block):
        return []
    own_keys = signature.key_array()
    own_leads = signature.lead_array()
    present = np.arange(block.keys.shape[1])[None, :] < block.key_count[:, None]
    # every key's IDF weight at once: one vectorised document-frequency lookup per decision
    all_keys = np.unique(np.concatenate([own_keys, block.keys[present]]))
    frequencies = index.document_frequencies(all_keys)
    population = max(len(index), 1)
    weights = np.where(all_keys & 1, config.name_weight, 1.0) * (np.log((population + 1) / (frequencies + 1)) + 1.0)
    own_weight = float(weights[np.searchsorted(all_keys, own_keys)].sum())
    positions = np.minimum(np.searchsorted(all_keys, block.keys), all_keys.size - 1)
    other_weights = np.where(present, weights[positions], 0.0)
    shared = present & np.isin(block.keys, own_keys)
    total = own_weight + other_weights.sum(axis=1)
    keys = np.divide(2 * (other_weights * shared).sum(axis=1), total, out=np.zeros(len(block)), where=total > 0)
    text = (block.minhash == signature.minhash_array()).mean(axis=1)
    # neither names the other's lead participants: another event of the same kind
    lead_present = np.arange(block.leads.shape[1])[None, :] < block.lead_count[:, None]
    conflict = (
        (own_leads.size > 0)
        & (block.lead_count > 0)
        & ~(present & np.isin(block.keys, own_leads)).any(axis=1)
        & ~(lead_present & np.isin(block.leads, own_keys)).any(axis=1)
    )
    # the latest years differ and the text with the later one does not name the earlier (``year_conflict_penalty``)
    later_names_other = _holds_year(block.years, signature.year) | _holds_year(signature.years, block.year)
    year_conflict = (signature.year > 0) & (block.year > 0) & (block.year != signature.year) & ~later_names_other
    a_past_year = published is not None and 0 < signature.year < _year_of(published)
    past_year = a_past_year & (block.year == signature.year)
    same_day = (
        (signature.event_day > 0)
        & (block.event_day > 0)
        & (days_apart(block.event_day, signature.event_day) <= config.event_day_tolerance)
    )
    penalty = np.where(
        text < config.duplicate_threshold,
        config.lead_conflict_penalty * conflict + config.year_conflict_penalty * year_conflict,
        0.0,
    ) - config.date_agreement_bonus * same_day - config.past_year_bonus * (past_year & ~same_day)
    out: list[_Scored] = []
    for i, other_published in enumerate(block.published.tolist()):
        other_published = None if math.isnan(other_published) else other_published
        if published is not None and other_published is not None:
            if abs(other_published - published) > config.retention_seconds:
                continue
        out.append(
            _Scored(block.article_ids[i], other_published, block.story_ids[i], float(text[i]), float(keys[i]),
                    float(penalty[i]))
        )
    out.sort(key=lambda c: (-c.score, c.article_id))
    return out


def _holds_year(years: np.ndarray | int, year: np.ndarray | int) -> np.ndarray:
    """Elementwise: whether the 64-bit year set ``years`` (``Signature.years``) holds ``year``."""
    shift = np.asarray(year, dtype=np.uint64) % np.uint64(64)
    return (np.right_shift(np.asarray(years, dtype=np.uint64), shift) & np.uint64(1)).astype(bool)


def _year_of(timestamp: float) -> int:
    return datetime.fromtimestamp(timestamp, timezone.utc).year


def _stories_to_join(
    index: StoryIndex, signature: Signature, published: float | None, scored: list[_Scored], config: LinkConfig
) -> tuple[list[str], list[_Scored]]:
    """The stories the article joins (best first; none: a new story) and their scored members, best first.

    Average linkage, online: a candidate story's score is the mean of the article's ``join_best`` best scores against a
    sample of its members and the members the lookup returned (a sampled member the lookup did not return is scored too;
    one outside the retention window counts 0). The best story is joined when that mean reaches ``link_threshold``; each
    next one merges in when the mean over all pairs between it and the grown story reaches ``merge_threshold``: the
    article's own score against it (the mean of its best ones, as above), weighed with the mean between its sample and a
    sample of the first joined story's members.
    """
    # A story's mean cannot reach a threshold that none of its members reaches: only the stories of candidates
    # at or over the lower threshold are weighed (a member the lookup missed rarely outscores all it returned).
    floor = min(config.link_threshold, config.merge_threshold)
    stories: list[str] = []
    for candidate in scored:  # best first
        if candidate.score < floor or len(stories) == config.max_stories:
            break
        if candidate.story_id not in stories:
            stories.append(candidate.story_id)
    if not stories:
        return [], []
    known = {c.article_id: c for c in scored}
    samples, sample_ids = {}, {}
    for story_id in stories:
        rows = index.story_sample(story_id, config.story_sample)
        ids = index.ids_of(rows)
        # the article's own entry when it is linked again (a redelivery whose decision was lost in a crash): the
        # lookup leaves it out, and so must the sample, or the article would link to itself
        mine = [i == signature.article_id for i in ids]
        samples[story_id] = rows[~np.asarray(mine, dtype=bool)] if any(mine) else rows
        sample_ids[story_id] = [i for i, m in zip(ids, mine) if not m]
    unscored = np.asarray(
        [row for s in stories for row, i in zip(samples[s].tolist(), sample_ids[s]) if i not in known], dtype=np.int64
    )
    if unscored.size:
        extra = _score_block(index, signature, published, index.block(unscored), config)
        known.update((c.article_id, c) for c in extra)
    # the sampled members and those the lookup returned (in a story larger than the sample, the members most like
    # this article are likely left out of an even spread, and the lookup found them)
    members = {s: dict.fromkeys(sample_ids[s]) for s in stories}
    for candidate in scored:
        if candidate.story_id in members:
            members[candidate.story_id][candidate.article_id] = None
    mean = {
        s: _best_mean([known[i].score if i in known else 0.0 for i in members[s]], config.join_best) for s in stories
    }
    ranked = sorted(stories, key=lambda s: (-mean[s], s))
    if mean[ranked[0]] < config.link_threshold:
        return [], []
    joined = [ranked[0]]
    size = 1 + index.story_size(ranked[0])
    rest = [story_id for story_id in ranked[1:] if mean[story_id] >= config.merge_threshold]
    if rest:
        members = _spread(sample_ids[ranked[0]], config.merge_sample)
        between = _mean_between(index, members, {s: (samples[s], sample_ids[s]) for s in rest}, config)
        for story_id in rest:
            if (mean[story_id] + (size - 1) * between[story_id]) / size >= config.merge_threshold:
                joined.append(story_id)
                size += index.story_size(story_id)
    linked = sorted((c for c in known.values() if c.story_id in joined), key=lambda c: (-c.score, c.article_id))
    return joined, linked


def _best_mean(scores: list[float], most: int) -> float:
    """The mean of the ``most`` highest ``scores`` (of all of them when there are fewer; 0 when none)."""
    best = sorted(scores, reverse=True)[:most]
    return sum(best) / max(len(best), 1)


def _mean_between(
    index: StoryIndex, members: list[str], samples: dict[str, tuple[np.ndarray, list[str]]], config: LinkConfig
) -> dict[str, float]:
    """Per story of ``samples`` (its sampled rows and their ids): the mean score of the indexed ``members`` against
    its sample (0 for a pair out of retention).

    One scoring per member, over the samples of all the stories at once. The members are those of the story
    joined first; the stories merged after it are taken to score alike (a bound on the work of a decision)."""
    story_of = {article_id: story_id for story_id, (_, ids) in samples.items() for article_id in ids}
    block = index.block(np.concatenate([rows for rows, _ in samples.values()]))
    totals = dict.fromkeys(samples, 0.0)
    for member in members:
        signature = index.entries[member].signature
        for candidate in _score_block(index, signature, signature.published, block, config):
            totals[story_of[candidate.article_id]] += candidate.score
    return {s: totals[s] / max(len(members) * rows.size, 1) for s, (rows, _) in samples.items()}


def _spread(items: list[str], most: int) -> list[str]:
    """At most ``most`` of ``items``, spread evenly over them."""
    if len(items) <= most:
        return items
    return [items[round(i * (len(items) - 1) / (most - 1))] for i in range(most)]


def _choose_story(
    index: StoryIndex, article_id: str, published: float | None, stories: list[str]
) -> tuple[str, tuple[tuple[str, str], ...], tuple[StoryUpdate, ...]]:
    """The earliest-published article among the joined stories (and this one) gives the story id."""
    first: tuple[float, str] | None = None
    for story_id in stories:
        candidate = (index.first_published(story_id), story_id)
        if first is None or candidate < first:
            first = candidate
    assert first is not None
    story_id = first[1]
    if published is not None and published < first[0]:
        story_id = article_id
    restory = tuple((old, story_id) for old in sorted(stories) if old != story_id)
    updates = tuple(
        StoryUpdate(member, story_id, old)
        for old, _ in restory
        for member in (index.story(old).members if index.story(old) else ())  # type: ignore[union-attr]
    )
    return story_id, restory, updates


def _split(
    index: StoryIndex,
    article_id: str,
    published: float | None,
    story_id: str,
    stories: list[str],
    scored: list[_Scored],
    config: LinkConfig,
) -> tuple[str, tuple[tuple[str, str], ...], tuple[StoryUpdate, ...], list[_Scored]] | None:
    """When the story this article grows (the joined ``stories`` and the article) holds two events, how it
    splits: the article's story id, the moves of the part split off (its first article first), every member's
    update, and the article's ``scored`` members in its own part. None when it stays one story.

    Only a story of at most ``split_most`` articles is weighed, on all its pairs: average linkage parts it in
    two, and it splits when both parts have ``split_min_part`` articles and the mean score between them is
    under ``split_threshold``. The part with the earliest-published article keeps the story id; the other
    takes the id of its own earliest. It does not split when the article would score nothing with its own
    part (it joined on the other). A bigger story is settled: what it costs stays bounded (at most
    ``split_most`` scorings of as many rows)."""
    if config.split_most < 2 * config.split_min_part:
        return None
    rows = np.concatenate([index.story_sample(s, config.split_most) for s in stories])
    ids = index.ids_of(rows)
    keep = np.asarray([i != article_id for i in ids], dtype=bool)  # itself, on a redelivery
    rows, ids = rows[keep], [i for i in ids if i != article_id]
    size = len(ids) + 1
    if size < 2 * config.split_min_part or size > config.split_most or size != 1 + sum(
        index.story_size(s) for s in stories
    ):
        return None
    own_scores = {c.article_id: c.score for c in scored}
    if all(own_scores.get(member, 0.0) >= config.split_threshold for member in ids):
        return None  # it reads as all of the story: a split of the others was there to find when the story grew
    entries = [index.entries[member] for member in ids]
    position = {member: k for k, member in enumerate(ids)}
    scores = np.zeros((size, size))  # the members in ``ids`` order, then the article
    block = index.block(rows)
    for k, entry in enumerate(entries):
        for candidate in _score_block(index, entry.signature, entry.published, block, config):
            scores[k, position[candidate.article_id]] = candidate.score
    scores = (scores + scores.T) / 2
    for member, score in own_scores.items():
        if member in position:
            scores[-1, position[member]] = scores[position[member], -1] = score
    distance = 2.0 - scores  # average linkage merges the closest groups: any constant above the scores will do
    np.fill_diagonal(distance, 0.0)
    labels = fcluster(linkage(squareform(distance, checks=False), "average"), 2, "maxclust")
    everyone = [*ids, article_id]
    times = [entry.published for entry in entries] + [published]
    order = sorted(range(size), key=lambda k: (math.inf if times[k] is None else times[k], everyone[k]))
    kept = labels == labels[order[0]]  # the part with the earliest article keeps the story id
    if min(kept.sum(), (~kept).sum()) < config.split_min_part:
        return None
    if scores[np.ix_(kept, ~kept)].mean() >= config.split_threshold:
        return None
    article_moved = not kept[-1]
    own = [c for c in scored if c.article_id in position and kept[position[c.article_id]] != article_moved]
    if not any(c.score > 0 for c in own):
        return None
    new_id = everyone[next(k for k in order if not kept[k])]
    moves = tuple((ids[k], new_id) for k in order if not kept[k] and k < len(ids))
    updates = tuple(
        StoryUpdate(member, final, entry.story_id)
        for k, (member, entry) in enumerate(zip(ids, entries))
        if (final := story_id if kept[k] else new_id) != entry.story_id
    )
    return (new_id if article_moved else story_id), moves, updates, own


def _first_articles(
    index: StoryIndex,
    signature: Signature,
    published: float | None,
    roots: list[str],
    listed: list[_Scored],
    scored: list[_Scored],
    config: LinkConfig,
) -> list[_Scored]:
    """Those of ``roots`` not ``listed`` already, scored (from ``scored``, or now when the lookup and the story's
    sample left one out), best first: the first articles of the stories this article re-roots or merges into its
    own. The worker publishes each one's decision again in the new story, linked back to this article with this
    score. One that scores nothing is left out, and so are those past the links the schema allows (five)."""
    shown = {c.article_id for c in listed}
    wanted = [old for old in roots if old not in shown]
    if not wanted:
        return []
    known = {c.article_id: c for c in scored}
    unscored = [old for old in wanted if old not in known]
    if unscored:
        block = index.block(index.rows_of(unscored))
        known.update((c.article_id, c) for c in _score_block(index, signature, published, block, config))
    found = sorted((known[old] for old in wanted if old in known and known[old].score > 0),
                   key=lambda c: (-c.score, c.article_id))
    return found[: max(_MOST_LINKS - len(listed), 0)]


def _listed(facts: list[Fact], config: LinkConfig) -> tuple[Fact, ...]:
    """The first ``max_new_facts`` facts, texts cut at ``max_fact_chars``."""
    return tuple(replace(f, text=f.text[: config.max_fact_chars]) for f in facts[: config.max_new_facts])


def _new_facts(article: Article, earlier: list[Signature], known_share: float) -> tuple[list[Fact], int]:
    """Sentences and quotes of ``article`` whose content words the earlier articles mostly lack."""
    if not earlier:
        return [], 0
    known: set[int] = set()
    known_quotes: set[int] = set()
    limit = FACT_HASH_SPACE
    for signature in earlier:
        known.update(signature.fact_array().tolist())
        known_quotes.update(signature.quote_array().tolist())
        limit = min(limit, signature.fact_limit)  # above the smallest limit we cannot tell known from new
    facts: list[Fact] = []
    spans = sentences_of(article)
    for start, end in spans:
        sentence = article.text[start:end]
        judged = [h for h in fact_hashes(prose(sentence)) if h < limit]  # a bare address line is no fact
        if len(judged) < 2:
            continue
        if sum(h in known for h in judged) / len(judged) < known_share:
            facts.append(Fact("sentence", sentence.strip(), start, end))
    for quote in quotes_of(article):
        if quote_fingerprint(quote) in known_quotes:
            continue
        judged = [h for h in fact_hashes(quote) if h < limit]
        if judged and sum(h in known for h in judged) / len(judged) < 0.5:
            start = article.text.find(quote)
            facts.append(Fact("quote", quote.strip(), start, start + len(quote) if start >= 0 else -1))
    return facts, len(spans)


def followup_event(article: Article, followup: FollowUp) -> dict:
    """The compact link event published on news.followups for one decision (schemas/followup.schema.json)."""
    return {
        "article_id": article.id,
        "source_id": article.source_id,
        "url": article.url,
        "published_at": article.published_at.isoformat() if article.published_at is not None else None,
        "story_id": followup.story_id,
        "relation": followup.relation,
        "links": [{"article_id": x.article_id, "relation": x.relation, "score": x.score} for x in followup.links],
        "new_fact_count": len(followup.new_facts),
        "updates": [
            {"article_id": u.article_id, "story_id": u.story_id, "previous_story_id": u.previous_story_id}
            for u in followup.updates
        ],
        "unlinkable": followup.unlinkable,
    }
