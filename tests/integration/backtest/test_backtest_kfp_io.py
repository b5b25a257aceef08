"""The backtest pipeline's steps call the CLI's functions: plan over a real training-set snapshot, summary artifacts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from kfp import dsl

from components.backtest.kfp_io import run_plan_op, run_summary_op
from tests.support.evaluation_data import write_training_set

T = pd.Timestamp("2026-01-01", tz="UTC")


def test_plan_op_splits_the_training_sets_time_range(settings):
    snap = write_training_set(settings)  # labels at 2026-01-01 00:00 + q minutes, q = 0..23
    plan = run_plan_op(2, 0.0, "", "local")
    third = pd.Timedelta(minutes=23) / 3  # default horizon: the 23-minute span over windows + 1 parts
    assert plan == [
        {"index": 0, "cutoff": (T + third).isoformat(), "end": (T + 2 * third).isoformat(), "training_set": snap.ref},
        {"index": 1, "cutoff": (T + 2 * third).isoformat(), "end": (T + 3 * third).isoformat(), "training_set": snap.ref}]


def test_summary_op_writes_the_stability_report(settings, tmp_path: Path):
    rows = [{"window": {"index": i, "cutoff": f"c{i}", "end": f"e{i}"}, "training_set": "features/training_set_ranker_v1@x",
             "train_rows": 10 * (i + 1), "test_rows": 5,
             "model": {"ndcg@10": m, "queries": 4}, "bm25": {"ndcg@10": 0.5}, "delta": m - 0.5, "p_value": 0.2,
             "stat_test": "student", "effect_size": 0.1} for i, m in ((1, 0.6), (0, 0.7))]
    report, html = dsl.Markdown(uri=str(tmp_path / "r.md")), dsl.HTML(uri=str(tmp_path / "r.html"))
    stability = run_summary_op(rows, report, html, "local")
    assert (stability["worst_window"], stability["windows_beating_bm25"]) == (1, 2)
    md = Path(report.path).read_text()
    assert md.startswith("# Backtest of features/training_set_ranker_v1@x: 2 windows\n")
    assert "| 0 | c0 | e0 | 10 | 4 | 0.7000 | - | 0.5000 | 0.2000 | 0.2000 |" in md  # in time order; no origin model
    assert "| worst window | 1 |" in md and "| windows beating BM25 | 2 / 2 |" in md
    assert "<title>Backtest of features/training_set_ranker_v1@x: 2 windows</title>" in Path(html.path).read_text()
