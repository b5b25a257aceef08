"""The HTML reports render in headless Chromium with the network cut off: no console error, no fetch,
a title, the tables, the charts, and a screenshot that is not blank."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.cards.card_io import fetch_card
from components.cards.data_sheet import write_data_sheet
from components.common.charts import BASELINE_COLOR, GOOD_COLOR, MODEL_COLOR
from components.common.snapshots import SnapshotStore
from components.evaluation.compare_run import run_compare
from components.evaluation.run import run_evaluation
from components.monitoring.run import run_monitor
from components.registry.register import register_model
from tests.support import serving_data as sample
from tests.support.browser import MISSING, Rendered, chromium_path, color_share, pixels_of, render
from tests.support.evaluation_data import log_scorer, write_training_set

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        pytest.fail(MISSING)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path)
        yield chromium
        chromium.close()


def assert_clean_and_drawn(page: Rendered, shot: Path, *colors: str) -> None:
    """No console error, no script error, nothing fetched; the page is not blank, and every chart has
    content and draws in the colours of its series."""
    shot.write_bytes(page.screenshot)
    assert page.console_errors == [] and page.page_errors == [], (page.console_errors, page.page_errors)
    assert page.blocked == [], f"the report fetched {page.blocked}"
    pixels = page.pixels()
    non_white = float(np.any(pixels < 240, axis=-1).mean())
    assert pixels.std() > 20 and 0.02 < non_white < 0.9, (pixels.std(), non_white, shot)
    assert page.figures, f"no chart in {shot}"
    for i, png in enumerate(page.figures):
        chart = pixels_of(png)
        assert chart.shape[0] > 200 and chart.shape[1] > 400, (i, chart.shape)
        assert 0.03 < float(np.any(chart < 240, axis=-1).mean()) < 0.9, f"chart {i} of {shot} is blank"
    first = pixels_of(page.figures[0])
    for color in colors:
        assert color_share(first, color) > 0.001, f"{color} is not in the first chart of {shot}"


def test_evaluation_and_decision_reports_render_offline(settings, browser, tmp_path):
    settings.registry.write_back = False
    snap = write_training_set(settings)
    uri = log_scorer(settings, {"signal": 1.0}, snapshot=snap)
    evaluation = run_evaluation(settings, uri, report_dir=tmp_path / "eval")

    page = render(browser, Path(evaluation["html_path"]))
    assert page.title == f"rankops evaluation: {uri}"
    assert (page.tables, page.svgs) == (3, 2)  # ranking, pointwise, slices; the NDCG@k curve and the slice bars
    assert "NDCG@k, model vs BM25 (10 test queries)" in page.text and "ndcg@10 per slice" in page.text
    assert_clean_and_drawn(page, tmp_path / "evaluation.png", MODEL_COLOR, BASELINE_COLOR)

    registered = register_model(settings, uri)
    version = registered["version"]
    page = render(browser, Path(registered["model_card"]["html"]))
    assert page.title == "Model card: rankops-ranker v1"
    assert (page.tables, page.svgs) == (7, 2)  # identity, size, data, params, metrics, slices, importance; 2 bar charts
    assert "Permutation importance (3 validation queries)" in page.text and "No comparison recorded yet" in page.text
    assert_clean_and_drawn(page, tmp_path / "card.png", MODEL_COLOR, BASELINE_COLOR)
    decision = run_compare(settings, version, report_dir=tmp_path / "compare")
    page = render(browser, tmp_path / "compare" / "decision.html")
    assert page.title == "rankops decision: v1 vs bm25"
    assert decision["win_tie_loss"]["L"] == 0  # the signal scorer never loses a query to BM25 here
    assert "none: the challenger loses no query" in page.text
    assert (page.tables, page.svgs) == (4, 1)  # interval, test figures, metrics, slices; the delta chart
    assert "Per-query ndcg@10: v1 minus bm25" in page.text
    assert_clean_and_drawn(page, tmp_path / "decision.png", GOOD_COLOR, MODEL_COLOR)

    card = fetch_card(settings, version, tmp_path / "card")  # as `rankops card` gets it, now against BM25
    page = render(browser, Path(card["html"]))
    assert page.tables == 8 and "Compared with bm25" in page.text  # the comparison table joins
    assert_clean_and_drawn(page, tmp_path / "card-compared.png", MODEL_COLOR, BASELINE_COLOR)


def test_data_sheet_renders_offline(settings, browser, tmp_path):
    lake = SnapshotStore(settings.lakehouse)
    bronze = lake.write("bronze/search_log", pd.DataFrame({"raw": ["a", "b", "c"]}),
                        extra={"files": [{"source_file": "day1/search_log/a.jsonl", "batch_id": "day1", "sha256": "ab" * 32,
                                          "ingested_at": "2026-01-02T00:00:00+00:00"}]})
    silver = lake.write("silver/search_log", pd.DataFrame({"q": ["a", "b"]}), parents={"bronze/search_log": bronze.ref})
    quarantine = lake.write("silver/quarantine", pd.DataFrame({"reason": ["bad_url"]}),
                            extra={"reasons": {"search_log": {"bad_url": 1}},
                                   "outcomes": {"search_log": {"silver": 2, "quarantine": 1, "duplicate": 0}}})
    gold = lake.write("gold/labels", pd.DataFrame({"query_id": ["q1", "q2"], "label": [1.0, None]}),
                      parents={"silver/search_log": silver.ref})
    paths = write_data_sheet(lake, gold, quarantine)
    page = render(browser, Path(paths["html"]))
    assert page.title == f"Data sheet: {gold.ref}"
    assert page.tables == 5 and page.svgs == 0  # snapshot, schema, quarantine, outcomes, raw batches
    assert "day1/search_log/a.jsonl" in page.text and "bad_url" in page.text
    shot = tmp_path / "datasheet.png"
    shot.write_bytes(page.screenshot)
    assert page.console_errors == [] and page.page_errors == [] and page.blocked == []
    assert page.pixels().std() > 20


def test_monitoring_report_with_drift_over_time_renders_offline(settings, browser, tmp_path):
    extra = {"features": sample.FEATURES, "text_columns": ["query_text", "title", "description"]}
    ref = sample.make_tables(n_queries=60, n_videos=120, seed=1)["training_set"]
    ref["score"] = ref["label"] + np.random.default_rng(1).normal(0, 0.3, len(ref))
    lake = SnapshotStore(settings.lakehouse)
    reference = lake.write("inference/scored", ref, extra=extra).ref
    for shift in (0.0, 0.4):
        cur = ref.copy()
        cur["video_ctr"] = cur["video_ctr"] + shift
        current = lake.write("inference/scored", pd.DataFrame(cur), extra=extra).ref
        result = run_monitor(settings, reference=reference, current=current, report_dir=str(tmp_path / "m"),
                             gold_quality=False)

    page = render(browser, Path(result["report"]["html"]))
    assert page.title == f"rankops monitoring: {'BREACH' if result['breach'] else 'OK'}"
    assert page.svgs == 1 and "Drift over the last 2 run(s) against this reference" in page.text
    assert page.tables >= 1 and current in page.text  # the history table names the windows
    assert "Dataset Drift" in page.text  # Evidently's dashboard rendered below, from its inline script
    assert_clean_and_drawn(page, tmp_path / "monitoring.png", MODEL_COLOR)


def test_backtest_report_renders_offline(settings, browser, tmp_path):
    from components.backtest.run import summarize

    rows = [{"window": {"index": i, "cutoff": f"2026-10-0{i + 2}", "end": f"2026-10-0{i + 3}"}, "train_rows": 100 * (i + 1),
             "test_rows": 40, "model": {"ndcg@10": m, "queries": 12}, "bm25": {"ndcg@10": 0.55}, "delta": m - 0.55,
             "p_value": 0.04, "stat_test": "student", "effect_size": 0.3} for i, m in enumerate((0.8, 0.7, 0.6))]
    result = summarize(settings, "features/training_set_ranker_v1@x", rows, tmp_path / "bt")
    page = render(browser, Path(result["report_dir"]) / "backtest.html")
    assert page.title == "Backtest of features/training_set_ranker_v1@x: 3 windows"
    assert (page.tables, page.svgs) == (2, 1) and "ndcg@10 per backtest window" in page.text
    assert_clean_and_drawn(page, tmp_path / "backtest.png", MODEL_COLOR, BASELINE_COLOR)
