"""Validity gate before registration: the training stage's checks when present, else load + predict."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.common.config import Settings


class InvalidModel(RuntimeError):
    """The model failed its validity checks; nothing was registered."""

    def __init__(self, model_uri: str, report: dict[str, Any]):
        failed = [c for c in report.get("checks", []) if not c.get("passed", True)]
        detail = "; ".join(f"{c.get('name')}: {c.get('detail', '')}" for c in failed) or report.get("error", "")
        super().__init__(f"model {model_uri} failed validity checks: {detail}")
        self.report = report


def minimal_check(model_uri: str) -> dict[str, Any]:
    """Loads, scores three rows of its own feature list, gets one finite float per row, twice the same."""
    import mlflow
    import pandas as pd

    from components.registry.lookup import model_metadata

    checks: list[dict[str, Any]] = []
    try:
        model = mlflow.pyfunc.load_model(model_uri)
        checks.append({"name": "loads", "passed": True})
    except Exception as exc:  # noqa: BLE001 - any loader error means "does not load"
        return {"passed": False, "checks": [{"name": "loads", "passed": False, "detail": str(exc)}]}
    meta = model_metadata(model)
    features = list(meta.get("features") or [])
    defaults = meta.get("defaults") or {}
    frame = pd.DataFrame({"query_text": ["cat videos", "piano", "how to bake bread"],
                          "title": ["funny cat", "piano lesson", "bread recipe"],
                          "description": ["cats", "music", "baking"],
                          **{f: [float(defaults.get(f, 0.0))] * 3 for f in features}})
    try:
        first = [float(x) for x in list(model.predict(frame))]
        second = [float(x) for x in list(model.predict(frame))]
    except Exception as exc:  # noqa: BLE001 - a model that cannot score is invalid, whatever the error
        checks.append({"name": "predicts", "passed": False, "detail": str(exc)})
        return {"passed": False, "checks": checks}
    checks.append({"name": "one score per row", "passed": len(first) == 3, "detail": f"{len(first)} scores"})
    checks.append({"name": "finite", "passed": all(math.isfinite(x) for x in first), "detail": str(first)})
    checks.append({"name": "deterministic", "passed": first == second, "detail": ""})
    return {"passed": all(c["passed"] for c in checks), "checks": checks}


def check_validity(settings: Settings, model_uri: str) -> dict[str, Any]:
    """The validity report (dict with `passed`); the training stage's `check_model` when it exists."""
    try:
        from components.training.validity import check_model
    except ImportError:
        return {**minimal_check(model_uri), "checker": "registry.minimal"}
    report = check_model(settings, model_uri)
    return {**report.to_dict(), "passed": bool(report.passed), "checker": "training.validity"}
