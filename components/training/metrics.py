"""Validation ranking metrics for the training loop (early stopping, tuning, the best model).

The definitions (and their tie rule) live in `components.common.ranking`, shared with evaluation
and monitoring; here they are only named and averaged over queries.
"""

from __future__ import annotations

from components.common.ranking import per_query

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
    out: dict[str, float] = {}
    for name in metrics:
        kind, k = _parse(name)
        values = per_query(query_ids, doc_ids, labels, scores, kind, k)
        out[metric_key(name)] = float(values.mean()) if len(values) else 0.0
    return out
