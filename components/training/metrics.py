"""Validation ranking metrics, computed per query with numpy/pandas.

ranx is the reference (tests assert equality with it), but its numba kernels compile on
first use in every process (10-40 s measured on 2 busy cores), longer than a whole tiny
training run; the in-loop validation therefore uses this vectorised form of the same
definitions: NDCG with linear gains (ranx "ndcg", Jarvelin & Kekalainen) and MRR, averaged
over queries with at least one relevant (label > 0) document.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_METRICS = ("ndcg@10", "ndcg@5", "mrr@10")


def metric_key(name: str) -> str:
    """MLflow-safe metric name: ``ndcg@10`` -> ``ndcg_at_10``."""
    return name.replace("@", "_at_")


def _parse(name: str) -> tuple[str, int]:
    kind, _, k = name.partition("@")
    if kind not in {"ndcg", "mrr"} or not k.isdigit():
        raise ValueError(f"unsupported validation metric {name!r}: use ndcg@K or mrr@K")
    return kind, int(k)


def ranking_metrics(query_ids, doc_ids, labels, scores, metrics=DEFAULT_METRICS) -> dict[str, float]:
    """Mean per-query metrics; queries without a relevant document are skipped (as ranx does)."""
    frame = pd.DataFrame({"q": np.asarray(query_ids).astype(str), "d": np.asarray(doc_ids).astype(str),
                          "y": np.asarray(labels, dtype=float), "s": np.asarray(scores, dtype=float)})
    frame = frame[frame.groupby("q")["y"].transform("max") > 0]
    if frame.empty:
        return {metric_key(m): 0.0 for m in metrics}
    ranked = frame.sort_values(["q", "s", "d"], ascending=[True, False, True], kind="stable")
    rank = ranked.groupby("q").cumcount().to_numpy() + 1
    ideal = frame.sort_values(["q", "y"], ascending=[True, False], kind="stable")
    ideal_rank = ideal.groupby("q").cumcount().to_numpy() + 1
    out: dict[str, float] = {}
    for name in metrics:
        kind, k = _parse(name)
        if kind == "ndcg":
            gain = np.where(rank <= k, ranked["y"].to_numpy() / np.log2(rank + 1), 0.0)
            best = np.where(ideal_rank <= k, ideal["y"].to_numpy() / np.log2(ideal_rank + 1), 0.0)
            dcg = pd.Series(gain, index=ranked["q"].to_numpy()).groupby(level=0).sum()
            idcg = pd.Series(best, index=ideal["q"].to_numpy()).groupby(level=0).sum()
            out[metric_key(name)] = float((dcg / idcg).mean())
        else:
            hit = (ranked["y"].to_numpy() > 0) & (rank <= k)
            rr = pd.Series(np.where(hit, 1.0 / rank, 0.0), index=ranked["q"].to_numpy()).groupby(level=0).max()
            out[metric_key(name)] = float(rr.mean())
    return out
