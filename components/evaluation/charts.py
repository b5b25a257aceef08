"""Figures of the evaluation and decision reports, and the interval the decision chart draws.

Each function takes the numbers the reports already hold (metrics.json, per-query values)
and returns a matplotlib Figure; `components.common.charts` turns it into SVG or PNG.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from components.common.charts import BAD_COLOR, BASELINE_COLOR, GOOD_COLOR, MODEL_COLOR, chart, new_figure


@chart
def ndcg_curve_figure(curve: dict[str, Any], queries: int | None = None):
    """NDCG@k for every k of the curve, the model against BM25 on the same candidates."""
    fig = new_figure()
    ax = fig.add_subplot()
    ax.plot(curve["k"], curve["model"], marker="o", color=MODEL_COLOR, label="model")
    ax.plot(curve["k"], curve["bm25"], marker="s", linestyle="--", color=BASELINE_COLOR, label="BM25")
    ax.set_xlabel("k (cut-off)")
    ax.set_ylabel("mean NDCG@k")
    ax.set_xticks(list(curve["k"]))
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(f"NDCG@k, model vs BM25{f' ({queries} test queries)' if queries else ''}")
    return fig


@chart
def slice_bars_figure(slices: dict[str, dict[str, Any]], metric: str):
    """`metric` per slice, model and BM25 side by side; the query count under each slice name."""
    names = list(slices)
    model = [_number(slices[n]["model"].get(metric)) for n in names]
    bm25 = [_number(slices[n].get("bm25", {}).get(metric)) for n in names]
    x = np.arange(len(names))
    fig = new_figure(max(6.0, 1.1 * len(names) + 2), 3.8)
    ax = fig.add_subplot()
    ax.bar(x - 0.2, model, width=0.4, color=MODEL_COLOR, label="model")
    ax.bar(x + 0.2, bm25, width=0.4, color=BASELINE_COLOR, label="BM25")
    ax.set_xticks(x, [f"{n}\n({slices[n]['model'].get('queries', 0)} q)" for n in names], fontsize=8)
    ax.set_ylabel(metric)
    ax.set_ylim(0, 1.02)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(f"{metric} per slice")
    return fig


def per_query_deltas(reference: dict[str, dict[str, float]], challenger: dict[str, dict[str, float]],
                     metric: str) -> dict[str, float]:
    """Challenger minus reference of `metric` for every query both were judged on."""
    ref, ch = reference[metric], challenger[metric]
    return {q: ch[q] - ref[q] for q in sorted(ref) if q in ch}


def delta_interval(deltas, *, stat_test: str, alpha: float, n_resamples: int = 1000,
                   seed: int = 42) -> dict[str, Any]:
    """Confidence interval at level 1 - alpha of the mean per-query delta, matching the test.

    "student": the paired t interval (the t-test's own); "fisher": a seeded bootstrap
    percentile interval of the mean. Fewer than two queries give no interval (NaN bounds).
    """
    from scipy.stats import bootstrap, ttest_1samp

    d = np.asarray(list(deltas), dtype=float)
    level = 1.0 - alpha
    mean = float(d.mean()) if len(d) else math.nan
    if len(d) < 2:
        return {"mean": mean, "low": math.nan, "high": math.nan, "level": level, "method": "none (fewer than 2 queries)"}
    if np.all(d == d[0]):
        return {"mean": mean, "low": mean, "high": mean, "level": level, "method": "all deltas equal"}
    if stat_test == "fisher":
        ci = bootstrap((d,), np.mean, confidence_level=level, n_resamples=n_resamples, method="percentile",
                       rng=np.random.default_rng(seed)).confidence_interval
        method = f"bootstrap percentile, {n_resamples} resamples, seed {seed}"
    else:
        ci = ttest_1samp(d, 0.0).confidence_interval(level)
        method = "paired t"
    return {"mean": mean, "low": float(ci.low), "high": float(ci.high), "level": level, "method": method}


@chart
def delta_figure(deltas: dict[str, float], interval: dict[str, Any], metric: str, reference: str, challenger: str):
    """Per-query deltas sorted, wins green and losses red, with the mean and its interval."""
    values = np.sort(np.asarray(list(deltas.values()), dtype=float))
    x = np.arange(1, len(values) + 1)
    fig = new_figure()
    ax = fig.add_subplot()
    if math.isfinite(interval["low"]):  # behind the deltas, which stay opaque
        ax.axhspan(interval["low"], interval["high"], color=MODEL_COLOR, alpha=0.18, zorder=0,
                   label=f"{interval['level']:.0%} CI [{interval['low']:+.4f}, {interval['high']:+.4f}]")
    ax.fill_between(x, 0, values, where=values >= 0, step="mid", color=GOOD_COLOR, label=f"{challenger} better")
    ax.fill_between(x, 0, values, where=values < 0, step="mid", color=BAD_COLOR, label=f"{reference} better")
    ax.axhline(0, color="#333", linewidth=0.8)
    if math.isfinite(interval["mean"]):
        ax.axhline(interval["mean"], color=MODEL_COLOR, linewidth=1.5, label=f"mean {interval['mean']:+.4f}")
    ax.set_xlabel(f"queries, sorted by delta ({len(values)})")
    ax.set_ylabel(f"delta {metric}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"Per-query {metric}: {challenger} minus {reference}")
    return fig


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan
