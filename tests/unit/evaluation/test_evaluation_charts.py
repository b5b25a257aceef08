"""The report charts plot the numbers they are given; the interval, the NDCG@k curve and the
rendered tables are checked against hand computation."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pandas as pd
import pytest

from components.evaluation.charts import (
    delta_figure,
    delta_interval,
    ndcg_curve_figure,
    per_query_deltas,
    slice_bars_figure,
)
from components.evaluation.evaluate import ndcg_curve
from components.evaluation.report import render_decision_html, render_evaluation, render_evaluation_html
from components.evaluation.settings import EvaluationSettings

T_975_DF2 = 4.302652729749464  # Student t quantile 0.975 with 2 degrees of freedom (printed tables: 4.303)


def test_student_interval_is_the_paired_t_interval():
    got = delta_interval([0.1, 0.2, 0.3], stat_test="student", alpha=0.05)
    half = T_975_DF2 * 0.1 / math.sqrt(3)  # sd of (0.1, 0.2, 0.3) is 0.1
    assert got["mean"] == pytest.approx(0.2)
    assert (got["low"], got["high"]) == (pytest.approx(0.2 - half), pytest.approx(0.2 + half))
    assert (got["level"], got["method"]) == (0.95, "paired t")


def test_fisher_interval_is_the_bootstrap_percentile_interval():
    deltas = [0.0, 0.1, 0.2, 0.7]
    # the exact bootstrap distribution of the mean: all 4**4 resamples, equally likely
    means = np.sort([np.mean(s) for s in itertools.product(deltas, repeat=4)])
    got = delta_interval(deltas, stat_test="fisher", alpha=0.1, n_resamples=20000, seed=3)
    assert got["low"] == pytest.approx(np.quantile(means, 0.05), abs=0.02)
    assert got["high"] == pytest.approx(np.quantile(means, 0.95), abs=0.02)
    assert got["method"] == "bootstrap percentile, 20000 resamples, seed 3"
    assert delta_interval(deltas, stat_test="fisher", alpha=0.1, n_resamples=500, seed=3) == \
        delta_interval(deltas, stat_test="fisher", alpha=0.1, n_resamples=500, seed=3)


def test_interval_edge_cases_say_what_they_are():
    one = delta_interval([0.3], stat_test="student", alpha=0.05)
    assert one["mean"] == 0.3 and math.isnan(one["low"]) and one["method"] == "none (fewer than 2 queries)"
    same = delta_interval([0.1, 0.1, 0.1], stat_test="student", alpha=0.05)
    assert (same["low"], same["high"], same["method"]) == (pytest.approx(0.1), pytest.approx(0.1), "all deltas equal")


def test_per_query_deltas_pair_the_same_queries():
    ref = {"ndcg@10": {"a": 0.5, "b": 0.9, "c": 0.2}}
    ch = {"ndcg@10": {"a": 0.7, "b": 0.6, "c": 0.2}}
    assert per_query_deltas(ref, ch, "ndcg@10") == pytest.approx({"a": 0.2, "b": -0.3, "c": 0.0})


def test_ndcg_curve_by_hand():
    # one judged test query: labels 2, 0, 1 ranked in that order by the scores
    full = pd.DataFrame({"query_id": ["q", "q", "q", "r"], "video_id": ["a", "b", "c", "d"],
                         "label": [2, 0, 1, 3], "split": ["test", "test", "test", "train"]})
    curve = ndcg_curve(full, np.array([0.9, 0.8, 0.1, 5.0]), EvaluationSettings(), ks=(1, 2, 3, 4))
    ideal2 = 2 + 1 / math.log2(3)
    assert curve == pytest.approx([1.0, 2 / ideal2, (2 + 1 / math.log2(4)) / ideal2, (2 + 0.5) / ideal2])


def test_charts_plot_the_given_values():
    curve = {"k": [1, 2, 3], "model": [0.9, 0.8, 0.85], "bm25": [0.5, 0.6, 0.65]}
    ax = ndcg_curve_figure(curve, 7).axes[0]
    assert [list(line.get_ydata()) for line in ax.lines] == [curve["model"], curve["bm25"]]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["model", "BM25"]
    assert ax.get_title() == "NDCG@k, model vs BM25 (7 test queries)"

    slices = {"queries:head": {"model": {"ndcg@10": 0.9, "queries": 2}, "bm25": {"ndcg@10": 0.7}},
              "queries:tail": {"model": {"ndcg@10": 0.6, "queries": 5}, "bm25": {"ndcg@10": 0.65}}}
    bars = slice_bars_figure(slices, "ndcg@10").axes[0].patches
    assert [b.get_height() for b in bars] == [0.9, 0.6, 0.7, 0.65]  # model bars, then BM25 bars

    ax = delta_figure({"a": 0.2, "b": -0.1, "c": 0.05}, {"mean": 0.05, "low": -0.1, "high": 0.2, "level": 0.9,
                                                          "method": "paired t"}, "ndcg@10", "bm25", "v2").axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "90% CI [-0.1000, +0.2000]", "v2 better", "bm25 better", "mean +0.0500"]


METRICS = {
    "model_uri": "models:/m/1", "training_set": "features/training_set_ranker_v1@abc", "primary_metric": "ndcg@10",
    "model": {"ndcg@10": 0.8, "mrr@10": 0.9, "queries": 4, "candidates": 20, "precision": 0.5, "recall": 0.25,
              "f1": 1 / 3, "threshold": 0.1, "threshold_from": "validation"},
    "bm25": {"ndcg@10": 0.6, "mrr@10": 0.95, "precision": 0.4, "recall": 0.5, "f1": 0.4, "threshold": 1.5},
    "slices": {"queries:head": {"model": {"ndcg@10": 1.0, "queries": 1}, "bm25": {"ndcg@10": 0.5}}},
    "ndcg_curve": {"k": list(range(1, 21)), "model": [0.8] * 20, "bm25": [0.6] * 20},
}


def test_markdown_report_is_unchanged_by_the_html_one():
    assert render_evaluation(METRICS) == """# Evaluation of `models:/m/1`

Training set `features/training_set_ranker_v1@abc`, test split: 4 judged queries, 20 candidates. BM25 scores the same candidates.

## Ranking

| metric | model | bm25 | delta |
|---|---|---|---|
| ndcg@10 | 0.8000 | 0.6000 | 0.2000 |
| mrr@10 | 0.9000 | 0.9500 | -0.0500 |

## Pointwise (threshold chosen on validation)

| metric | model | bm25 |
|---|---|---|
| precision | 0.5000 | 0.4000 |
| recall | 0.2500 | 0.5000 |
| f1 | 0.3333 | 0.4000 |
| threshold | 0.1000 | 1.5000 |

## Slices

| slice | queries | model ndcg@10 | bm25 ndcg@10 |
|---|---|---|---|
| queries:head | 1 | 1.0000 | 0.5000 |
"""


def test_html_report_holds_the_tables_and_two_inline_charts():
    page = render_evaluation_html(METRICS)
    assert "<title>rankops evaluation: models:/m/1</title>" in page
    assert "<tr><td>ndcg@10</td><td>0.8000</td><td>0.6000</td><td>0.2000</td></tr>" in page
    assert "<tr><td>queries:head</td><td>1</td><td>1.0000</td><td>0.5000</td></tr>" in page
    assert page.count("<table>") == 3 and page.count("<svg") == 2
    assert "k = 1..20" in page and ">BM25</text>" in page  # the SVG keeps its text as text
    assert not re.search(r"""(src|href)=["']https?:""", page)


def test_decision_html_shows_the_interval_of_the_mean_delta():
    reference = {"ndcg@10": {"q1": 0.5, "q2": 0.5, "q3": 0.5}}
    challenger = {"ndcg@10": {"q1": 0.6, "q2": 0.7, "q3": 0.8}}
    decision = {"promote": False, "verdict": "keep", "metric": "ndcg@10", "reference": "bm25", "challenger": "v3",
                "delta": 0.2, "p_value": 0.09, "effect_size": 2.0, "queries": 3, "alpha": 0.05, "min_delta": 0.0,
                "stat_test": "student", "win_tie_loss": {"W": 3, "T": 0, "L": 0},
                "metrics": {"ndcg@10": {"reference": 0.5, "challenger": 0.7, "delta": 0.2}},
                "slices": [], "reasons": ["paired student test p=0.09 is not below alpha 0.05"]}
    page = render_decision_html(decision, reference, challenger, EvaluationSettings())
    half = T_975_DF2 * 0.1 / math.sqrt(3)
    assert (f"<tr><td>0.2000</td><td>{0.2 - half:.4f}</td><td>{0.2 + half:.4f}</td><td>paired t</td><td>3</td></tr>"
            in page)
    assert "<h1 class='keep'>Decision: KEEP challenger <code>v3</code> vs bm25</h1>" in page
    assert "none: the challenger loses no query" in page and page.count("<svg") == 1
