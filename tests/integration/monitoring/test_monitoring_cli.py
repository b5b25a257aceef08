"""`rankops monitor` end to end: Evidently HTML + JSON, exit code 3 + event on a breach, `act` fires once."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from components.common.snapshots import SnapshotStore
from pipelines.cli import build_app
from tests.support import serving_data as sample

EXTRA = {"features": sample.FEATURES, "text_columns": ["query_text", "title", "description"]}


def window(settings, seed: int, shift: float = 0.0) -> str:
    df = sample.make_tables(n_queries=120, n_videos=300, seed=seed)["training_set"]
    df["score"] = df["label"] + np.random.default_rng(seed).normal(0, 0.3, len(df)) + shift
    df["video_ctr"] = (df["video_ctr"] + shift / 10).clip(0, 1)
    return SnapshotStore(settings.lakehouse).write("inference/scored", df, extra=EXTRA).ref


def test_monitor_cli_report_breach_event_and_act(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("RANKOPS_MONITORING__TRIGGER_MODE", "none")
    ref, same, shifted = window(settings, 1), window(settings, 2), window(settings, 3, shift=4.0)
    runner, app = CliRunner(), build_app()

    ok = runner.invoke(app, ["monitor", "--reference", ref, "--current", same, "--report", str(tmp_path / "ok"),
                             "--summary", str(tmp_path / "ok.json"), "--no-html"])
    assert ok.exit_code == 0, ok.output
    assert json.loads((tmp_path / "ok.json").read_text())["breach"] is False

    bad = runner.invoke(app, ["monitor", "--reference", ref, "--current", shifted, "--report", str(tmp_path / "bad"),
                              "--summary", str(tmp_path / "bad.json")])
    assert bad.exit_code == 3, bad.output
    summary = json.loads((tmp_path / "bad.json").read_text())
    assert [b["check"] for b in summary["breaches"]] == ["score_drift"]  # 1 of 11 columns: under the share
    assert [d["column"] for d in summary["drift"]["per_column"] if d["drifted"]] == ["video_ctr"]
    page = (tmp_path / "bad" / "report.html").read_text()
    assert "rankops monitoring: BREACH" in page and "Data Drift Summary" in page and "video_ctr" in page
    assert json.loads((tmp_path / "bad" / "monitoring.json").read_text())["breach"] is True
    event_path = summary["event"]["path"]
    assert event_path.startswith(str(settings.reports_dir)) and "/monitoring/events/" in event_path

    act = runner.invoke(app, ["monitor", "act", "--summary", str(tmp_path / "act.json")])
    assert act.exit_code == 0, act.output
    acted = json.loads((tmp_path / "act.json").read_text())["acted"]
    assert acted == [{"breach_id": summary["event"]["breach_id"], "fired": True, "mode": "none"}]
    again = runner.invoke(app, ["monitor", "act", "--summary", str(tmp_path / "act2.json")])
    assert json.loads((tmp_path / "act2.json").read_text())["acted"] == [] and "no pending" in again.output
    events = json.loads(open(event_path).read())
    assert events["status"] == "triggered"

    missing = runner.invoke(app, ["monitor", "--reference", ref, "--current", "inference/none"], env={"COLUMNS": "500"})
    assert missing.exit_code == 1
    assert missing.output.strip() == (f"error: inference/none: table 'inference/none' has no published snapshot under "
                                      f"{settings.lakehouse} (run `rankops score` first?)")
    assert runner.invoke(app, ["monitor"]).exit_code == 2
