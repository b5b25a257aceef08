"""The experiment report renders in headless Chromium with the network cut off (like every HTML report)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from components.common.charts import BAD_COLOR, MODEL_COLOR
from components.experiments.report import run_report
from tests.support.browser import MISSING, chromium_path, color_share, pixels_of, render

pytestmark = pytest.mark.slow


def test_interleaving_report_renders_offline(tmp_path):
    from playwright.sync_api import sync_playwright

    logs = tmp_path / "logs"
    logs.mkdir()
    teams = ["champion", "challenger", "champion"]
    rows = [{"request_id": f"r{i}", "ts": f"2026-11-30T10:{i // 60:02d}:{i % 60:02d}Z", "session_id": f"s{i}",
             "query_id": None, "query": "q", "experiment": "exp-html", "mode": "interleave", "arm": None,
             "champion_version": "1", "challenger_version": "2", "video_ids": ["a", "b", "c"], "teams": teams,
             "latency_ms": 2.0, "fallback": False, "fallback_reason": None} for i in range(60)]
    clicks = [{"request_id": f"r{i}", "video_id": "b", "position": 2 if i % 3 else 1, "ts": "2026-11-30T11:00:00Z"}
              for i in range(60)]
    (logs / "impressions-2026-11-30.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (logs / "clicks-2026-11-30.jsonl").write_text("".join(json.dumps(c) + "\n" for c in clicks))
    report = run_report("exp-html", tmp_path / "report", logs)
    assert (report["detail"]["wins"], report["detail"]["losses"]) == (40, 20)
    path = chromium_path()
    if path is None:
        pytest.fail(MISSING)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path)
        page = render(browser, tmp_path / "report" / "report.html")
        browser.close()
    (tmp_path / "experiment.png").write_bytes(page.screenshot)
    assert page.title == "Experiment exp-html (interleave)"
    assert (page.tables, page.svgs) == (2, 1) and "Verdict: challenger_better" in page.text
    assert page.console_errors == [] and page.page_errors == [] and page.blocked == []
    assert page.pixels().std() > 20
    [figure] = page.figures
    chart = pixels_of(figure)
    assert chart.shape[0] > 200 and chart.shape[1] > 400
    assert 0.03 < float(np.any(chart < 240, axis=-1).mean()) < 0.9
    assert color_share(chart, MODEL_COLOR) > 0.001 and color_share(chart, BAD_COLOR) > 0.001
