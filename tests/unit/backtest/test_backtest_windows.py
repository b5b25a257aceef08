"""Rolling-origin windows: hand-computed cutoffs, the split each row gets, the stability figures."""

from __future__ import annotations

import pandas as pd
import pytest

from components.backtest.windows import BacktestError, Window, plan_windows, stability, window_frame

T = pd.Timestamp("2026-01-01", tz="UTC")


def day(n: float) -> pd.Timestamp:
    return T + pd.Timedelta(days=n)


def test_default_horizon_splits_the_span_into_windows_plus_one_parts():
    assert plan_windows(day(0), day(8), 3) == [Window(0, day(2), day(4)), Window(1, day(4), day(6)),
                                               Window(2, day(6), day(8))]


def test_explicit_horizon_walks_back_from_the_newest_label():
    assert plan_windows(day(0), day(8), 2, horizon_days=1.5) == [Window(0, day(5), day(6.5)),
                                                                 Window(1, day(6.5), day(8))]


@pytest.mark.parametrize(("windows", "horizon", "message"), [
    (0, None, "--windows must be at least 1"),
    (4, 2.0, "4 windows of 2 days 00:00:00 leave no training data before the first cutoff"),
])
def test_impossible_plans_say_why(windows, horizon, message):
    with pytest.raises(BacktestError, match=message):
        plan_windows(day(0), day(8), windows, horizon)


def test_window_frame_trains_on_the_past_and_tests_on_its_range_only():
    full = pd.DataFrame({"query_id": list("abcdef"), "event_timestamp": [day(1), day(2), day(2.5), day(3), day(4), day(5)],
                         "split": ["train", "validation", "test", "train", "validation", "test"]})
    frame = window_frame(full, Window(0, day(2), day(4)))
    assert frame[["query_id", "split"]].values.tolist() == [["a", "train"], ["b", "validation"], ["c", "test"],
                                                            ["d", "test"], ["e", "test"]]
    with pytest.raises(BacktestError, match=r"window 1 \(.*\) has no test rows"):
        window_frame(full, Window(1, day(6), day(7)))


def test_stability_mean_spread_worst_and_trend():
    rows = [{"window": {"index": i}, "model": {"ndcg@10": m}, "bm25": {"ndcg@10": b}}
            for i, (m, b) in enumerate([(0.8, 0.5), (0.6, 0.5), (0.4, 0.5)])]
    s = stability(rows, "ndcg@10")
    assert s["mean"] == pytest.approx(0.6) and s["std"] == pytest.approx(0.2)  # sample std of .8, .6, .4
    assert (s["worst_window"], s["min"], s["max"], s["windows_beating_bm25"]) == (2, 0.4, 0.8, 2)
    assert s["mean_delta_vs_bm25"] == pytest.approx(0.1) and s["worst_delta_vs_bm25"] == pytest.approx(-0.1)
    assert s["trend_per_window"] == pytest.approx(-0.2)


def test_stability_reports_what_drift_cost_the_first_cutoff_model_and_what_retraining_won_back():
    figures = [(0.834, 0.834), (0.828, 0.810), (0.861, 0.789)]  # (retrained, first-cutoff) per window
    rows = [{"window": {"index": i}, "model": {"ndcg@10": m}, "bm25": {"ndcg@10": 0.7}, "origin": {"ndcg@10": o}}
            for i, (m, o) in enumerate(figures)]
    s = stability(rows, "ndcg@10")
    assert (s["origin_first"], s["origin_last"]) == (0.834, 0.789)
    assert s["origin_drop"] == pytest.approx(0.045)  # 0.834 - 0.789
    assert s["retrain_gain_last"] == pytest.approx(0.072)  # 0.861 - 0.789
    assert s["origin_trend_per_window"] == pytest.approx(-0.0225)  # least squares over (0, .834), (1, .810), (2, .789)
