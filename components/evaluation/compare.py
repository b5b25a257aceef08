"""Champion/challenger decision (pure): effect size, paired significance test (scipy), guarded slices.

The rule comes from `settings.evaluation`: the primary metric must improve by at least
`min_delta`, the paired test over the same queries must give p < `alpha`, and no guarded
slice may drop by more than its tolerance. The reference is the champion, or BM25 when
there is no champion yet.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from components.evaluation.settings import EvaluationSettings


def paired_p_value(
    reference: np.ndarray, challenger: np.ndarray, stat_test: str = "student", n_permutations: int = 1000, seed: int = 42
) -> float:
    """Two-sided p-value of a paired test over queries; identical runs give 1.0 (no evidence of a difference).

    "fisher" is scipy's paired randomisation test (sign flips of the per-query differences) on a
    seeded generator: the same seed gives the same p, and randomised tests count the observed
    statistic among the permutations (+1 correction), so p is never 0. It is exact when
    2**n_queries <= n_permutations. "student" is the paired t-test.
    """
    from scipy.stats import permutation_test, ttest_rel

    reference, challenger = np.asarray(reference, float), np.asarray(challenger, float)
    if len(reference) < 2 or np.allclose(reference, challenger):
        return 1.0
    if stat_test == "fisher":
        def mean_difference(ch, ref, axis=-1):
            return np.mean(ch - ref, axis=axis)

        p = permutation_test((challenger, reference), mean_difference, permutation_type="samples",
                             vectorized=True, n_resamples=n_permutations, alternative="two-sided",
                             rng=np.random.default_rng(seed)).pvalue
    else:
        p = ttest_rel(reference, challenger, alternative="two-sided").pvalue
    p = float(p)
    return 1.0 if math.isnan(p) else p


def effect_size(reference: np.ndarray, challenger: np.ndarray) -> float:
    """Paired Cohen's d: mean per-query difference over its standard deviation."""
    diff = np.asarray(challenger, float) - np.asarray(reference, float)
    if len(diff) < 2:
        return 0.0
    sd = float(diff.std(ddof=1))
    if sd == 0.0:
        return 0.0 if float(diff.mean()) == 0.0 else math.copysign(math.inf, float(diff.mean()))
    return float(diff.mean()) / sd


def decide(
    reference: dict[str, Any],
    challenger: dict[str, Any],
    cfg: EvaluationSettings,
    *,
    reference_name: str,
    challenger_name: str,
) -> dict[str, Any]:
    """Decision of `challenger` against `reference`, both outputs of `evaluate_scores` on the same frame."""
    metric = cfg.primary_metric
    ref_q, ch_q = reference["per_query"].get(metric), challenger["per_query"].get(metric)
    if ref_q is None or ch_q is None:
        raise ValueError(f"primary metric {metric!r} is not among the evaluated metrics {cfg.metrics}")
    if set(ref_q) != set(ch_q):
        raise ValueError("reference and challenger were not evaluated on the same queries")
    queries = sorted(ref_q)
    ref = np.array([ref_q[q] for q in queries])
    ch = np.array([ch_q[q] for q in queries])
    delta = float(ch.mean() - ref.mean()) if queries else 0.0
    p_value = paired_p_value(ref, ch, cfg.stat_test, cfg.n_permutations, cfg.seed)
    reasons: list[str] = []
    promote = True
    if not queries:
        promote = False
        reasons.append("no judged test queries: nothing to decide on")
    if delta < cfg.min_delta or delta <= 0:
        promote = False
        reasons.append(f"{metric} delta {delta:+.4f} does not reach min_delta {cfg.min_delta} (must be > 0)")
    else:
        reasons.append(f"{metric} improves by {delta:+.4f} (min_delta {cfg.min_delta})")
    if p_value < cfg.alpha:
        reasons.append(f"paired {cfg.stat_test} test p={p_value:.4g} < alpha {cfg.alpha}")
    else:
        promote = False
        reasons.append(f"paired {cfg.stat_test} test p={p_value:.4g} is not below alpha {cfg.alpha}")

    slices = []
    for name in sorted(set(reference["slices"]) | set(challenger["slices"])):
        r, c = reference["slices"].get(name, {}), challenger["slices"].get(name, {})
        rv, cv = r.get(metric, math.nan), c.get(metric, math.nan)
        d = cv - rv
        tolerance = cfg.guarded_slices.get(name)
        ok = True
        if tolerance is not None and not math.isnan(d) and d < -tolerance:
            ok = False
            promote = False
            reasons.append(f"guarded slice {name} drops {metric} by {-d:.4f} > tolerance {tolerance}")
        slices.append({"slice": name, "queries": c.get("queries", 0), "reference": rv, "challenger": cv,
                       "delta": d, "tolerance": tolerance, "ok": ok})
    side_by_side = {
        k: {"reference": reference["overall"][k], "challenger": challenger["overall"][k],
            "delta": challenger["overall"][k] - reference["overall"][k]}
        for k in reference["overall"] if k in challenger["overall"] and isinstance(reference["overall"][k], float)
    }
    return {
        "promote": promote,
        "verdict": "promote" if promote else "keep",
        "metric": metric,
        "reference": reference_name,
        "challenger": challenger_name,
        "delta": delta,
        "p_value": p_value,
        "effect_size": effect_size(ref, ch),
        "queries": len(queries),
        "win_tie_loss": {"W": int((ch > ref).sum()), "T": int((ch == ref).sum()), "L": int((ch < ref).sum())},
        "alpha": cfg.alpha,
        "min_delta": cfg.min_delta,
        "stat_test": cfg.stat_test,
        "metrics": side_by_side,
        "slices": slices,
        "reasons": reasons,
    }
