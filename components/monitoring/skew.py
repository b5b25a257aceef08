"""Train/serve skew guard: the online path must reproduce the offline features and the batch score.

For a sample of (query, video) pairs it asks the online store (one batched call per query, the
ranker's own `rank` path) and compares the feature vector with the training-set row and the
online score with the batch-scoring path's score for the same row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from components.common.config import Settings
    from components.inference.features import FeatureSource
    from components.inference.model import Ranker


def compare_online_offline(ranker: Ranker, source: FeatureSource, rows: pd.DataFrame, *, batch_size: int = 64,
                           score_atol: float = 1e-5, feature_atol: float = 1e-9) -> dict[str, Any]:
    """Per-pair feature and score differences between the online path and offline `rows`."""
    import numpy as np

    from components.inference.batch import score_pandas
    from components.inference.schema import RerankRequest
    from components.inference.server import rank

    batch = score_pandas(ranker, rows.reset_index(drop=True), batch_size=batch_size)
    mismatches: list[dict[str, Any]] = []
    diffs: list[float] = []
    for query, group in batch.groupby("query_text", sort=True):
        ids = group["video_id"].astype(str).tolist()
        online = source.lookup(str(query), ids).set_index("video_id")
        served = rank(ranker, source, RerankRequest(query=str(query), candidates=ids), reject_unknown=False)
        online_score = {r.video_id: r.score for r in served.results}
        for row in group.itertuples(index=False):
            vid = str(row.video_id)
            for col in ranker.features:
                a, b = float(getattr(row, col)), float(online.loc[vid, col])
                if not np.isclose(a, b, rtol=0, atol=feature_atol):
                    mismatches.append({"query_text": query, "video_id": vid, "column": col, "offline": a, "online": b})
            for col in ("title", "description"):
                if col in online.columns and hasattr(row, col) and str(getattr(row, col)) != str(online.loc[vid, col]):
                    mismatches.append({"query_text": query, "video_id": vid, "column": col,
                                       "offline": getattr(row, col), "online": online.loc[vid, col]})
            diffs.append(abs(float(row.score) - online_score[vid]))
    max_diff = max(diffs) if diffs else 0.0
    return {"pairs": len(batch), "queries": int(batch["query_text"].nunique()), "feature_mismatches": mismatches[:50],
            "feature_mismatch_count": len(mismatches), "score_max_abs_diff": max_diff, "score_atol": score_atol,
            "passed": not mismatches and max_diff <= score_atol}


def check_skew(settings: Settings, *, model_uri: str, training_set: str | None = None, sample: int = 50,
               seed: int = 0, source: FeatureSource | None = None) -> dict[str, Any]:
    """Sample pairs of the training set and compare them with the online path (see module doc)."""
    from components.common.snapshots import SnapshotStore
    from components.inference.features import online_source
    from components.inference.model import load_ranker

    ref = training_set or f"features/training_set_{settings.serving.feature_service}"
    snap = SnapshotStore(settings.lakehouse).resolve(ref)
    rows = SnapshotStore.read_pandas(snap).drop_duplicates(["query_text", "video_id"])
    rows = rows.sample(n=min(sample, len(rows)), random_state=seed) if len(rows) > sample else rows
    ranker = load_ranker(settings, model_uri)
    source = source or online_source(settings, str(snap.manifest.get("extra", {}).get("feature_service") or
                                                   settings.serving.feature_service))
    result = compare_online_offline(ranker, source, rows, batch_size=settings.serving.batch_size)
    return {"training_set": snap.ref, "model_uri": ranker.uri, "model_version": ranker.version, **result}
