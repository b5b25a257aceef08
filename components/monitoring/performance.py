"""Live performance of the served model: NDCG@k on fresh judgements and CTR@k from clicks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def ndcg_at_k(df: pd.DataFrame, k: int, *, score: str = "score", label: str = "label",
              query: str = "query_id", doc: str = "video_id") -> tuple[float | None, int]:
    """(mean NDCG@k over the queries with a relevant candidate, number of such queries).

    The definition, ties included, is the one evaluation and training use (`components.common.ranking`).
    """
    from components.common.ranking import per_query

    rows = df[[query, doc, score, label]].dropna()
    values = per_query(rows[query], rows[doc], rows[label], rows[score], "ndcg", k)
    return (float(values.mean()) if len(values) else None), len(values)


def ctr_at_k(df: pd.DataFrame, k: int, *, score: str = "score", query: str = "query_id",
             doc: str = "video_id") -> float | None:
    """Clicks / impressions over each query's top-k by model score (mean qv_ctr if counts are absent).
    Equal scores are ordered by video id, as every ranking metric here (`components.common.ranking`), so
    the top-k does not depend on the scored rows' order."""
    top = (df.sort_values([query, score, doc], ascending=[True, False, True], kind="stable")
             .groupby(query, sort=False).head(k))
    if top.empty:
        return None
    if {"qv_clicks", "qv_impressions"} <= set(top.columns):
        impressions = float(top["qv_impressions"].sum())
        return float(top["qv_clicks"].sum()) / impressions if impressions > 0 else None
    if {"qv_ctr", "qv_impressions"} <= set(top.columns):  # the ranker_v1 service carries these two
        impressions = float(top["qv_impressions"].sum())
        if impressions > 0:
            return float((top["qv_ctr"] * top["qv_impressions"]).sum()) / impressions
    if "qv_ctr" in top.columns:
        return float(top["qv_ctr"].mean())
    return None
