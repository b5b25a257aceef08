"""The champion/challenger rule decides both ways on constructed per-query results."""

from __future__ import annotations

import numpy as np
import pytest

from components.evaluation.compare import decide, effect_size, paired_p_value
from components.evaluation.settings import EvaluationSettings

QUERIES = [f"q{i:02d}" for i in range(12)]
BASE = np.array([0.40, 0.55, 0.30, 0.70, 0.45, 0.60, 0.35, 0.50, 0.65, 0.42, 0.58, 0.48])


def result(values: np.ndarray, slices: dict[str, float] | None = None) -> dict:
    per_query = {"ndcg@10": dict(zip(QUERIES, map(float, values), strict=True))}
    slice_block = {name: {"ndcg@10": v, "queries": 5} for name, v in (slices or {}).items()}
    return {"overall": {"ndcg@10": float(np.mean(values))}, "per_query": per_query, "slices": slice_block}


def run(ref, ch, **cfg) -> dict:
    return decide(ref, ch, EvaluationSettings(**cfg), reference_name="champion v1", challenger_name="v2")


@pytest.mark.parametrize("stat_test", ["student", "fisher"])
def test_consistent_improvement_is_promoted(stat_test):
    shift = np.array([0.08, 0.12, 0.1, 0.09, 0.11, 0.1, 0.12, 0.08, 0.1, 0.11, 0.09, 0.1])
    d = run(result(BASE), result(BASE + shift), stat_test=stat_test, min_delta=0.05)
    assert d["promote"] is True and d["verdict"] == "promote"
    assert d["delta"] == pytest.approx(0.1)
    assert d["p_value"] < 0.01
    assert d["win_tie_loss"] == {"W": 12, "T": 0, "L": 0}
    assert d["effect_size"] == pytest.approx(shift.mean() / shift.std(ddof=1))


def test_noisy_gain_is_not_significant():
    noise = np.array([0.3, -0.3] * 6) + 0.01
    d = run(result(BASE), result(BASE + noise))
    assert d["delta"] == pytest.approx(0.01)
    assert d["p_value"] > 0.9 and d["promote"] is False
    assert any("not below alpha" in r for r in d["reasons"])


def test_min_delta_blocks_a_significant_but_tiny_gain():
    d = run(result(BASE), result(BASE + 0.004 + np.linspace(0, 0.001, 12)), min_delta=0.01)
    assert d["p_value"] < 0.05 and d["promote"] is False
    assert any("does not reach min_delta 0.01" in r for r in d["reasons"])


def test_guarded_slice_regression_blocks_promotion():
    ref = result(BASE, {"queries:tail": 0.60, "queries:head": 0.50})
    ch = result(BASE + 0.1 + np.linspace(0, 0.01, 12), {"queries:tail": 0.55, "queries:head": 0.70})
    d = run(ref, ch, guarded_slices={"queries:tail": 0.02})
    assert d["promote"] is False
    tail = next(s for s in d["slices"] if s["slice"] == "queries:tail")
    assert tail["ok"] is False and tail["delta"] == pytest.approx(-0.05)
    assert any("guarded slice queries:tail drops ndcg@10 by 0.0500 > tolerance 0.02" in r for r in d["reasons"])
    assert run(ref, ch, guarded_slices={"queries:tail": 0.1})["promote"] is True


def test_identical_runs_and_effect_size_edge_cases():
    assert paired_p_value(BASE, BASE) == 1.0
    assert effect_size(BASE, BASE) == 0.0
    with pytest.raises(ValueError, match="primary metric 'map'"):
        run(result(BASE), result(BASE), primary_metric="map")


def test_fisher_is_reproducible_for_a_seed_and_never_zero():
    """scipy's randomisation test on a seeded generator: same seed, same p; the +1 correction keeps p > 0."""
    noisy = BASE + np.array([0.05, -0.02, 0.04, 0.01, -0.03, 0.06, 0.02, -0.01, 0.03, 0.0, 0.04, -0.02])
    first = paired_p_value(BASE, noisy, "fisher", n_permutations=500, seed=7)
    assert paired_p_value(BASE, noisy, "fisher", n_permutations=500, seed=7) == first
    assert 0 < first < 1
    # 30 queries, every one improved: of the 2**30 sign flips only the identity reaches the observed
    # mean, so (by hand) p = 2 * (0 + 1) / (1000 + 1) whatever the seed; ranx's test returned 0 here
    ref = np.linspace(0.3, 0.6, 30)
    for seed in (1, 2):
        assert paired_p_value(ref, ref + 0.1, "fisher", n_permutations=1000, seed=seed) == pytest.approx(2 / 1001)


def test_fisher_is_exact_when_the_permutations_cover_every_sign_flip():
    """6 queries: 2**6 = 64 <= 1000 sign flips, so the test enumerates them all (checked by itertools)."""
    import itertools

    ref = np.array([0.50, 0.40, 0.60, 0.55, 0.45, 0.70])
    diff = np.array([0.10, 0.05, -0.02, 0.08, 0.03, 0.06])
    observed = diff.mean()
    means = [np.mean(diff * np.array(signs)) for signs in itertools.product([1, -1], repeat=6)]
    greater = sum(m >= observed - 1e-12 for m in means) / 64
    less = sum(m <= observed + 1e-12 for m in means) / 64
    expected = min(1.0, 2 * min(greater, less))
    assert expected == pytest.approx(2 * 2 / 64)  # only the identity and the flip of -0.02 reach the mean
    assert paired_p_value(ref, ref + diff, "fisher", n_permutations=1000, seed=3) == pytest.approx(expected)
    assert paired_p_value(ref, ref + diff, "fisher", n_permutations=1000, seed=4) == pytest.approx(expected)
