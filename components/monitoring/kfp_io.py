"""The I/O side of the monitoring KFP component: run the checks, fill HTML + Metrics, maybe retrain."""

from __future__ import annotations

import shutil
from typing import Any

from components.common.kfp_step import kfp_step


@kfp_step
def run_monitor_op(current_data, report, metrics, *, env: str = "local", reference: str = "", current: str = "",
                   trigger: bool = True) -> bool:
    """Returns the breach flag; on a breach (and `trigger`) submits the training pipeline exactly once."""
    from components.common.artifacts import snapshot_ref_of
    from components.common.config import load_settings
    from components.monitoring.alerts import act_on_event, default_trigger
    from components.monitoring.run import run_monitor

    settings = load_settings(env)
    cur = current or snapshot_ref_of(current_data) or settings.serving.scored_table
    ref = reference or f"features/training_set_{settings.serving.feature_service}"
    result: dict[str, Any] = run_monitor(settings, reference=ref, current=cur)
    shutil.copyfile(result["report"]["html"], report.path)
    report.metadata.update({"reference": result["reference"], "current": result["current"],
                            "breach": result["breach"], "json": result["report"]["json"]})
    perf = result["performance"]
    metrics.log_metric("breach", float(result["breach"]))
    metrics.log_metric("drifted_columns", float(result["drift"]["drifted"]))
    metrics.log_metric("drift_share", float(result["drift"]["share"]))
    for key in ("ndcg_current", "ndcg_reference", "ctr_current", "ctr_reference"):
        if perf.get(key) is not None:
            metrics.log_metric(key, float(perf[key]))
    if result["score_drift"]:
        metrics.log_metric("score_psi", float(result["score_drift"]["psi"]))
    if result["breach"] and trigger:
        act_on_event(settings, result["event"]["breach_id"], default_trigger(settings))
    return bool(result["breach"])
