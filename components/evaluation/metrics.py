"""Ranking and pointwise metrics on scored candidates (pure: frame + scores in, numbers out).

Ranking metrics come from ranx, on the shared ranking of `components.common.ranking` (ties
ordered by video id, so a tie never depends on row order); per-query values are kept because the
champion/challenger decision runs a paired test over queries.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class RankingResult:
    """Mean metrics over the judged queries plus each query's value."""

    mean: dict[str, float]
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)
    n_queries: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**self.mean, "queries": self.n_queries}


def build_qrels(frame: pd.DataFrame, relevant_label: int = 1) -> dict[str, dict[str, int]]:
    """Graded judgements of the relevant candidates, per query (ranx Qrels layout)."""
    qrels: dict[str, dict[str, int]] = {}
    rel = frame[frame["label"].astype(float) >= relevant_label]
    for qid, vid, label in zip(rel["query_id"], rel["video_id"], rel["label"], strict=True):
        qrels.setdefault(str(qid), {})[str(vid)] = int(label)
    return qrels


def build_run(frame: pd.DataFrame, scores: np.ndarray) -> dict[str, dict[str, float]]:
    """Every candidate per query (ranx Run layout), scored so that ranx sees the shared tie-free ranking."""
    from components.common.ranking import tie_free_scores

    run: dict[str, dict[str, float]] = {}
    ranks = tie_free_scores(frame["query_id"], frame["video_id"], scores)
    for qid, vid, score in zip(frame["query_id"], frame["video_id"], ranks, strict=True):
        run.setdefault(str(qid), {})[str(vid)] = float(score)
    return run


def evaluate_ranking(
    frame: pd.DataFrame, scores: np.ndarray, metrics: list[str], relevant_label: int = 1
) -> RankingResult:
    """ranx metrics over the queries with at least one relevant candidate (others have no ideal ranking)."""
    from ranx import evaluate

    scores = np.asarray(scores, dtype=float)
    if len(scores) != len(frame):
        raise ValueError(f"{len(scores)} scores for {len(frame)} candidates")
    qrels = build_qrels(frame, relevant_label)
    if not qrels:
        return RankingResult(mean={m: float("nan") for m in metrics}, n_queries=0)
    run = build_run(frame, scores)
    queries = sorted(qrels)
    # Plain dicts, not ranx's Run/Qrels: those build numba typed containers whose methods compile in
    # every process (~2 s per evaluating step); the dict path uses only disk-cached kernels. Both
    # dicts hold the same queries in the same order, so the per-query arrays line up with `queries`.
    # ranx returns one metric's per-query scores under a wrong key, so always ask for two or more
    asked = metrics if len(set(metrics)) > 1 else [*metrics, *metrics]
    with warnings.catch_warnings():  # ranx's doc-id hash cast, seen once when numba first compiles it
        warnings.filterwarnings("ignore", message=".*unsafe cast from uint64 to int64")
        scores_by_metric = evaluate({q: qrels[q] for q in queries}, {q: run[q] for q in queries}, asked,
                                    return_mean=False, threads=1)  # numba thread pools only add contention
    per_query = {m: dict(zip(queries, map(float, scores_by_metric[m]), strict=True)) for m in metrics}
    mean = {m: float(np.mean(list(per_query[m].values()))) for m in metrics}
    return RankingResult(mean=mean, per_query=per_query, n_queries=len(queries))


def choose_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """Score threshold with the best F1 on validation (ties: the highest threshold)."""
    from sklearn.metrics import precision_recall_curve

    labels = np.asarray(labels, dtype=int)
    if labels.sum() == 0 or labels.sum() == len(labels):
        return float(np.median(scores)) if len(scores) else 0.0
    precision, recall, thresholds = precision_recall_curve(labels, np.asarray(scores, dtype=float))
    p, r = precision[:-1], recall[:-1]
    f1 = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)
    best = np.flatnonzero(f1 == f1.max())
    return float(thresholds[best[-1]])


def pointwise_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision/recall/F1 of `score >= threshold` as the relevant-or-not decision."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = np.asarray(labels, dtype=int)
    predicted = (np.asarray(scores, dtype=float) >= threshold).astype(int)
    p, r, f, _ = precision_recall_fscore_support(labels, predicted, average="binary", zero_division=0)
    (tn, fp), (fn, tp) = confusion_matrix(labels, predicted, labels=[0, 1]).tolist()
    return {"precision": float(p), "recall": float(r), "f1": float(f), "threshold": float(threshold),
            "tp": tp, "fp": fp, "fn": fn, "tn": tn}
