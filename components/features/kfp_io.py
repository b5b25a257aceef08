"""Artifact I/O of the feature components, kept out of component.py so it is testable without KFP.

Each step imports Feast lean first (lean_import: no torch, no typeguard recompiling), once per process.
"""

from __future__ import annotations

from typing import Any

from components.common.artifacts import SnapshotMeta, gold_refs_of
from components.common.config import load_settings
from components.common.kfp_step import kfp_step
from components.features.lean_import import import_feast


@kfp_step
def run_apply_op(gold: Any, registry: Any, *, env: str) -> dict[str, Any]:
    import_feast()
    from components.features.apply import run_apply

    result = run_apply(load_settings(env), gold=gold_refs_of(gold))
    registry.metadata.update({k: result[k] for k in ("profile", "project", "gold_snapshots", "feature_services",
                                                     "feature_views")})
    return result


@kfp_step
def run_materialize_op(metrics: Any, *, env: str, full: bool) -> dict[str, Any]:
    import_feast()
    from components.features.materialize import run_materialize

    result = run_materialize(load_settings(env), incremental=not full)
    for name, view in result["feature_views"].items():
        metrics.log_metric(f"{name}_rows", view["rows_in_window"])
    return result


@kfp_step
def run_training_set_op(training_set: Any, *, env: str, service: str) -> dict[str, Any]:
    import_feast()
    from components.features.training_set import build_training_set, summarize

    snap = build_training_set(load_settings(env), service)
    summary = summarize(snap)
    training_set.metadata.update(SnapshotMeta.of_ref(snap.ref).to_metadata(
        uri=snap.data_path, rows=snap.row_count, feature_service=service,
        features=summary["features"], parents=summary["parents"]))
    return summary
