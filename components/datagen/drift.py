"""What `--drift F` changes, day by day: the drift a search system really sees and a monitor must catch.

Each mechanism has a strength in [0, 1] (`--drift F` sets all five to F) and acts on day d of a
D-day data set at the level s = strength * (d + 1) / D: it has begun on the first day and is at
full strength on the last.

- ``topics``: three rising topics are searched (1 + 4s) times as often, three fading ones 1 / (1 + 4s).
- ``behaviour``: users look less far down the page and click and stay less: the examination
  probability of position p becomes p ** -(0.85 (1 + s)), click attraction is scaled by (1 - 0.3 s)
  and dwell by (1 - 0.4 s).
- ``new_videos``: short-form videos (5-60 s, published in the window, hashtag titles and 6-10
  tags) enter the catalogue, 12 * strength (rounded up) per concept that a query asks for, spread
  over the days; each result slot of a page, and each candidate an annotator judges, is one of
  them with probability 0.5 s (while the query has one left).
- ``new_queries``: 0.25 * strength * (number of queries) new queries on emerging topics (new
  vocabulary: ``vocabulary.EMERGING_TOPICS``), with their own short-form content, take a share
  0.25 s of the searches; each is judged once like any query.
- ``stale``: relevance changes under the served ranker: a relevant pair of the reference world
  (grade >= 1) has gone out of date on day d with probability 0.4 s and is no longer relevant
  (grade 0) for clicks, dwell and labels, while the production ranker still orders by the old grade.

Every mechanism draws from a random stream of its own, and with no drift nothing here runs, so
``--drift 0`` writes the bytes it always wrote.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from components.datagen import vocabulary as V
from components.datagen.latent import (
    URL_SPELLINGS,
    Query,
    Video,
    World,
    assign_pools,
    cumulative,
    grade_of,
    make_queries,
    new_video_id,
    surface,
)
from components.datagen.surface import canonical_url, url_variant

MECHANISMS = ("topics", "behaviour", "new_videos", "new_queries", "stale")
EXAMINATION_EXPONENT = 0.85  # position bias of the reference period: examination = p ** -0.85
ATTRACTION_DROP = 0.3
DWELL_DROP = 0.4
SHORTS_PER_CONCEPT = 12
SHORTS_SLOT_SHARE = 0.5
NEW_QUERY_COUNT = 0.25
NEW_QUERY_SEARCH_SHARE = 0.25
STALE_SHARE = 0.4


@dataclass(frozen=True)
class DriftPlan:
    """Strength of each mechanism (0..1) over a `days`-day data set."""

    strengths: dict[str, float]
    days: int

    @classmethod
    def of(cls, drift: float | Mapping[str, float], days: int) -> DriftPlan:
        """`--drift F` (every mechanism at F) or {mechanism: strength}; raises on anything else."""
        given = dict(drift) if isinstance(drift, Mapping) else dict.fromkeys(MECHANISMS, drift)
        unknown = sorted(set(given) - set(MECHANISMS))
        bad = [f"{k}={v!r}" for k, v in given.items() if isinstance(v, bool) or not isinstance(v, int | float)
               or not 0 <= v <= 1]
        if unknown or bad:
            raise ValueError(f"drift strengths must be numbers in [0, 1] for mechanisms {list(MECHANISMS)} "
                             f"(unknown: {unknown}, out of range: {bad})")
        return cls({m: float(given.get(m, 0.0)) for m in MECHANISMS}, days)

    @property
    def active(self) -> bool:
        return any(self.strengths.values())

    def level(self, mechanism: str, day: int) -> float:
        """s = strength * (day + 1) / days: the mechanism's level on `day`."""
        return self.strengths[mechanism] * (day + 1) / self.days


@dataclass(frozen=True)
class DayDrift:
    """What one day's writers need: the click model, the slot share of new videos, staleness, popularity."""

    examination: tuple[float, ...]
    attraction: float
    dwell: float
    shorts_share: float
    stale: float
    popularity: list[float]


def drift_topics(seed: int) -> tuple[list[str], list[str]]:
    """The (rising, fading) topics of a seed's drift, three each."""
    topics = list(V.TOPICS)
    random.Random(f"rankops-drift:{seed}").shuffle(topics)
    return sorted(topics[:3]), sorted(topics[3:6])


def day_drift(world: World, plan: DriftPlan, seed: int, day: int, base: tuple[float, ...]) -> DayDrift:
    """Day `day` of the plan; with no drift, exactly the reference model (`base` examination)."""
    b = plan.level("behaviour", day)
    examination = base if b == 0 else tuple(p ** -(EXAMINATION_EXPONENT * (1 + b)) for p in range(1, len(base) + 1))
    return DayDrift(examination, 1 - ATTRACTION_DROP * b, 1 - DWELL_DROP * b,
                    SHORTS_SLOT_SHARE * plan.level("new_videos", day), STALE_SHARE * plan.level("stale", day),
                    popularity(world, plan, seed, day))


def popularity(world: World, plan: DriftPlan, seed: int, day: int) -> list[float]:
    """Cumulative search weights of every query on `day`: topic mix and emerging queries' share."""
    t, n = plan.level("topics", day), plan.level("new_queries", day)
    if t == 0 and n == 0:
        return world.popularity
    rising, fading = drift_topics(seed)
    factor = 1 + 4 * t
    weights, previous = [], 0.0
    for q, cum in zip(world.queries[: len(world.popularity)], world.popularity, strict=True):
        w = cum - previous
        previous = cum
        weights.append(w * factor if q.topic in rising else w / factor if q.topic in fading else w)
    emerging = world.emerging_weights
    if n == 0 or not emerging:
        return cumulative(weights)
    share, old_total, new_total = NEW_QUERY_SEARCH_SHARE * n, sum(weights), sum(emerging)
    return cumulative([w * (1 - share) / old_total for w in weights] + [w * share / new_total for w in emerging])


def current_grade(q: Query, vidx: int, grade: int, stale: float) -> int:
    """The pair's grade today: 0 once it has gone stale (its draw is below today's level)."""
    return 0 if grade and q.stale_u.get(vidx, 1.0) < stale else grade


def mix_page(old: list[tuple[int, int]], shorts: list[tuple[int, int]], share: float, rand, size: int) -> list:
    """A result page: each slot is the next short-form video with probability `share` while any is left."""
    page: list[tuple[int, int]] = []
    i = j = 0
    while len(page) < size and (i < len(old) or j < len(shorts)):
        if j < len(shorts) and (i >= len(old) or rand() < share):
            page.append(shorts[j])
            j += 1
        else:
            page.append(old[i])
            i += 1
    return page


def extend_world(world: World, plan: DriftPlan, seed: int, start: datetime) -> dict[str, Any]:
    """Add what the plan brings to the reference world (in place); returns the ledger's drift facts."""
    used = dict.fromkeys(v.vid for v in world.videos)
    base_queries = list(world.queries)
    facts: dict[str, Any] = {"strengths": dict(plan.strengths), "level": "strength * (day + 1) / days"}
    if plan.strengths["topics"]:
        facts.update(zip(("rising", "fading"), drift_topics(seed), strict=True))
    if plan.strengths["new_queries"]:
        facts["new_queries"], facts["new_query_videos"] = _add_queries(world, plan, seed, start, used)
    if plan.strengths["new_videos"]:
        facts["new_videos"] = _add_shorts(world, base_queries, plan, seed, start, used)
    if plan.strengths["stale"]:
        rng = random.Random(f"rankops-drift:{seed}:stale")
        for q in base_queries:
            q.stale_u = {vidx: rng.random() for vidx, _grade in q.pool}
    return facts


def _add_queries(world: World, plan: DriftPlan, seed: int, start: datetime, used: dict[str, None]) -> tuple[int, int]:
    """Emerging-topic queries with their own content and candidate pools; Zipf weights of their own."""
    rng = random.Random(f"rankops-drift:{seed}:new_queries")
    strength = plan.strengths["new_queries"]
    n = max(1, round(NEW_QUERY_COUNT * strength * len(world.queries)))
    queries = make_queries(rng, n, plan.days, list(V.EMERGING_TOPICS), taken=world.queries)
    concepts = sorted({(q.topic, c) for q in queries for c in q.concepts})
    added = _shorts_for(rng, world, concepts, math.ceil(SHORTS_PER_CONCEPT * strength), plan.days, start, used)
    assign_pools(rng, queries, world.videos)
    ranks = list(range(n))
    rng.shuffle(ranks)
    world.queries.extend(queries)
    world.emerging_weights = [1.0 / (r + 1) ** 1.07 for r in ranks]
    return n, added


def _add_shorts(world: World, queries: list[Query], plan: DriftPlan, seed: int, start: datetime,
                used: dict[str, None]) -> int:
    """Short-form videos for the concepts of the reference queries; each query's fresh candidates and
    judged list (a judged candidate is replaced by a fresh one with probability 0.5 s of its judge day)."""
    rng = random.Random(f"rankops-drift:{seed}:new_videos")
    first = len(world.videos)
    concepts = sorted({(q.topic, c) for q in queries for c in q.concepts})
    added = _shorts_for(rng, world, concepts, math.ceil(SHORTS_PER_CONCEPT * plan.strengths["new_videos"]),
                        plan.days, start, used)
    by_concept: dict[tuple[str, str], list[int]] = {}
    for v in world.videos[first:]:
        by_concept.setdefault((v.topic, v.concepts[0]), []).append(v.idx)
    for q in queries:
        idx = dict.fromkeys(i for c in q.concepts for i in by_concept.get((q.topic, c), []))
        q.fresh = [(i, grade_of(q, world.videos[i])) for i in idx]
        share = SHORTS_SLOT_SHARE * plan.level("new_videos", q.judge_day)
        live = [p for p in q.fresh if world.videos[p[0]].first_day <= q.judge_day]
        live.sort(key=lambda p: p[1] + rng.gauss(0, 0.9), reverse=True)  # what the page would show first
        judged, nxt = list(q.judged), iter(live)
        for k in range(len(judged)):
            if rng.random() < share:
                judged[k] = next(nxt, judged[k])
        q.judged = judged
    return added


def _shorts_for(rng: random.Random, world: World, concepts: list[tuple[str, str]], per_concept: int, days: int,
                start: datetime, used: dict[str, None]) -> int:
    """`per_concept` short-form videos for each (topic, concept), published evenly over the days."""
    intents = list(V.INTENTS)
    for topic, concept in concepts:
        others = [c for c in V.ALL_TOPICS[topic][1] if c != concept]
        for j in range(per_concept):
            vid = new_video_id(rng, used)
            extra = tuple(rng.sample(others, 1)) if rng.random() < 0.5 else ()
            v = Video(len(world.videos), vid, 0 if rng.random() < 0.7 else 1, topic, rng.choice(intents),
                      (concept, *extra), rng.random() < 0.15, j * days // per_concept)
            _realise_short(rng, v, start)
            world.videos.append(v)
    return len(concepts) * per_concept


def _realise_short(rng: random.Random, v: Video, start: datetime) -> None:
    """A short: hook + concept words + hashtags as title, one line of description, 6-10 tags, 5-60 s."""
    words = [surface(rng, v.topic, c, None) for c in v.concepts]
    tags = rng.sample(V.HASHTAGS, rng.randint(4, 7))
    hook = rng.choice(V.SHORT_HOOKS)
    v.title = f"{' '.join(words)} {hook} {' '.join(tags[:2])}"
    v.description = f"{rng.choice(V.INTENT_SENTENCES[v.intent])} {' '.join(tags)}"
    v.channel = f"{rng.choice(V.ALL_TOPICS[v.topic][0]).title()} Shorts"
    v.duration_s = max(5, min(60, int(rng.lognormvariate(math.log(35), 0.45))))
    v.published_at = start + timedelta(days=v.first_day, seconds=rng.randrange(86400))
    v.tags = [v.topic, *(c.replace("_", " ") for c in v.concepts), *tags]
    v.concept_set = frozenset(v.concepts)
    canonical = canonical_url(v.vid, v.shape)
    v.urls = (canonical, canonical, canonical, *(url_variant(rng, v.vid, v.shape) for _ in range(URL_SPELLINGS - 3)))
