"""A training run checks its model once; validate_model_op and register carry that result forward."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import components.training.validity as validity
from components.common.mlflow_client import use_mlflow
from components.registry.validity import check_validity
from components.training.kfp_io import run_validate_model_op
from tests.support.training_data import train_tiny_model


class Metrics:
    def __init__(self):
        self.logged: dict[str, float] = {}

    def log_metric(self, name: str, value: float) -> None:
        self.logged[name] = value


def refuse_to_check(settings, model_uri):
    raise AssertionError(f"check_model ran again on {model_uri}")


@pytest.mark.slow
def test_validity_runs_once_per_model(settings, tmp_path, monkeypatch):
    trained = train_tiny_model(settings, validate=True)
    check_carried_forward(settings, trained, tmp_path, monkeypatch)
    check_report_of_another_model_not_reused(settings, trained)
    check_run_not_marked_passed_is_checked_afresh(settings, trained, monkeypatch)


def check_carried_forward(settings, trained, tmp_path, monkeypatch):
    assert trained.validity["passed"] is True
    monkeypatch.setattr(validity, "check_model", refuse_to_check)

    report = check_validity(settings, trained.model_uri)
    assert report["checker"] == "training.validity (recorded by the training run)"
    assert [c["name"] for c in report["checks"]] == [c["name"] for c in trained.validity["checks"]]

    model = SimpleNamespace(metadata={"model_uri": trained.model_uri, "run_id": trained.run_id}, uri="m")
    metrics, out = Metrics(), SimpleNamespace(path=str(tmp_path / "validity.md"))
    run_validate_model_op(model, metrics, out)
    assert metrics.logged == {f"check_{c['name']}": 1.0 for c in trained.validity["checks"]}
    assert "**PASSED**" in (tmp_path / "validity.md").read_text()


def check_run_not_marked_passed_is_checked_afresh(settings, trained, monkeypatch):
    use_mlflow(settings).set_tag(trained.run_id, "rankops.validity", "failed")
    calls = []

    def fresh(settings, model_uri):
        calls.append(model_uri)
        return validity.ValidityReport(model_uri, [validity.Check("loads", False, "fresh check")])

    monkeypatch.setattr(validity, "check_model", fresh)
    report = check_validity(settings, trained.model_uri)
    assert calls == [trained.model_uri]
    assert (report["passed"], report["checker"]) == (False, "training.validity")


def check_report_of_another_model_not_reused(settings, trained):
    assert validity.recorded_report(settings, trained.model_uri, trained.run_id)["model_uri"] == trained.model_uri
    assert validity.recorded_report(settings, trained.model_uri + "-other", trained.run_id) is None
    assert validity.recorded_report(settings, trained.model_uri, None) is None
