"""The monitor's history: each run appends its drift figures; the report draws the runs that share its reference."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np

from components.common.snapshots import SnapshotStore
from components.monitoring.history import (
    append_history,
    drift_figure,
    drift_history_html,
    history_entry,
    history_path,
    read_history,
)
from components.monitoring.run import run_monitor
from components.monitoring.settings import MonitoringSettings
from tests.support import serving_data as sample

EXTRA = {"features": sample.FEATURES, "text_columns": ["query_text", "title", "description"]}


def verdict(reference: str, current: str, share: float, psi: dict[str, float], breach: bool = False) -> dict:
    per_column = [{"column": c, "psi": v} for c, v in psi.items()] + [{"column": "title_len", "psi": None}]
    return {"reference": reference, "current": current, "rows": {"current": 10}, "breach": breach,
            "drift": {"share": share, "drifted": round(share * 4), "columns": 4, "per_column": per_column},
            "score_drift": {"psi": 0.05}, "performance": {"ndcg_current": 0.7}}


def test_entries_keep_the_drift_figures_and_reading_filters_by_reference(tmp_path):
    path = tmp_path / "history.jsonl"
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    first = history_entry(verdict("ref@1", "cur@1", 0.25, {"a": 0.1, "b": 0.3}), at)
    assert first == {"at": "2026-03-01T12:00:00+00:00", "reference": "ref@1", "current": "cur@1", "rows": 10,
                     "drift_share": 0.25, "drifted": 1, "columns": 4, "psi": {"a": 0.1, "b": 0.3},
                     "score_psi": 0.05, "ndcg": 0.7, "breach": False}
    append_history(path, first)
    append_history(path, history_entry(verdict("ref@2", "cur@2", 0.5, {"a": 0.9}), at))
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("{not json\n[1, 2]\n")
    runs, damaged = append_history(path, history_entry(verdict("ref@1", "cur@3", 0.75, {"a": 0.4}, True), at))
    assert [r["current"] for r in runs] == ["cur@1", "cur@3"] and damaged == [3, 4]
    assert len(path.read_text().splitlines()) == 5  # nothing rewritten, the damaged lines are kept
    assert read_history(path, "ref@2")[0][0]["psi"] == {"a": 0.9}

    page = drift_history_html(runs, MonitoringSettings(), damaged)
    assert "damaged lines skipped: 3, 4" in page and page.count("<svg") == 1
    assert "<td>2026-03-01T12:00:00+00:00</td><td>cur@3</td><td>10</td><td>3 / 4</td><td>0.7500</td>" in page


def test_drift_figure_draws_shares_thresholds_and_the_columns_closest_to_drifting():
    runs = [history_entry(verdict("r", f"c{i}", share, psi, share >= 0.5))
            for i, (share, psi) in enumerate([(0.0, {"a": 0.01, "b": 0.02}), (0.5, {"a": 0.3, "b": 0.05})])]
    top, bottom = drift_figure(runs, MonitoringSettings(psi_threshold=0.2, drift_share_threshold=0.3)).axes
    assert list(top.lines[0].get_ydata()) == [0.0, 0.5]
    assert list(top.lines[1].get_ydata()) == [0.3, 0.3]  # the breach threshold
    assert [list(line.get_ydata()) for line in bottom.lines[:3]] == [[0.01, 0.3], [0.02, 0.05], [0.05, 0.05]]
    assert [t.get_text() for t in bottom.get_legend().get_texts()] == ["a", "b", "score", "psi_threshold 0.2"]
    assert list(top.collections[0].get_offsets()[0]) == [2.0, 0.5]  # the run with a breach is circled


def test_each_monitor_run_adds_one_point_to_the_report(settings, tmp_path):
    ref = sample.make_tables(n_queries=60, n_videos=120, seed=1)["training_set"]
    ref["score"] = ref["label"] + np.random.default_rng(1).normal(0, 0.3, len(ref))
    lake = SnapshotStore(settings.lakehouse)
    reference = lake.write("inference/scored", ref, extra=EXTRA).ref
    currents = []
    for shift in (0.0, 0.5):
        cur = ref.copy()
        cur["video_ctr"] = cur["video_ctr"] + shift
        currents.append(lake.write("inference/scored", cur, extra=EXTRA).ref)
        result = run_monitor(settings, reference=reference, current=currents[-1], report_dir=str(tmp_path / "r"),
                             gold_quality=False)
    lines = [json.loads(x) for x in history_path(settings).read_text().splitlines()]
    assert [x["current"] for x in lines] == currents
    psi_now = next(c["psi"] for c in result["drift"]["per_column"] if c["column"] == "video_ctr")
    assert lines[-1]["psi"]["video_ctr"] == psi_now > 0.2 and lines[0]["psi"]["video_ctr"] == 0.0  # same rows: 0
    page = (tmp_path / "r" / "report.html").read_text()
    assert "Drift over the last 2 run(s) against this reference" in page
    assert page.index(currents[1]) < page.index(f"<td>{currents[0]}</td>")  # newest first in the table
    assert f"<title>rankops monitoring: {'BREACH' if result['breach'] else 'OK'}</title>" in page
