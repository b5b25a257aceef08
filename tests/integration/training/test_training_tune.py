"""`rankops tune`: Optuna trials as MLflow child runs; the best params file feeds `rankops train --params`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from pipelines.cli import build_app
from tests.support.training_data import TINY_PARAMS, write_sample_training_set

pytestmark = pytest.mark.slow


def test_tune_writes_best_params_that_train_accepts(tmp_path: Path, rankops_home: Path, settings):
    write_sample_training_set(settings, n_queries=24)
    base = tmp_path / "base.json"
    base.write_text(json.dumps({k: v for k, v in TINY_PARAMS.items() if k != "max_steps"} | {"eval_every": 5}))
    monkey_env = {"RANKOPS_TRAINING__TUNE_MAX_STEPS": "10"}
    out, summary = tmp_path / "best.json", tmp_path / "tune.json"
    res = CliRunner().invoke(build_app(), ["tune", "--trials", "3", "--params", str(base), "--out", str(out),
                                           "--summary", str(summary)], env=monkey_env)
    assert res.exit_code == 0, res.output
    result = json.loads(summary.read_text())
    best = json.loads(out.read_text())
    assert result["trials"] == 3 and result["completed"] + result["pruned"] == 3
    assert best["max_steps"] == 10 and best["model"]["hidden_size"] == 32
    assert set(best) >= {"learning_rate", "weight_decay", "loss", "model.dropout", "model.head_hidden"}
    client = MlflowClient(settings.tracking_uri)
    children = client.search_runs([client.get_run(result["parent_run_id"]).info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{result['parent_run_id']}'")
    assert len(children) == 3
    assert {c.data.tags["rankops.trial"] for c in children} == {"0", "1", "2"}
    best_child = client.get_run(result["best_trial_run_id"])
    assert best_child.data.metrics["ndcg_at_10"] == pytest.approx(result["best_value"])
    assert client.get_run(result["parent_run_id"]).data.metrics["best_ndcg_at_10"] == pytest.approx(result["best_value"])

    train_summary = tmp_path / "train.json"
    res = CliRunner().invoke(build_app(), ["train", "--params", str(out), "--no-validate", "--summary", str(train_summary)])
    assert res.exit_code == 0, res.output
    run = client.get_run(json.loads(train_summary.read_text())["run_id"])
    assert run.data.params["loss"] == best["loss"]
    assert float(run.data.params["learning_rate"]) == pytest.approx(best["learning_rate"])
