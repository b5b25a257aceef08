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
