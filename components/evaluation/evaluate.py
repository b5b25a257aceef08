"""Evaluate one scorer on the test split: ranking metrics, pointwise P/R/F1, slices (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from components.evaluation.frames import TEST_SPLITS, VALIDATION_SPLITS, split_mask
from components.evaluation.metrics import choose_threshold, evaluate_ranking, pointwise_metrics
from components.evaluation.slices import slice_masks

if TYPE_CHECKING:
    import pandas as pd

    from components.evaluation.settings import EvaluationSettings

CURVE_KS = tuple(range(1, 21))  # the evaluation report's NDCG@k curve


def scored_rows(full: pd.DataFrame) -> np.ndarray:
    """Rows a scorer must score: validation (threshold) and test (metrics)."""
    return (split_mask(full, TEST_SPLITS) | split_mask(full, VALIDATION_SPLITS)).to_numpy()


def evaluate_scores(full: pd.DataFrame, scores: np.ndarray, cfg: EvaluationSettings) -> dict[str, Any]:
    """Metrics of `scores` (aligned with `full`; only validation/test rows are read).

    Returns {"overall": {...}, "per_query": {metric: {query_id: value}}, "slices": {name: {...}}}.
    """
    scores = np.asarray(scores, dtype=float)
    test_mask = split_mask(full, TEST_SPLITS).to_numpy()
    val_mask = split_mask(full, VALIDATION_SPLITS).to_numpy()
    if np.isnan(scores[test_mask | val_mask]).any():
        raise ValueError("scorer returned NaN for some validation/test candidates")
    test, test_scores = full[test_mask].reset_index(drop=True), scores[test_mask]
    ranking = evaluate_ranking(test, test_scores, cfg.metrics, cfg.relevant_label)

    relevant = (full["label"].astype(float) >= cfg.relevant_label).to_numpy()
    if val_mask.any():
        threshold = choose_threshold(relevant[val_mask], scores[val_mask])
    else:  # no validation split: fall back to the test split itself, flagged in the output
        threshold = choose_threshold(relevant[test_mask], test_scores)
    pointwise = pointwise_metrics(relevant[test_mask], test_scores, threshold)
    pointwise["threshold_from"] = "validation" if val_mask.any() else "test"

    slices: dict[str, dict[str, Any]] = {}
    for name, mask in slice_masks(test, full, cfg.head_share, cfg.query_length_buckets,
                                         cfg.popularity_column).items():
        part = evaluate_ranking(test[mask].reset_index(drop=True), test_scores[mask], cfg.metrics, cfg.relevant_label)
        slices[name] = {**part.mean, "queries": part.n_queries, "candidates": int(mask.sum())}
    overall = {**ranking.mean, **pointwise, "queries": ranking.n_queries, "candidates": int(test_mask.sum())}
    return {"overall": overall, "per_query": ranking.per_query, "slices": slices}


def ndcg_curve(full: pd.DataFrame, scores: np.ndarray, cfg: EvaluationSettings, ks=CURVE_KS) -> list[float]:
    """Mean NDCG@k over the judged test queries for each k in `ks` (the evaluation report's curve)."""
    test_mask = split_mask(full, TEST_SPLITS).to_numpy()
    names = [f"ndcg@{k}" for k in ks]
    result = evaluate_ranking(full[test_mask].reset_index(drop=True), np.asarray(scores, dtype=float)[test_mask],
                              names, cfg.relevant_label)
    return [result.mean[n] for n in names]


def combine(model: dict[str, Any], baseline: dict[str, Any], name: str = "bm25") -> dict[str, Any]:
    """The metrics.json layout: model and baseline (under `name`) side by side, slices under both."""
    slices = {
        s: {"model": model["slices"][s], name: baseline["slices"].get(s, {})} for s in model["slices"]
    }
    return {"model": model["overall"], name: baseline["overall"], "slices": slices}
