"""The latent world behind the logs: queries and videos with topics, concepts and intents.

Relevance is a pure function of latent attributes (`grade_of`), so labels, clicks and dwell all
derive from the same truth. Texts are realised from concepts with *different* surface forms for
queries and videos, which is what makes a learned model beat lexical matching. The world's size
is bounded (caps on queries and videos) whatever the number of impressions: memory stays flat.
"""

from __future__ import annotations

import math
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from components.datagen import vocabulary as V
from components.datagen.surface import canonical_url, url_variant

ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
QUERY_SURFACE_WEIGHTS = (0.55, 0.3, 0.15)
GRADE_QUOTAS = (0.2, 0.2, 0.25, 0.35)  # share of a judged candidate list per grade 0..3
URL_SPELLINGS = 8


@dataclass(slots=True)
class Video:
    idx: int
    vid: str  # case-sensitive id in the URL
    shape: int  # 0: /watch?v=ID, 1: /v/ID
    topic: str
    intent: str
    concepts: tuple[str, ...]
    clickbait: bool
    first_day: int
    title: str = ""
    description: str = ""
    channel: str = ""
    duration_s: int = 0
    published_at: datetime | None = None
    tags: list[str] = field(default_factory=list)
    urls: tuple[str, ...] = ()  # spellings used in logs and judgements (canonical ones repeated)
    concept_set: frozenset[str] = frozenset()


@dataclass(slots=True)
class Query:
    idx: int
    text: str  # the plain (normalised) spelling; variants are made at write time
    topic: str
    intent: str
    concepts: tuple[str, ...]
    judge_day: int
    judged: list[tuple[int, int]] = field(default_factory=list)  # (video idx, true grade)
    pool: list[tuple[int, int]] = field(default_factory=list)  # judged + unjudged extras shown in results
    fresh: list[tuple[int, int]] = field(default_factory=list)  # drift: new short-form candidates (drift.py)
    stale_u: dict[int, float] = field(default_factory=dict)  # drift: pool video idx -> when its pair goes stale


@dataclass(slots=True)
class World:
    queries: list[Query]
    videos: list[Video]
    popularity: list[float]  # cumulative Zipf weights over queries (for random.choices)
    emerging_weights: list[float] = field(default_factory=list)  # drift: Zipf weights of the queries added


def size_of(impressions: int, queries: int | None = None, videos: int | None = None) -> tuple[int, int]:
    """Default world size: grows with the log up to a cap, so memory is bounded for any N."""
    n_q = queries if queries is not None else max(60, min(2000, impressions // 40))
    n_v = videos if videos is not None else int(n_q * 3.5)
    return n_q, n_v


def grade_of(q: Query, v: Video) -> int:
    """True graded relevance 0..3: topic, concept coverage, intent; clickbait costs one grade."""
    if v.topic != q.topic:
        return 0
    covered = len(v.concept_set.intersection(q.concepts)) / len(q.concepts)
    grade = int(2 * covered + (1 if v.intent == q.intent else 0))
    if v.clickbait:
        grade -= 1
    return max(0, min(3, grade))


def surface(rng: random.Random, topic: str, concept: str, weights: tuple[float, ...] | None) -> str:
    forms = V.ALL_TOPICS[topic][1][concept]
    return rng.choices(forms, weights=weights[: len(forms)])[0] if weights else rng.choice(forms)


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def make_queries(rng: random.Random, n: int, days: int, topics: list[str] | None = None,
                 taken: Sequence[Query] = ()) -> list[Query]:
    """`n` distinct latent queries of `topics` (default: the base vocabulary), numbered after `taken`."""
    topics = topics or list(V.TOPICS)
    intents = list(V.INTENTS)
    seen: dict[str, None] = dict.fromkeys(q.text for q in taken)
    queries: list[Query] = []
    misses = 0
    while len(queries) < n:
        if misses > 2000:
            raise ValueError(f"cannot make {n} distinct queries from the vocabulary (got {len(queries)}): ask for fewer")
        topic = rng.choice(topics)
        concepts = tuple(rng.sample(list(V.ALL_TOPICS[topic][1]), 1 if rng.random() < 0.4 else 2))
        intent = rng.choice(intents)
        for _attempt in range(20):
            words = [surface(rng, topic, c, QUERY_SURFACE_WEIGHTS) for c in concepts]
            if rng.random() < 0.85:  # explicit intent word; otherwise the intent stays implicit
                phrase = rng.choices(V.INTENTS[intent], weights=(4, 3, 2, 1, 1, 1)[: len(V.INTENTS[intent])])[0]
                words = [phrase, *words] if phrase in ("how to", "the science of") else [*words, phrase]
            text = _norm(" ".join(words))
            if text not in seen:
                seen[text] = None
                queries.append(Query(len(taken) + len(queries), text, topic, intent, concepts, rng.randrange(days)))
                break
        else:  # every spelling of this latent query is taken: draw another one
            misses += 1
    return queries


def _shared_surfaces() -> dict[str, list[tuple[str, str]]]:
    """Surface form -> every (topic, concept) that uses it: the polysemous words give hard negatives."""
    index: dict[str, list[tuple[str, str]]] = {}
    for topic, (_words, concepts) in V.TOPICS.items():
        for concept, forms in concepts.items():
            for form in forms:
                index.setdefault(form, []).append((topic, concept))
    return {k: v for k, v in index.items() if len(v) > 1}


def _realise_video(rng: random.Random, v: Video, start: datetime, forced: str | None = None) -> None:
    """Write title, description, channel, duration, publication date and tags of a latent video."""
    forms = [surface(rng, v.topic, c, None) for c in v.concepts]
    if forced is not None:
        forms[0] = forced
    intent_word = rng.choice(V.INTENTS[v.intent])
    core = " & ".join(forms) if len(forms) < 3 or rng.random() < 0.5 else f"{forms[0]}, {forms[1]} and {forms[2]}"
    filler = rng.choice(V.TITLE_FILLERS)
    template = rng.randrange(5)
    title = (
        f"{core} {intent_word}",
        f"{intent_word}: {core}",
        f"{core} – {intent_word} ({filler})",
        f"{filler} {core} {intent_word}",
        f"{core} | {intent_word}",
    )[template]
    if rng.random() < 0.5:
        title = title.title()
    if v.clickbait:
        title = f"{rng.choice(V.CLICKBAIT)} {title}" if rng.random() < 0.5 else f"{title} {rng.choice(V.CLICKBAIT)}"
    topic_words = V.TOPICS[v.topic][0]
    others = []
    for c, used in zip(v.concepts, forms, strict=True):
        alternatives = [f for f in V.TOPICS[v.topic][1][c] if f != used]
        others.append(rng.choice(alternatives) if alternatives and rng.random() < 0.8 else used)
    description = " ".join(
        (
            rng.choice(V.INTENT_SENTENCES[v.intent]),
            f"This one is all about {' and '.join(others)}.",
            f"More {rng.choice(topic_words)} and {rng.choice(topic_words)} videos on the channel.",
            rng.choice(V.DESCRIPTION_FILLERS),
        )
    )
    v.title = title
    v.description = description
    v.channel = f"{topic_words[rng.randrange(len(topic_words))].title()} {rng.choice(V.CHANNEL_WORDS)}"
    mean_s = {"tutorial": 900, "review": 720, "highlights": 300, "news": 420, "explained": 1500, "live": 5400}[v.intent]
    v.duration_s = max(15, int(rng.lognormvariate(math.log(mean_s), 0.5)))
    if v.first_day == 0:
        v.published_at = start - timedelta(seconds=rng.randrange(86400, 86400 * 900))
    else:
        v.published_at = start + timedelta(days=v.first_day, seconds=rng.randrange(86400))
    tags = [v.topic, *(c.replace("_", " ") for c in v.concepts)]
    if rng.random() < 0.6:
        tags.append(v.intent)
    v.tags = tags


def new_video_id(rng: random.Random, used: dict[str, None]) -> str:
    """An 11-character id not in `used` (and now in it)."""
    while True:
        bits = rng.getrandbits(66)
        vid = "".join(ID_ALPHABET[(bits >> (6 * k)) & 63] for k in range(11))
        if vid not in used:
            used[vid] = None
            return vid


def _make_videos(rng: random.Random, queries: list[Query], n: int, days: int, start: datetime) -> list[Video]:
    topics = list(V.TOPICS)
    intents = list(V.INTENTS)
    shared = _shared_surfaces()
    used_ids: dict[str, None] = {}
    videos: list[Video] = []

    def add(topic: str, intent: str, concepts: tuple[str, ...], forced: str | None = None) -> None:
        vid = new_video_id(rng, used_ids)
        first_day = 0 if days == 1 or rng.random() < 0.85 else rng.randrange(1, days)
        v = Video(len(videos), vid, 0 if rng.random() < 0.7 else 1, topic, intent, concepts, rng.random() < 0.08, first_day)
        _realise_video(rng, v, start, forced)
        v.concept_set = frozenset(concepts)
        canonical = canonical_url(vid, v.shape)
        v.urls = (canonical, canonical, canonical, *(url_variant(rng, vid, v.shape) for _ in range(URL_SPELLINGS - 3)))
        videos.append(v)

    def others_of(topic: str, exclude: tuple[str, ...]) -> list[str]:
        return [c for c in V.TOPICS[topic][1] if c not in exclude]

    # targeted videos per query (a graded mix), then background videos up to n
    for q in queries:
        if len(videos) >= n:
            break
        extra = tuple(rng.sample(others_of(q.topic, q.concepts), 1)) if rng.random() < 0.6 else ()
        for _ in range(1 + (rng.random() < 0.5)):
            add(q.topic, q.intent, q.concepts + extra)  # grade 3
        add(q.topic, rng.choice([i for i in intents if i != q.intent]), q.concepts)  # wrong intent: grade 2
        if len(q.concepts) > 1 and rng.random() < 0.7:  # partial coverage
            add(q.topic, q.intent, (q.concepts[0], *rng.sample(others_of(q.topic, q.concepts), 1)))
        for c in q.concepts:  # lexical hard negative from another topic that shares a surface form
            for form in V.TOPICS[q.topic][1][c]:
                if form in shared and form in q.text and rng.random() < 0.8:
                    topic, concept = rng.choice([tc for tc in shared[form] if tc[0] != q.topic])
                    add(topic, q.intent if rng.random() < 0.5 else rng.choice(intents), (concept,), forced=form)
                    break
    while len(videos) < n:
        topic = rng.choice(topics)
        add(topic, rng.choice(intents), tuple(rng.sample(list(V.TOPICS[topic][1]), rng.choice((1, 2, 2, 3)))))
    return videos


def tokens(text: str) -> list[str]:
    return [t for t in _norm(text).replace(":", " ").replace("|", " ").replace("&", " ").split() if len(t) > 2]


def assign_pools(rng: random.Random, queries: list[Query], videos: list[Video]) -> None:
    """Per query a judged candidate list (10-20 videos, mixed grades) plus unjudged extras."""
    by_concept: dict[tuple[str, str], list[int]] = {}
    by_topic: dict[str, list[int]] = {}
    by_token: dict[str, list[int]] = {}
    for v in videos:
        by_topic.setdefault(v.topic, []).append(v.idx)
        for c in v.concepts:
            by_concept.setdefault((v.topic, c), []).append(v.idx)
        for t in dict.fromkeys(tokens(v.title)):
            by_token.setdefault(t, []).append(v.idx)
    n_videos = len(videos)
    for q in queries:
        cand: dict[int, None] = {}
        for c in q.concepts:
            pool = by_concept.get((q.topic, c), [])
            cand.update(dict.fromkeys(pool if len(pool) <= 40 else rng.sample(pool, 40)))
        lexical: dict[int, None] = {}
        for t in tokens(q.text):
            pool = by_token.get(t, [])
            lexical.update(dict.fromkeys(pool if len(pool) <= 15 else rng.sample(pool, 15)))
        cand.update(lexical)
        same_topic = by_topic.get(q.topic, [])
        cand.update(dict.fromkeys(rng.sample(same_topic, min(5, len(same_topic)))))
        cand.update(dict.fromkeys(rng.randrange(n_videos) for _ in range(5)))
        buckets: list[list[int]] = [[], [], [], []]
        for i in cand:
            if videos[i].first_day <= q.judge_day:
                buckets[grade_of(q, videos[i])].append(i)
        # grade-0 candidates that share words with the query first: the hard negatives
        buckets[0].sort(key=lambda i: (i not in lexical, i))
        for b in buckets[1:]:
            rng.shuffle(b)
        size = rng.randint(10, 20)
        chosen: list[int] = []
        for g in (3, 2, 1, 0):
            chosen.extend(buckets[g][: max(1, round(GRADE_QUOTAS[g] * size))])
        leftovers = [i for g in (2, 1, 3, 0) for i in buckets[g] if i not in chosen]
        chosen.extend(leftovers[: max(0, size - len(chosen))])
        q.judged = [(i, grade_of(q, videos[i])) for i in chosen]
        rest = [i for i in cand if i not in chosen]
        extras = rng.sample(rest, min(len(rest), rng.randint(2, 8)))
        q.pool = q.judged + [(i, grade_of(q, videos[i])) for i in extras]


def build_world(seed: int, n_queries: int, n_videos: int, days: int, start: datetime) -> World:
    """The deterministic latent world of a seed."""
    rng = random.Random(f"rankops-world:{seed}")
    queries = make_queries(rng, n_queries, days)
    videos = _make_videos(rng, queries, n_videos, days, start)
    assign_pools(rng, queries, videos)
    ranks = list(range(len(queries)))
    rng.shuffle(ranks)  # popularity rank independent of topic/creation order
    weights = [1.0 / (r + 1) ** 1.07 for r in ranks]  # Zipf: a few head queries, a long tail
    return World(queries, videos, cumulative(weights))


def cumulative(weights: list[float]) -> list[float]:
    cumulative, total = [], 0.0
    for w in weights:
        total += w
        cumulative.append(total)
    return cumulative
