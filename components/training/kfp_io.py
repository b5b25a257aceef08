"""The I/O side of the training KFP components: artifacts in, `train`/`check_model` called, artifacts out."""

from __future__ import annotations

import json
from typing import Any

from components.common.artifacts import ModelMeta, model_uri_of, snapshot_ref_of
from components.common.kfp_step import kfp_step


@kfp_step
def run_train_op(training_set, model, metrics, *, env: str = "local", params_json: str = "") -> dict[str, Any]:
    """Train in this pod, or (profile `trainjob.enabled`) as a multi-node TrainJob that this step follows."""
    from components.common.config import load_settings
    from components.training.api import train

    settings = load_settings(env)
    params = json.loads(params_json) if params_json and params_json.strip() else None
    ref = snapshot_ref_of(training_set)
    if settings.trainjob.enabled:
        from components.training.trainjob import train_with_trainjob

        out = train_with_trainjob(settings, training_set=ref, params=params)
    else:
        out = train(settings, training_set=ref, params=params).to_dict()
    model.metadata.update(ModelMeta(model_uri=out["model_uri"], run_id=out["run_id"], tracking_uri=out["tracking_uri"],
                                    training_set=out["training_set"]).to_metadata(steps=out["steps"]))
    for name, value in out["metrics"].items():
        metrics.log_metric(name, float(value))
    return out


@kfp_step
def run_validate_model_op(model, metrics, report, *, env: str = "local") -> dict[str, Any]:
    from components.common.config import load_settings
    from components.training.validity import ValidityReport, check_model, recorded_report

    settings = load_settings(env)
    model_uri = model_uri_of(model)
    recorded = recorded_report(settings, model_uri, (model.metadata or {}).get("run_id"))
    result = ValidityReport.from_dict(recorded) if recorded else check_model(settings, model_uri)
    for check in result.checks:
        metrics.log_metric(f"check_{check.name}", 1.0 if check.passed else 0.0)
    lines = [f"# Validity of `{model_uri}`", "", f"**{'PASSED' if result.passed else 'FAILED'}**", "",
             "| check | result | detail |", "|---|---|---|"]
    lines += [f"| {c.name} | {'ok' if c.passed else 'FAIL'} | {c.detail.replace('|', '/')} |" for c in result.checks]
    with open(report.path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    if not result.passed:
        failed = ", ".join(c.name for c in result.checks if not c.passed)
        raise RuntimeError(f"model {model_uri} failed validity checks: {failed}")
    return result.to_dict()
