"""The I/O side of the evaluation KFP components: artifacts in, run_evaluation/run_compare called, artifacts out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from components.common.artifacts import model_uri_of, snapshot_ref_of
from components.common.kfp_step import kfp_step


@kfp_step
def run_evaluate_op(model, training_set, metrics, report, classification=None, *, html_report=None,
                    env: str = "local") -> dict[str, Any]:
    from components.common.config import load_settings
    from components.evaluation.run import run_evaluation
    from components.evaluation.tasks import evaluation_task

    settings = load_settings(env)
    out_dir = Path(report.path).parent / "evaluation"
    result = run_evaluation(settings, model_uri_of(model), training_set=snapshot_ref_of(training_set),
                            report_dir=out_dir)
    task = evaluation_task(settings)
    for who in ("model", task.baseline_name):
        for name, value in result[who].items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                metrics.log_metric(name if who == "model" else f"{who}_{name}", float(value))
    shutil.copyfile(out_dir / "report.md", report.path)
    if html_report is not None:
        shutil.copyfile(out_dir / "report.html", html_report.path)
    if classification is not None:  # pointwise relevant/not at the validation threshold, on the test split
        m = result["model"]
        labels = list(task.confusion_labels)
        classification.log_confusion_matrix(labels, [[m["tn"], m["fp"]], [m["fn"], m["tp"]]])
    metrics.metadata.update({"model_uri": result["model_uri"], "training_set": result["training_set"],
                             "metrics_json": json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))})
    return result


@kfp_step
def run_compare_op(version: str, report, decision_out, *, html_report=None, env: str = "local") -> dict[str, Any]:
    from components.common.config import load_settings
    from components.evaluation.compare_run import run_compare

    settings = load_settings(env)
    out_dir = Path(report.path).parent / "compare"
    decision = run_compare(settings, version, report_dir=out_dir)
    shutil.copyfile(out_dir / "decision.md", report.path)
    shutil.copyfile(out_dir / "decision.json", decision_out.path)
    if html_report is not None:
        shutil.copyfile(out_dir / "decision.html", html_report.path)
    decision_out.metadata.update({k: decision[k] for k in ("promote", "p_value", "delta", "challenger_version")})
    return decision
