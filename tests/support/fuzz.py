"""A seeded generator of malformed /rerank requests: the ranker must answer each with a 4xx."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

CONTENT_TYPES = ["application/json", "text/plain", "application/xml", "", "application/json; charset=utf-8",
                 "multipart/form-data", "application/x-www-form-urlencoded", "APPLICATION/JSON"]
JUNK = [None, True, 0, -1, 1.5, 1e308, "", "x", [], {}, [[]], {"a": 1}, "\u0000", "\ud7ff", "😀" * 3]


def _mutate(rng: random.Random, ids: list[str]) -> object:
    """One structurally wrong payload (as a Python object) chosen from the contract's failure modes."""
    good = rng.sample(ids, k=min(len(ids), rng.randint(1, 8)))
    kind = rng.randrange(14)
    if kind == 0:
        return {"query": rng.choice(JUNK[:5] + JUNK[8:12]), "candidates": good}
    if kind == 1:
        return {"query": "cat", "candidates": rng.choice(JUNK)}
    if kind == 2:
        return {"query": "cat", "candidates": [rng.choice(JUNK) for _ in range(3)]}
    if kind == 3:
        return {"candidates": good}
    if kind == 4:
        return {"query": "cat"}
    if kind == 5:
        return {"query": "cat", "candidates": good, rng.choice(["k", "", "query "]): 1}
    if kind == 6:
        return {"query": " " * rng.randint(0, 5), "candidates": good}
    if kind == 7:
        return {"query": "q" * rng.randint(513, 5000), "candidates": good}
    if kind == 8:
        return {"query": "cat", "candidates": [f"id{i}" for i in range(rng.randint(201, 600))]}
    if kind == 9:
        return {"query": "cat", "candidates": good + good[:1]}
    if kind == 10:
        return {"query": "cat", "candidates": ["".join(rng.choice("0123456789abcdef") for _ in range(16))]}
    if kind == 11:
        return {"query": "cat", "candidates": [rng.choice(["", "a\tb", "x" * 65, "\x00"])]}
    if kind == 12:
        return rng.choice(JUNK)
    return {"query": {"nested": "cat"}, "candidates": {"0": good[0]}}


def malformed_requests(n: int, ids: list[str], *, seed: int = 0) -> Iterator[tuple[bytes, str]]:
    """`n` (body, content type) pairs: wrong types/shapes, limits, bad JSON bytes, wrong media types."""
    rng = random.Random(seed)
    for _ in range(n):
        mode = rng.random()
        ctype = "application/json"
        if mode < 0.6:
            body = json.dumps(_mutate(rng, ids)).encode()
        elif mode < 0.75:
            body = json.dumps({"query": "cat", "candidates": rng.sample(ids, k=min(3, len(ids)))}).encode()
            cut = rng.randint(0, max(0, len(body) - 1))
            body = body[:cut] + bytes([rng.randrange(256)]) + body[cut + 1:] if rng.random() < 0.5 else body[:cut]
        elif mode < 0.85:
            body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
        elif mode < 0.95:
            body = json.dumps({"query": "cat", "candidates": rng.sample(ids, k=min(2, len(ids)))}).encode()
            ctype = rng.choice([c for c in CONTENT_TYPES if "json" not in c.lower()])
        else:
            body = b'{"query": "' + b"a" * rng.randint(70_000, 150_000) + b'", "candidates": []}'
        yield body, ctype
