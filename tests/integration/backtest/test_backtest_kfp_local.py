"""The `backtest` pipeline on the real KFP local runner: plan, first-cutoff model, ParallelFor over windows, summary."""

from __future__ import annotations

import json

import pytest

from pipelines.local import run_local
from tests.support.evaluation_data import write_training_set

pytestmark = pytest.mark.slow


def test_backtest_pipeline_runs_every_window_and_summarizes(settings, monkeypatch):
    monkeypatch.setenv("RANKOPS_HOME", str(settings.home))  # the steps are subprocesses: settings via env
    snap = write_training_set(settings)  # 24 queries over 23 minutes
    out = run_local("backtest", settings, {"windows": 2, "params_json": json.dumps({"max_steps": 4, "eval_every": 4})})
    tasks = out["tasks"]
    assert sorted(tasks) == ["backtest-origin-op", "backtest-plan-op", "backtest-summary-op",
                             "for-loop-1-iteration-0/backtest-window-op", "for-loop-1-iteration-1/backtest-window-op"]
    stability = tasks["backtest-summary-op"]["parameters"]["Output"]
    assert stability["windows"] == 2 and stability["metric"] == "ndcg@10"
    origin_uri = {w["origin_uri"] for w in tasks["backtest-origin-op"]["parameters"]["Output"]}.pop()
    assert origin_uri.startswith("models:/")
    report = tasks["backtest-summary-op"]["artifacts"]["report"]["uri"]
    text = open(report).read()
    assert text.startswith(f"# Backtest of {snap.ref}: 2 windows\n")
    rows = json.loads(open(report.rsplit("/", 1)[0] + "/backtest/backtest.json").read())["windows"]
    assert [r["window"]["index"] for r in rows] == [0, 1] and {r["origin_uri"] for r in rows} == {origin_uri}
    assert rows[0]["model"] == rows[0]["origin"] and rows[1]["run_id"] is not None
    # each loop iteration's own output (the summary lists it under its folder) is its window's row
    for i in (0, 1):
        row = json.loads(tasks[f"for-loop-1-iteration-{i}/backtest-window-op"]["parameters"]["Output"])
        assert (row["window"]["index"], row["run_id"]) == (i, rows[i]["run_id"])
    assert (stability["origin_first"], stability["origin_last"]) == (rows[0]["origin"]["ndcg@10"],
                                                                     rows[1]["origin"]["ndcg@10"])
