"""Validity gate before registration: the training stage's checks, run once per model."""

from __future__ import annotations

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


def check_validity(settings: Settings, model_uri: str) -> dict[str, Any]:
    """The validity report (dict with `passed`): the training run's own, carried forward, else a fresh check."""
    from mlflow.exceptions import MlflowException

    from components.common.mlflow_client import use_mlflow
    from components.registry.lookup import RegistryError, run_id_of
    from components.training.validity import check_model, recorded_report

    try:
        run_id = run_id_of(use_mlflow(settings), model_uri)
    except (RegistryError, MlflowException):
        run_id = None
    recorded = recorded_report(settings, model_uri, run_id)
    if recorded is not None:
        return {**recorded, "checker": "training.validity (recorded by the training run)"}
    report = check_model(settings, model_uri)
    return {**report.to_dict(), "passed": bool(report.passed), "checker": "training.validity"}
