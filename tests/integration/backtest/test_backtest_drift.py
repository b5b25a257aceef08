"""Backtest through the CLI on drifting data: generate --drift -> ETL -> Feast point-in-time training set -> K windows,
each a real trained model against BM25 and the first-cutoff model; the report shows every window and the ageing.

Not asserted: that later windows score lower. At this size (and at 12000 impressions, 6 days, 60 steps, measured
once) the windows' NDCG@10 did not fall with time, retrained or not (0.79, 0.84, 0.81)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from components.common.config import load_settings
from components.common.snapshots import SnapshotStore

pytestmark = pytest.mark.slow


def test_backtest_cli_on_drifting_data(spark, tmp_path, monkeypatch):
    from components.datagen.generate import generate_dataset
    from components.etl.run import run_etl
    from components.features.apply import run_apply
    from components.features.training_set import build_training_set
    from pipelines.cli import build_app

    monkeypatch.setenv("RANKOPS_HOME", str(tmp_path / "home"))
    settings = load_settings("local")
    generate_dataset(tmp_path / "raw", impressions=6000, days=4, seed=5, dirty_share=0.0, drift=1.0)
    run_etl(settings, tmp_path / "raw", spark)
    run_apply(settings)
    snap = build_training_set(settings)

    out, report = tmp_path / "backtest.json", tmp_path / "report"
    run = CliRunner().invoke(build_app(), ["backtest", "--windows", "2", "--horizon-days", "1",
                                           "--params", json.dumps({"max_steps": 20, "eval_every": 20}),
                                           "--report", str(report), "--summary", str(out)])
    assert run.exit_code == 0, run.output
    result = json.loads(out.read_text())
    assert result["training_set"] == snap.ref
    windows = result["windows"]
    assert [w["window"]["index"] for w in windows] == [0, 1]
    newest = SnapshotStore.read_pandas(snap)["event_timestamp"].max()
    assert [w["window"]["end"] for w in windows] == [(newest - pd.Timedelta(days=d)).isoformat() for d in (1, 0)]
    assert windows[0]["model"] == windows[0]["origin"]  # window 0's model is the first-cutoff model
    assert windows[1]["run_id"] is not None and windows[1]["train_rows"] > windows[0]["train_rows"]
    s = result["stability"]
    assert (s["origin_first"], s["origin_last"]) == (windows[0]["origin"]["ndcg@10"], windows[1]["origin"]["ndcg@10"])
    md = (report / "backtest.md").read_text()
    assert f"| first-cutoff model, last window | {s['origin_last']:.4f} |" in md
    assert all(f"| {w['window']['index']} | {w['window']['cutoff']} |" in md for w in windows)
