"""Slices of the test candidates the report breaks metrics down by.

head/tail: query traffic (the `popularity_column` feature, e.g. query_impressions, else the
query's rows over all splits as a proxy), the top `head_share` of queries are head; query length: token-count buckets; videos: known
(the video appears in the train split) vs new (cold start).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from components.evaluation.frames import TRAIN_SPLITS, split_mask
from components.training.lexical import tokenize

if TYPE_CHECKING:
    import pandas as pd


def head_queries(full: pd.DataFrame, head_share: float, popularity_column: str | None = None) -> set[str]:
    """The most searched `head_share` of queries (ties broken by query id, so it is stable)."""
    if popularity_column and popularity_column in full.columns:
        counts = full.groupby("query_id")[popularity_column].max().fillna(0).reset_index(name="n")
    else:
        counts = full.groupby("query_id").size().reset_index(name="n")
    counts = counts.sort_values(["n", "query_id"], ascending=[False, True], kind="stable")
    n_head = max(1, math.ceil(head_share * len(counts))) if len(counts) else 0
    return set(counts["query_id"].head(n_head).astype(str))


def length_bucket(n_tokens: int, lower_bounds: list[int]) -> str:
    """Name of the bucket of a query with `n_tokens` tokens: '1', '2', '3+' for bounds [1, 2, 3]."""
    bounds = sorted(lower_bounds)
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        if n_tokens < hi:
            return str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}"
    return f"{bounds[-1]}+"


def slice_masks(
    test: pd.DataFrame, full: pd.DataFrame, head_share: float, length_bounds: list[int],
    popularity_column: str | None = None,
) -> dict[str, np.ndarray]:
    """Boolean row masks over `test`, one per slice name."""
    head = head_queries(full, head_share, popularity_column)
    is_head = test["query_id"].astype(str).isin(head).to_numpy()
    masks: dict[str, np.ndarray] = {"queries:head": is_head, "queries:tail": ~is_head}
    buckets = np.array([length_bucket(len(tokenize(q)), length_bounds) for q in test["query_text"]])
    for lo in sorted(length_bounds):
        name = length_bucket(lo, length_bounds)
        masks[f"query_len:{name}"] = buckets == name
    known_videos = set(full.loc[split_mask(full, TRAIN_SPLITS), "video_id"].astype(str))
    is_known = test["video_id"].astype(str).isin(known_videos).to_numpy()
    masks["videos:known"] = is_known
    masks["videos:new"] = ~is_known
    return masks
