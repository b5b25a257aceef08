"""Evaluation, comparison and staging run whatever task `evaluation.task` names: the frame it prepares,
its metrics, its baseline (under its own name) and its report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from components.common import plugins
from components.common.config import load_settings
from components.evaluation.tasks import EvaluationTask, evaluation_task
from tests.support.evaluation_data import log_scorer, make_training_frame, write_training_set


def _prepare(frame, settings):
    return frame[frame["query_id"] != "q000"].reset_index(drop=True)  # a task may drop rows it cannot judge


def _evaluate(full, scores, settings):
    """Per query: the mean score of its test candidates (higher is better), to keep the arithmetic plain."""
    test = full.assign(score=scores)[full["split"] == "test"]
    per_query = test.groupby("query_id")["score"].mean().to_dict()
    return {"overall": {"mean_score": float(np.mean(list(per_query.values()))), "queries": len(per_query)},
            "per_query": {"mean_score": per_query}, "slices": {}}


def _baseline(full, settings):
    return np.full(len(full), 0.5)


TOY = EvaluationTask(name="toy", baseline_name="half", prepare=_prepare, evaluate=_evaluate, baseline=_baseline,
                     render=lambda metrics: f"# toy\n\nmodel {metrics['model']['mean_score']:.3f}\n")


@pytest.fixture
def toy_settings(rankops_home):
    plugins.register_plugin(plugins.TASKS, "toy", TOY)
    yield load_settings("local", environ={"RANKOPS_HOME": str(rankops_home), "RANKOPS_EVALUATION__TASK": "toy",
                                          "RANKOPS_EVALUATION__PRIMARY_METRIC": "mean_score",
                                          "RANKOPS_REGISTRY__WRITE_BACK": "false"})
    plugins.unregister_plugin(plugins.TASKS, "toy")


def test_evaluate_and_compare_follow_the_configured_task(toy_settings, tmp_path):
    from components.evaluation.compare_run import run_compare
    from components.evaluation.run import run_evaluation
    from components.registry.register import register_model

    settings = toy_settings
    snap = write_training_set(settings)
    uri = log_scorer(settings, {"signal": 1.0}, snapshot=snap)
    result = run_evaluation(settings, uri, report_dir=tmp_path / "eval")
    frame = make_training_frame()
    test = frame[(frame["split"] == "test") & (frame["query_id"] != "q000")]
    expected = test.groupby("query_id")["signal"].mean()
    assert set(result) == {"model_uri", "training_set", "report_dir", "metrics_path", "report_path", "html_path",
                           "model", "half"}
    assert result["model"]["mean_score"] == pytest.approx(expected.mean(), abs=1e-12)
    assert result["half"] == {"mean_score": 0.5, "queries": len(expected)}
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert set(metrics) >= {"model", "half"} and "bm25" not in metrics
    assert (tmp_path / "eval" / "report.md").read_text() == f"# toy\n\nmodel {expected.mean():.3f}\n"
    page = (tmp_path / "eval" / "report.html").read_text()  # no HTML renderer: the Markdown on an offline page
    assert f"<pre># toy\n\nmodel {expected.mean():.3f}\n</pre>" in page and "<script" not in page

    register_model(settings, uri)
    decision = run_compare(settings, "1", report_dir=tmp_path / "cmp")
    assert decision["reference"] == "half" and decision["metric"] == "mean_score"
    assert decision["queries"] == len(expected)
    assert decision["delta"] == pytest.approx(expected.mean() - 0.5, abs=1e-12)
    assert "<h2>Queries the challenger loses (largest first)</h2>" in (tmp_path / "cmp" / "decision.html").read_text()


def test_unknown_task_lists_the_registered_ones(settings):
    settings.evaluation.task = "nope"
    with pytest.raises(ValueError, match=r"unknown evaluation task 'nope'; registered: ranking"):
        evaluation_task(settings)
