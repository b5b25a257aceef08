"""The statistics of an experiment report: A/B CTR, interleaving credit, shadow agreement.

Pure functions over parsed impression rows and a {request_id: [clicked positions]} map (scipy only:
no statsmodels dependency for three tests scipy has); the tests
check them against hand-computed figures and scipy/statsmodels called directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.inference.experiments import CHALLENGER, CHAMPION, credit

VERDICTS = ("challenger_better", "no_difference", "champion_better")


def verdict_of(p_value: float | None, challenger_ahead: bool, alpha: float) -> str:
    if p_value is None or p_value >= alpha:
        return "no_difference"
    return "challenger_better" if challenger_ahead else "champion_better"


def queries_to_verdict(p_values: Sequence[float | None], alpha: float) -> int | None:
    """Smallest n after which every prefix's p-value stays below `alpha` (None if the last one does not)."""
    n = None
    for i in range(len(p_values), 0, -1):
        p = p_values[i - 1]
        if p is None or p >= alpha:
            break
        n = i
    return n


def thinned(points: Sequence[tuple[int, float | None]], most: int = 120) -> list[list[float]]:
    """At most `most` evenly spaced (queries, p-value) points for the report's chart (always the last one)."""
    step = max(1, len(points) // most)
    keep = [pt for i, pt in enumerate(points) if i % step == step - 1 or i == len(points) - 1]
    return [[n, p] for n, p in keep if p is not None]


def interleave_test(outcomes: Sequence[str]) -> float | None:
    """Two-sided binomial sign test of challenger wins among the non-tied impressions."""
    from scipy.stats import binomtest

    wins, losses = outcomes.count(CHALLENGER), outcomes.count(CHAMPION)
    return float(binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else None


def interleave_summary(rows: list[dict[str, Any]], clicks: dict[str, list[int]], alpha: float) -> dict[str, Any]:
    """Wins/ties/losses of the challenger (fallback impressions have no teams: counted, not credited)."""
    credited = [r for r in rows if r["teams"]]
    outcomes = [credit(r["teams"], clicks.get(r["request_id"], [])) for r in credited]
    wins, losses = outcomes.count(CHALLENGER), outcomes.count(CHAMPION)
    p = interleave_test(outcomes)
    prefix = [interleave_test(outcomes[:n]) for n in range(1, len(outcomes) + 1)]
    return {"wins": wins, "ties": outcomes.count("tie"), "losses": losses, "queries": len(credited),
            "fallbacks": len(rows) - len(credited), "test": "binomial sign test (scipy.stats.binomtest)",
            "p_value": p, "verdict": verdict_of(p, wins > losses, alpha),
            "queries_to_verdict": queries_to_verdict(prefix, alpha),
            "p_value_curve": thinned(list(enumerate(prefix, 1)))}


def _arm_stats(rows: list[dict[str, Any]], clicks: dict[str, list[int]], k: int, confidence: float) -> dict:
    import numpy as np
    from scipy.stats import binomtest, ttest_1samp

    n = len(rows)
    hit = sum(any(1 <= p <= k for p in clicks.get(r["request_id"], [])) for r in rows)
    per_query = np.array([len(clicks.get(r["request_id"], [])) for r in rows], dtype="float64")
    lo, hi = binomtest(hit, n).proportion_ci(confidence, method="wilson") if n else (None, None)
    cpq = ttest_1samp(per_query, 0.0).confidence_interval(confidence) if n > 1 and per_query.std() > 0 \
        else (float(per_query.mean()), float(per_query.mean())) if n > 1 else (None, None)
    return {"queries": n, "clicked_queries": hit, f"ctr@{k}": hit / n if n else None,
            f"ctr@{k}_ci": [float(lo), float(hi)] if n else None,
            "clicks_per_query": float(per_query.mean()) if n else None,
            "clicks_per_query_ci": [float(cpq[0]), float(cpq[1])] if n > 1 else None,
            "fallbacks": sum(bool(r["fallback"]) for r in rows)}


def ab_test(rows: list[dict[str, Any]], clicks: dict[str, list[int]], k: int) -> tuple[float | None, bool]:
    """(two-sided pooled two-proportion z-test p-value of CTR@k, challenger ahead?) over the rows' arms.

    The z-test is scipy's Pearson chi-square on the 2x2 table without continuity correction (z^2 = chi^2)."""
    from scipy.stats import chi2_contingency

    n = {CHAMPION: 0, CHALLENGER: 0}
    hit = {CHAMPION: 0, CHALLENGER: 0}
    for r in rows:
        n[r["arm"]] += 1
        hit[r["arm"]] += any(1 <= p <= k for p in clicks.get(r["request_id"], []))
    if not n[CHAMPION] or not n[CHALLENGER] or hit[CHAMPION] + hit[CHALLENGER] in (0, n[CHAMPION] + n[CHALLENGER]):
        return None, False
    table = [[hit[CHALLENGER], n[CHALLENGER] - hit[CHALLENGER]], [hit[CHAMPION], n[CHAMPION] - hit[CHAMPION]]]
    p = chi2_contingency(table, correction=False).pvalue
    return float(p), hit[CHALLENGER] / n[CHALLENGER] > hit[CHAMPION] / n[CHAMPION]


def ab_summary(rows: list[dict[str, Any]], clicks: dict[str, list[int]], alpha: float, k: int = 10,
               confidence: float = 0.95) -> dict[str, Any]:
    """Per-arm CTR@k (Wilson interval, scipy) and clicks per query (t interval); z-test of CTR@k between arms.

    Intention to treat: a challenger-arm impression that fell back stays in the challenger arm."""
    arms = {arm: _arm_stats([r for r in rows if r["arm"] == arm], clicks, k, confidence)
            for arm in (CHAMPION, CHALLENGER)}
    p, ahead = ab_test(rows, clicks, k)
    step = max(1, len(rows) // 400)  # prefix tests on at most ~400 points keep big logs cheap
    prefix = [(n, ab_test(rows[:n], clicks, k)[0]) for n in range(step, len(rows) + 1, step)]
    first = queries_to_verdict([q for _, q in prefix], alpha)
    return {"arms": arms, "k": k, "confidence": confidence, "queries": len(rows),
            "test": f"two-proportion z-test of CTR@{k} (scipy chi2_contingency, no correction)", "p_value": p,
            "verdict": verdict_of(p, ahead, alpha),
            "queries_to_verdict": prefix[first - 1][0] if first else None, "p_value_curve": thinned(prefix)}


def shadow_summary(rows: list[dict[str, Any]], k: int = 10) -> dict[str, Any]:
    """Per-request Spearman correlation of champion and challenger scores, and top-k overlap."""
    import numpy as np
    from scipy.stats import spearmanr

    corr, overlap = [], []
    for r in rows:
        a, b = np.asarray(r["champion_scores"]), np.asarray(r["challenger_scores"])
        if len(a) > 1 and np.ptp(a) > 0 and np.ptp(b) > 0:
            corr.append(float(spearmanr(a, b).statistic))
        kk = min(k, len(a))
        top_a = set(np.argsort(-a, kind="stable")[:kk].tolist())
        top_b = set(np.argsort(-b, kind="stable")[:kk].tolist())
        overlap.append(len(top_a & top_b) / kk if kk else 1.0)
    return {"queries": len(rows), "k": k, "spearman_mean": float(np.mean(corr)) if corr else None,
            "spearman_median": float(np.median(corr)) if corr else None, f"top{k}_overlap_mean":
            float(np.mean(overlap)) if overlap else None, "p_value": None, "verdict": "no_difference",
            "note": "shadow measures agreement, not quality: the users only saw the champion"}
