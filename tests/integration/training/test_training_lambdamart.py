"""LambdaMART through the platform: trained, tracked, validated, evaluated by the evaluate stage, registered, compared with an
ELECTRA champion through the same paired test (both ways round), and served by the batch and online paths."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from components.common.config import load_settings
from components.common.snapshots import SnapshotStore
from components.training.api import train
from components.training.metrics import ranking_metrics
from tests.support.training_data import TINY_PARAMS, write_sample_training_set

pytestmark = pytest.mark.slow
LAMBDAMART = {"model.family": "lambdamart", "model.n_estimators": 60, "model.min_data_in_leaf": 5,
              "system_metrics": False}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    home = tmp_path_factory.mktemp("lambdamart")
    settings = load_settings("local", environ={"RANKOPS_HOME": str(home), "RANKOPS_REGISTRY__WRITE_BACK": "false"})
    snap = write_sample_training_set(settings)
    return settings, snap, train(settings, params=LAMBDAMART, validate=True)


def test_run_is_tracked_like_the_neural_familys(trained):
    settings, snap, result = trained
    client = MlflowClient(settings.tracking_uri)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["rankops.model_kind"] == "lambdamart"
    assert run.data.tags["rankops.training_set"] == snap.ref
    assert run.data.params["model.family"] == "lambdamart" and run.data.params["model.num_leaves"] == "31"
    assert run.data.params["n_model_inputs"] == "7"  # 4 service features + 3 lexical
    history = client.get_metric_history(result.run_id, "val_ndcg_at_10")
    assert sorted(m.step for m in history) == list(range(10, result.steps + 1, 10))
    best = max(history, key=lambda m: (m.value, -m.step))
    assert run.data.metrics["best_step"] == best.step
    assert result.validity["passed"] and [c["name"] for c in result.validity["checks"]] == [
        "loads", "weights_finite", "signature", "outputs_finite", "deterministic", "latency"]
    assert result.validity["checks"][1]["detail"] == f"{best.step} trees, every leaf value finite"


def test_reported_metrics_are_those_of_the_packaged_model(trained):
    settings, snap, result = trained
    frame = SnapshotStore.read_pandas(snap)
    val = frame[frame["split"] == "validation"]
    model = mlflow.pyfunc.load_model(result.model_uri)
    inputs = val[["query_text", "title", "description", *model.metadata.metadata["features"]]]
    scores = model.predict(inputs)
    assert np.array_equal(scores, result.scorer.score(inputs))
    expected = ranking_metrics(val["query_id"], val["video_id"], val["label"], scores, ("ndcg@10", "ndcg@5", "mrr@10"))
    assert result.metrics == pytest.approx(expected, abs=1e-12)
    # the sample's labels follow topics that titles name by synonyms: far better than chance
    rng = np.random.default_rng(0)
    chance = np.mean([ranking_metrics(val["query_id"], val["video_id"], val["label"], rng.random(len(val)),
                                      ("ndcg@10",))["ndcg_at_10"] for _ in range(5)])
    assert result.metrics["ndcg_at_10"] > chance + 0.1


def _per_query_ndcg(model_uri: str, frame) -> dict[str, float]:
    """NDCG@10 per test query straight from ranx on the pyfunc's scores (ties by video id, as ranking.py)."""
    from ranx import Qrels, Run, evaluate

    test = frame[frame["split"] == "test"].sort_values(["query_id", "video_id"])
    model = mlflow.pyfunc.load_model(model_uri)
    scores = model.predict(test[["query_text", "title", "description", *model.metadata.metadata["features"]]])
    qrels = {}
    for q, v, label in zip(test["query_id"], test["video_id"], test["label"], strict=True):
        if label >= 1:
            qrels.setdefault(q, {})[v] = int(label)
    run: dict[str, dict[str, float]] = {}
    for q, group in test.assign(score=scores).groupby("query_id"):
        ordered = group.sort_values(["score", "video_id"], ascending=[False, True], kind="stable")
        run[q] = {v: float(len(ordered) - i) for i, v in enumerate(ordered["video_id"])}  # tie-free ranks
    queries = sorted(qrels)
    ranx_run = Run({q: run[q] for q in queries})
    evaluate(Qrels({q: qrels[q] for q in queries}), ranx_run, "ndcg@10", return_mean=False, save_results_in_run=True)
    return {q: float(ranx_run.scores["ndcg@10"][q]) for q in queries}


def test_the_evaluate_stage_scores_lambdamart_like_any_packaged_model(trained, tmp_path):
    from components.evaluation.run import run_evaluation

    settings, snap, result = trained
    evaluated = run_evaluation(settings, result.model_uri, training_set=snap.ref, report_dir=tmp_path / "eval")
    expected = _per_query_ndcg(result.model_uri, SnapshotStore.read_pandas(snap))
    per_query = json.loads((tmp_path / "eval" / "per_query.json").read_text())
    assert per_query["model"]["ndcg@10"] == pytest.approx(expected, abs=1e-9)
    assert evaluated["model"]["ndcg@10"] == pytest.approx(float(np.mean(list(expected.values()))), abs=1e-9)
    assert evaluated["model"]["queries"] == len(expected)
    assert evaluated["bm25"]["queries"] == len(expected)  # the ranking task's baseline, as for ELECTRA


def test_either_family_can_be_champion_under_the_same_paired_test(trained):
    from scipy.stats import ttest_rel

    from components.evaluation.compare_run import run_compare
    from components.registry.lookup import use_mlflow
    from components.registry.register import register_model

    settings, snap, result = trained
    client = use_mlflow(settings)
    v1 = register_model(settings, result.model_uri)["version"]  # LambdaMART
    electra = train(settings, params=TINY_PARAMS, validate=True)
    v2 = register_model(settings, electra.model_uri)["version"]
    assert (v1, v2) == ("1", "2")
    frame = SnapshotStore.read_pandas(snap)
    ndcg = {v: _per_query_ndcg(f"models:/rankops-ranker/{v}", frame) for v in ("1", "2")}
    queries = sorted(ndcg["1"])
    lm, el = (np.array([ndcg[v][q] for q in queries]) for v in ("1", "2"))

    client.set_registered_model_alias("rankops-ranker", "champion", "1")
    electra_challenges = run_compare(settings, "2", report_dir=settings.home / "cmp-2")
    client.set_registered_model_alias("rankops-ranker", "champion", "2")
    lambdamart_challenges = run_compare(settings, "1", report_dir=settings.home / "cmp-1")

    assert electra_challenges["reference"] == "champion v1" and electra_challenges["challenger"] == "v2"
    assert lambdamart_challenges["reference"] == "champion v2" and lambdamart_challenges["challenger"] == "v1"
    for decision, ref, ch in ((electra_challenges, lm, el), (lambdamart_challenges, el, lm)):
        assert decision["queries"] == len(queries)
        assert decision["delta"] == pytest.approx(float(np.mean(ch - ref)), abs=1e-9)
        assert decision["p_value"] == pytest.approx(float(ttest_rel(ref, ch).pvalue), rel=1e-9)
        assert decision["verdict"] == ("promote" if decision["promote"] else "keep")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A LambdaMART champion trained on the serving sample tables (ids as the online store has them)."""
    from components.registry.lookup import use_mlflow
    from components.registry.register import register_model
    from tests.support import serving_data as sample

    home = tmp_path_factory.mktemp("lambdamart-serving")
    settings = load_settings("local", environ={"RANKOPS_HOME": str(home), "RANKOPS_REGISTRY__WRITE_BACK": "false"})
    tables = sample.make_tables(n_queries=20, n_videos=150, seed=2)
    queries = sorted(tables["training_set"]["query_id"].unique())
    tables["training_set"]["split"] = tables["training_set"]["query_id"].map(
        {q: "validation" if i % 4 == 0 else "train" for i, q in enumerate(queries)})
    sample.write_training_set(settings, tables)
    result = train(settings, params={**LAMBDAMART, "model.n_estimators": 20}, validate=False)
    version = register_model(settings, result.model_uri)["version"]
    use_mlflow(settings).set_registered_model_alias("rankops-ranker", "champion", version)
    return settings, tables


def test_online_rerank_and_batch_scoring_serve_the_packaged_lambdamart(served):
    from fastapi.testclient import TestClient

    from components.inference.batch import score_pandas
    from components.inference.model import load_ranker
    from components.inference.server import create_app
    from components.inference.state import ModelHolder
    from tests.support import serving_data as sample

    settings, tables = served
    uri = "models:/rankops-ranker@champion"
    source = sample.frame_source(tables)
    ids = tables["videos"]["video_id"].tolist()[:40]
    frame = source.lookup("piano lesson", ids)
    pyfunc = mlflow.pyfunc.load_model(uri)
    expected = np.asarray(pyfunc.predict(frame[["query_text", "title", "description", *sample.FEATURES]]))
    app = create_app(settings, ModelHolder(settings, uri), source, poll_interval_s=0, freeze_gc=False)
    with TestClient(app) as client:
        body = client.post("/rerank", json={"query": "piano lesson", "candidates": ids}).json()
    order = np.argsort(-expected, kind="stable")
    assert body["model_version"] == "1"
    assert [r["video_id"] for r in body["results"]] == [ids[i] for i in order]
    assert np.allclose([r["score"] for r in body["results"]], expected[order], atol=1e-12)
    batch = score_pandas(load_ranker(settings, uri), frame, batch_size=7)  # length-bucketed batches of 7
    assert np.array_equal(batch["score"].to_numpy(), expected)


def test_the_same_optuna_command_tunes_lambdamart(trained, tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli import build_app

    settings, snap, _ = trained
    base = tmp_path / "base.json"
    base.write_text('{"model.family": "lambdamart", "model.n_estimators": 30, "system_metrics": false}')
    env = {"RANKOPS_HOME": str(settings.home), "RANKOPS_ENV": "local", "RANKOPS_PROJECT": ""}
    result = CliRunner().invoke(build_app(), ["tune", "--trials", "3", "--params", str(base), "--out",
                                              str(tmp_path / "best.json"), "--summary", str(tmp_path / "s.json")], env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "s.json").read_text())
    best = json.loads((tmp_path / "best.json").read_text())
    assert summary["trials"] == 3 and summary["completed"] + summary["pruned"] == 3
    assert set(best) == {"max_steps", "early_stopping_patience", "model.family", "model.n_estimators", "system_metrics",
                         "model.learning_rate", "model.num_leaves", "model.min_data_in_leaf", "model.feature_fraction",
                         "model.lambda_l2"}
    client = MlflowClient(settings.tracking_uri)
    children = client.search_runs([client.get_run(summary["parent_run_id"]).info.experiment_id],
                                  f"tags.mlflow.parentRunId = '{summary['parent_run_id']}'")
    assert sorted(r.data.tags["rankops.trial"] for r in children) == ["0", "1", "2"]
    assert {r.data.tags["rankops.model_kind"] for r in children} == {"lambdamart"}
    best_child = next(r for r in children if r.info.run_id == summary["best_trial_run_id"])
    assert best_child.data.metrics["ndcg_at_10"] == pytest.approx(summary["best_value"], abs=1e-12)
