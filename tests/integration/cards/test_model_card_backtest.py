"""A backtest run after registration updates the version's model card in MLflow (real trainer, real MLflow)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from components.cards.card_io import load_card, stored_facts
from components.registry.lookup import use_mlflow
from components.registry.register import register_model
from pipelines.cli import build_app
from tests.support.evaluation_data import log_scorer, write_training_set

pytestmark = pytest.mark.slow
NAME = "rankops-ranker"


def test_backtest_of_a_registered_version_rerenders_its_card(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("RANKOPS_HOME", str(settings.home))
    monkeypatch.setenv("RANKOPS_REGISTRY__WRITE_BACK", "false")
    snap = write_training_set(settings)
    out = register_model(settings, log_scorer(settings, {"signal": 1.0}, snapshot=snap))
    client = use_mlflow(settings)
    run_id, card_uri = out["run_id"], out["model_card"]["artifact_uri"]
    assert stored_facts(client, run_id)["backtest"] is None  # registered before any backtest
    assert "No backtest recorded for" in load_card(client, run_id)

    app, summary = build_app(), tmp_path / "backtest.json"
    wrong = CliRunner().invoke(app, ["backtest", "--windows", "2", "--version", "1", "--training-set", "features/x"])
    assert wrong.exit_code != 0
    assert f"v1 was trained on {snap.ref}, not features/x" in " ".join(wrong.output.split())  # unwrapped
    result = CliRunner().invoke(app, ["backtest", "--windows", "2", "--version", "1", "--params",
                                      json.dumps({"max_steps": 4, "eval_every": 4}), "--summary", str(summary)])
    assert result.exit_code == 0, result.output
    backtest = json.loads(summary.read_text())
    assert backtest["training_set"] == snap.ref and backtest["model_card"] == card_uri
    assert f"modelcardofv1:{card_uri}" in "".join(result.output.split())  # the console wraps long lines

    facts = stored_facts(use_mlflow(settings), run_id)
    assert facts["backtest"]["run_id"] == backtest["run_id"]
    per_window = [w["model"]["ndcg@10"] for w in backtest["windows"]]
    assert facts["backtest"]["stability"]["mean"] == pytest.approx(np.mean(per_window))
    assert facts["backtest"]["stability"]["worst_window"] == float(np.argmin(per_window))
    md = load_card(client, run_id)
    assert f"Rolling-origin backtest of `{snap.ref}` on ndcg@10 (run `{backtest['run_id']}`)." in md
    assert "No backtest recorded" not in md
    assert client.get_model_version(NAME, "1").tags["rankops.model_card"] == card_uri  # same place, new content
    local = Path(settings.reports_dir) / "cards" / f"{NAME}-v1" / "model_card.md"
    assert local.read_text() == md
