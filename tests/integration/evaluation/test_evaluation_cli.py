"""`rankops evaluate` and `rankops compare` on real MLflow pyfunc models and a real snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from components.evaluation.baseline import score_bm25
from components.evaluation.frames import dedupe_pairs
from components.registry.lookup import use_mlflow
from components.registry.register import register_model
from pipelines.cli import build_app
from tests.support.evaluation_data import log_scorer, make_training_frame, write_training_set

METRICS = ["ndcg@5", "ndcg@10", "mrr@10", "map", "recall@5", "recall@10"]


def ranx_means(frame, scores) -> dict[str, float]:
    """Expected means straight from ranx: graded qrels (label >= 1), each query's candidates ranked by score
    with ties by video id (the documented rule, spelled out here as distinct scores)."""
    from ranx import Qrels, Run, evaluate

    scored = frame.assign(score=scores)
    qrels, run = {}, {}
    for qid, group in scored.groupby("query_id"):
        relevant = {v: int(y) for v, y in zip(group["video_id"], group["label"], strict=True) if y >= 1}
        if relevant:
            ranked = sorted(zip(group["video_id"], group["score"], strict=True), key=lambda t: (-t[1], t[0]))
            qrels[qid], run[qid] = relevant, {v: float(len(ranked) - i) for i, (v, _) in enumerate(ranked)}
    return evaluate(Qrels(qrels), Run(run), METRICS, threads=1)


def test_evaluate_and_compare_commands(settings, tmp_path: Path):
    snap = write_training_set(settings)
    good = log_scorer(settings, {"signal": 1.0}, snapshot=snap)
    app, runner = build_app(), CliRunner()

    report, summary = tmp_path / "eval", tmp_path / "eval.json"
    res = runner.invoke(app, ["evaluate", "--model", good, "--report", str(report), "--summary", str(summary)])
    assert res.exit_code == 0, res.output
    metrics = json.loads((report / "metrics.json").read_text())
    assert set(metrics) >= {"model", "bm25", "slices", "training_set"}
    frame = dedupe_pairs(make_training_frame())
    test = frame[frame["split"] == "test"].reset_index(drop=True)
    expected_model = ranx_means(test, test["signal"].to_numpy())
    scored = frame[frame["split"].isin(["test", "validation"])].reset_index(drop=True)
    is_test = (scored["split"] == "test").to_numpy()
    expected_bm25 = ranx_means(scored[is_test].reset_index(drop=True), score_bm25(scored)[is_test])
    for m in METRICS:
        assert metrics["model"][m] == pytest.approx(expected_model[m]), m
        assert metrics["bm25"][m] == pytest.approx(expected_bm25[m]), m
    assert metrics["model"]["queries"] == 10 and metrics["model"]["threshold_from"] == "validation"
    assert {"precision", "recall", "f1"} <= set(metrics["model"])
    assert metrics["slices"]["queries:tail"]["model"]["queries"] + metrics["slices"]["queries:head"]["model"]["queries"] == 10
    per_query = json.loads((report / "per_query.json").read_text())
    assert np.mean(list(per_query["model"]["ndcg@10"].values())) == pytest.approx(metrics["model"]["ndcg@10"])
    assert "| ndcg@10 |" in (report / "report.md").read_text()
    assert json.loads(summary.read_text())["metrics_path"] == str(report / "metrics.json")

    settings.registry.write_back = False
    v_good = register_model(settings, good)["version"]
    v_bad = register_model(settings, log_scorer(settings, {"noise": 1.0}, snapshot=snap))["version"]
    # no champion yet: the challenger must beat BM25
    res = runner.invoke(app, ["compare", "--challenger", v_good, "--report", str(tmp_path / "c1")])
    assert res.exit_code == 0, res.output
    d1 = json.loads((tmp_path / "c1" / "decision.json").read_text())
    assert (d1["promote"], d1["reference"]) == (True, "bm25")
    assert d1["delta"] == pytest.approx(expected_model["ndcg@10"] - expected_bm25["ndcg@10"])
    assert d1["p_value"] < 0.05 and "| queries:tail |" in (tmp_path / "c1" / "decision.md").read_text()

    use_mlflow(settings).set_registered_model_alias("rankops-ranker", "champion", v_good)
    res = runner.invoke(app, ["compare", "--challenger", v_bad, "--report", str(tmp_path / "c2")])
    assert res.exit_code == 0, res.output
    d2 = json.loads((tmp_path / "c2" / "decision.json").read_text())
    assert (d2["promote"], d2["reference"], d2["champion_version"]) == (False, f"champion v{v_good}", v_good)
    assert d2["delta"] < 0 and "KEEP" in res.output

    res = runner.invoke(app, ["evaluate", "--model", good, "--training-set", "features/training_set_ranker_v1@nope"])
    assert res.exit_code == 1 and "no snapshot 'nope'" in res.output
