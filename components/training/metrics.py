"""Validation ranking metrics with ranx (the same library the evaluation stage uses)."""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_METRICS = ("ndcg@10", "ndcg@5", "mrr@10")


def metric_key(name: str) -> str:
    """MLflow-safe metric name: ``ndcg@10`` -> ``ndcg_at_10``."""
    return name.replace("@", "_at_")


def ranking_metrics(query_ids, doc_ids, labels, scores, metrics=DEFAULT_METRICS) -> dict[str, float]:
    """ranx metrics averaged over queries with at least one relevant (label > 0) document."""
    from ranx import Qrels, Run, evaluate

    frame = pd.DataFrame({"q": np.asarray(query_ids).astype(str), "d": np.asarray(doc_ids).astype(str),
                          "y": np.asarray(labels).astype(int), "s": np.asarray(scores, dtype=float)})
    rel = frame[frame["y"] > 0]
    if rel.empty:
        return {metric_key(m): 0.0 for m in metrics}
    qrels = Qrels.from_df(rel, q_id_col="q", doc_id_col="d", score_col="y")
    run = Run.from_df(frame[frame["q"].isin(set(rel["q"]))], q_id_col="q", doc_id_col="d", score_col="s")
    result = evaluate(qrels, run, list(metrics), make_comparable=True)
    if not isinstance(result, dict):
        result = {metrics[0]: result}
    return {metric_key(k): float(v) for k, v in result.items()}
