"""One real tiny training run (real MLflow on SQLite), inspected from every side."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from components.common.config import load_settings
from components.common.snapshots import SnapshotStore
from components.training.metrics import ranking_metrics
from components.training.validity import check_model
from tests.support.training_data import FEATURES, TINY_PARAMS, train_tiny_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    home = tmp_path_factory.mktemp("training-run")
    settings = load_settings("local", environ={"RANKOPS_HOME": str(home)})
    result = train_tiny_model(settings, validate=True)
    return settings, result


def test_loss_falls_and_validation_ndcg_beats_random(trained):
    settings, result = trained
    client = MlflowClient(settings.tracking_uri)
    losses = [m.value for m in sorted(client.get_metric_history(result.run_id, "train_loss"), key=lambda m: m.step)]
    assert len(losses) == TINY_PARAMS["max_steps"]
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.03  # soft BCE targets: the floor is ~0.3, not 0
    snap = SnapshotStore(settings.lakehouse).latest("features/training_set_ranker_v1")
    val = SnapshotStore.read_pandas(snap).query("split == 'validation'")
    rng = np.random.default_rng(0)
    random_ndcg = np.mean([ranking_metrics(val["query_id"], val["video_id"], val["label"],
                                           rng.random(len(val)), ("ndcg@10",))["ndcg_at_10"] for _ in range(5)])
    assert result.metrics["ndcg_at_10"] > random_ndcg + 0.1
    assert set(result.metrics) == {"ndcg_at_10", "ndcg_at_5", "mrr_at_10", "val_loss"}


def test_mlflow_run_holds_params_metrics_tags_dataset_and_artifacts(trained):
    settings, result = trained
    client = MlflowClient(settings.tracking_uri)
    run = client.get_run(result.run_id)
    snap = SnapshotStore(settings.lakehouse).latest("features/training_set_ranker_v1")
    assert run.info.status == "FINISHED"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "rankops"
    assert experiment.artifact_location == str(settings.home / "mlflow" / "artifacts")
    assert run.info.artifact_uri.startswith(experiment.artifact_location)
    assert run.data.params["max_steps"] == "40"
    assert run.data.params["model.hidden_size"] == "32"
    assert run.data.params["loss"] == "pointwise"
    assert run.data.params["n_train_rows"] == "320" and run.data.params["n_validation_rows"] == "80"
    tags = run.data.tags
    assert tags["rankops.training_set"] == snap.ref
    assert tags["rankops.training_set_id"] == snap.snapshot_id
    assert tags["rankops.parent.sample"] == "seed=7"
    assert tags["rankops.feature_service"] == "ranker_v1"
    assert tags["rankops.model_kind"] == "electra-cross-encoder"
    assert tags["rankops.validity"] == "passed"
    assert len(tags["rankops.git_sha"]) == 40 and tags["rankops.git_dirty"] in {"true", "false"}
    assert {"rankops.git_branch", "rankops.model_uri"} <= set(tags)
    metrics = run.data.metrics
    assert metrics["ndcg_at_10"] == pytest.approx(result.metrics["ndcg_at_10"])
    evals = client.get_metric_history(result.run_id, "val_ndcg_at_10")
    assert sorted(m.step for m in evals) == [20, 40]
    assert len(client.get_metric_history(result.run_id, "learning_rate")) == 40
    inputs = run.inputs.dataset_inputs
    assert [(d.dataset.name, d.dataset.digest) for d in inputs] == [(snap.ref, snap.snapshot_id)]
    assert inputs[0].tags[0].value == "training"
    assert "validity.json" in {a.path for a in client.list_artifacts(result.run_id)}


def test_pyfunc_round_trip_equals_in_memory_scores_and_carries_metadata(trained):
    settings, result = trained
    mlflow.set_tracking_uri(settings.tracking_uri)
    model = mlflow.pyfunc.load_model(result.model_uri)
    snap = SnapshotStore(settings.lakehouse).latest("features/training_set_ranker_v1")
    frame = SnapshotStore.read_pandas(snap).query("split == 'test'").reset_index(drop=True)
    scores = np.asarray(model.predict(frame[["query_text", "title", "description", *FEATURES]]))
    expected = result.scorer.score(frame)
    assert scores.shape == (len(frame),)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    # dynamic padding with length bucketing gives the same scores as fixed max-length padding, in input order
    np.testing.assert_allclose(result.scorer.score(frame, bucket=False, pad_to=32), expected, rtol=1e-4, atol=1e-5)
    meta = model.metadata.metadata
    assert meta["features"] == FEATURES and meta["feature_service"] == "ranker_v1"
    assert meta["defaults"] == {"qv_ctr": 0.0, "qv_mean_position": 10.0, "video_ctr": 0.0, "query_num_tokens": 0.0}
    assert model.metadata.signature.inputs.input_names() == ["query_text", "title", "description", *FEATURES]
    reqs = open(mlflow.pyfunc.get_model_dependencies(result.model_uri)).read().split()
    assert reqs == ["mlflow==3.17.2", "rankops==0.1.0"]  # mlflow pins itself; nothing from training


def test_validity_passes_good_model_and_rejects_nan_weights_and_wrong_signature(trained):
    settings, result = trained
    good = check_model(settings, result.model_uri)
    assert good.passed and [c.name for c in good.checks] == [
        "loads", "weights_finite", "signature", "outputs_finite", "deterministic", "latency"]

    from components.training.packaging import input_example, log_ranker
    from components.training.tracking import ensure_experiment

    scorer = result.scorer
    frame = SnapshotStore.read_pandas(SnapshotStore(settings.lakehouse).latest("features/training_set_ranker_v1"))
    ensure_experiment(settings)
    import copy

    import torch

    broken = copy.deepcopy(scorer)
    with torch.no_grad():
        broken.model.head[1].weight[0, 0] = float("nan")
    with mlflow.start_run():
        nan_uri = log_ranker(broken, input_example(frame, FEATURES), {"features": FEATURES})
    report = check_model(settings, nan_uri)
    failed = {c.name for c in report.checks if not c.passed}
    assert not report.passed and failed == {"weights_finite", "outputs_finite"}

    # a model whose inputs no longer match the feature service (a renamed feature)
    wrong = copy.deepcopy(scorer)
    renamed = ["qv_ctr_v0", *FEATURES[1:]]
    for stats in (wrong.spec.defaults, wrong.spec.mean, wrong.spec.std):
        stats["qv_ctr_v0"] = stats.pop("qv_ctr")
    wrong.spec.features = renamed
    with mlflow.start_run():
        example = input_example(frame.rename(columns={"qv_ctr": "qv_ctr_v0"}), renamed)
        wrong_uri = log_ranker(wrong, example, {"features": renamed})
    report = check_model(settings, wrong_uri)
    assert [c.name for c in report.checks if not c.passed] == ["signature"]
    assert json.loads(json.dumps(report.to_dict()))["passed"] is False

    missing = check_model(settings, "models:/m-doesnotexist")
    assert [c.name for c in missing.checks] == ["loads"] and not missing.passed


def test_cli_train_summary_and_failing_validity_exits_nonzero(trained, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipelines.cli import build_app

    settings, _ = trained
    monkeypatch.setenv("RANKOPS_HOME", str(settings.home))
    params = tmp_path / "params.json"
    params.write_text(json.dumps({**TINY_PARAMS, "max_steps": 10, "eval_every": 10}))
    summary = tmp_path / "summary.json"
    res = CliRunner().invoke(build_app(), ["--env", "local", "train", "--params", str(params), "--interactive",
                                           "--summary", str(summary)])
    assert res.exit_code == 0, res.output
    assert "10/10" in res.output and "validation" in res.output and "trained" in res.output
    out = json.loads(summary.read_text())
    assert out["model_uri"].startswith("models:/") and out["tracking_uri"] == settings.tracking_uri
    assert set(out["metrics"]) == {"ndcg_at_10", "ndcg_at_5", "mrr_at_10", "val_loss"}
    assert MlflowClient(settings.tracking_uri).get_run(out["run_id"]).data.params["max_steps"] == "10"

    monkeypatch.setenv("RANKOPS_TRAINING__LATENCY_BUDGET_MS", "0.0001")
    bad = tmp_path / "bad.json"
    res = CliRunner().invoke(build_app(), ["--env", "local", "train", "--params", str(params), "--summary", str(bad)])
    assert res.exit_code == 1
    report = json.loads(bad.read_text())
    assert report["passed"] is False and report["model_uri"] is None
    assert [c["name"] for c in report["validity"]["checks"] if not c["passed"]] == ["latency"]
    assert MlflowClient(settings.tracking_uri).get_run(report["run_id"]).info.status == "FAILED"

    missing = tmp_path / "nope.json"
    res = CliRunner().invoke(build_app(), ["--env", "local", "train", "--params", str(missing)], env={"COLUMNS": "500"})
    assert res.exit_code == 1
    assert res.output.strip() == (f"error: --params {missing}: cannot read JSON: [Errno 2] No such file or directory: "
                                  f"'{missing}'")


def test_bad_training_set_fails_with_a_clear_error(trained, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipelines.cli import build_app

    settings, _ = trained
    monkeypatch.setenv("RANKOPS_HOME", str(settings.home))
    store = SnapshotStore(settings.lakehouse)
    snap = store.latest("features/training_set_ranker_v1")
    df = SnapshotStore.read_pandas(snap)
    df.loc[5, "split"] = "holdout"
    bad = store.write("features/training_set_bad", df, extra=snap.manifest["extra"])
    res = CliRunner().invoke(build_app(), ["--env", "local", "train", "--training-set", bad.ref])
    assert res.exit_code == 1
    assert f"training set {bad.ref}" in res.output and "'holdout'" in res.output
    res = CliRunner().invoke(build_app(), ["--env", "local", "train", "--training-set", "features/none"],
                             env={"COLUMNS": "500"})
    assert res.exit_code == 1
    assert f"table 'features/none' has no published snapshot under {settings.lakehouse}" in res.output
