"""Artifact I/O of the feature components, kept out of component.py so it is testable without KFP."""

from __future__ import annotations

from typing import Any

from components.common.config import load_settings


def gold_refs_of(metadata: dict[str, Any]) -> dict[str, str] | None:
    """{table: snapshot_id} from a gold Dataset's metadata (`gold_snapshots`/`snapshots`), else None."""
    found = metadata.get("gold_snapshots") or metadata.get("snapshots")
    if not isinstance(found, dict):
        return None
    return {t: str(v).partition("@")[2] or str(v) for t, v in found.items() if str(t).startswith("gold/")}


def run_apply_op(gold: Any, registry: Any, *, env: str) -> dict[str, Any]:
    from components.features.apply import run_apply

    result = run_apply(load_settings(env), gold=gold_refs_of(dict(gold.metadata or {})))
    registry.metadata.update({k: result[k] for k in ("profile", "project", "gold_snapshots", "feature_services",
                                                     "feature_views")})
    return result


def run_materialize_op(metrics: Any, *, env: str, full: bool) -> dict[str, Any]:
    from components.features.materialize import run_materialize

    result = run_materialize(load_settings(env), incremental=not full)
    for name, view in result["feature_views"].items():
        metrics.log_metric(f"{name}_rows", view["rows_in_window"])
    return result


def run_training_set_op(training_set: Any, *, env: str, service: str) -> dict[str, Any]:
    from components.features.training_set import build_training_set, summarize

    snap = build_training_set(load_settings(env), service)
    summary = summarize(snap)
    training_set.metadata.update({"ref": snap.ref, "table": snap.table, "snapshot_id": snap.snapshot_id,
                                  "uri": snap.data_path, "rows": snap.row_count, "feature_service": service,
                                  "features": summary["features"], "parents": summary["parents"]})
    return summary
