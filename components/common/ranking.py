"""The one definition of the ranking metrics that training, evaluation and monitoring share.

A query's candidates are ranked by score, best first; equal scores are ordered by document id
(ascending), so a tie never depends on row order. NDCG uses linear gains (ranx "ndcg",
Jarvelin & Kekalainen): DCG@k = sum of label / log2(rank + 1) over the top k, divided by the
same sum over the labels sorted best first; a candidate below `relevant_label` gains nothing.
Queries without a relevant candidate have no ideal ranking and are left out, as ranx does.

Evaluation runs ranx on `tie_free_scores` (this order as strictly decreasing scores), training
and monitoring run the vectorised form below: ranx compiles numba kernels in every new process
(10-90 s), longer than a tiny training run. Unit tests hold both to ranx on a tie case.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def ranked(query_ids, doc_ids, labels, scores) -> pd.DataFrame:
    """Rows (q, d, y, s) sorted into each query's ranking, with the 1-based `rank`."""
    frame = pd.DataFrame({"q": np.asarray(query_ids).astype(str), "d": np.asarray(doc_ids).astype(str),
                          "y": np.asarray(labels, dtype=float), "s": np.asarray(scores, dtype=float)})
    frame = frame.sort_values(["q", "s", "d"], ascending=[True, False, True], kind="stable")
    frame["rank"] = frame.groupby("q").cumcount().to_numpy() + 1
    return frame


def tie_free_scores(query_ids, doc_ids, scores) -> np.ndarray:
    """Scores in input order replaced by (candidates - rank + 1): the same ranking, with no ties left."""
    order = ranked(query_ids, doc_ids, np.zeros(len(scores)), scores)
    size = order.groupby("q")["rank"].transform("size")
    out = np.empty(len(order))
    out[order.index.to_numpy()] = (size - order["rank"] + 1).to_numpy(dtype=float)
    return out


def per_query(query_ids, doc_ids, labels, scores, metric: str, k: int, relevant_label: float = 1) -> pd.Series:
    """`metric` ("ndcg" or "mrr") at cut-off `k` of every query with a relevant candidate, by query id."""
    if metric not in {"ndcg", "mrr"}:
        raise ValueError(f"unsupported ranking metric {metric!r}: use ndcg or mrr")
    order = ranked(query_ids, doc_ids, labels, scores)
    gain = order["y"].where(order["y"] >= relevant_label, 0.0)
    judged = gain.groupby(order["q"]).transform("max") > 0
    order, gain = order[judged], gain[judged]
    if order.empty:
        return pd.Series(dtype=float)
    rank = order["rank"].to_numpy()
    if metric == "mrr":
        hit = (gain.to_numpy() > 0) & (rank <= k)
        return pd.Series(np.where(hit, 1.0 / rank, 0.0), index=order["q"].to_numpy()).groupby(level=0).max()
    dcg = pd.Series(np.where(rank <= k, gain.to_numpy() / np.log2(rank + 1), 0.0), index=order["q"].to_numpy())
    ideal = gain.to_frame("g").assign(q=order["q"].to_numpy()).sort_values(["q", "g"], ascending=[True, False])
    ideal_rank = ideal.groupby("q").cumcount().to_numpy() + 1
    idcg = pd.Series(np.where(ideal_rank <= k, ideal["g"].to_numpy() / np.log2(ideal_rank + 1), 0.0),
                     index=ideal["q"].to_numpy())
    return dcg.groupby(level=0).sum() / idcg.groupby(level=0).sum()
