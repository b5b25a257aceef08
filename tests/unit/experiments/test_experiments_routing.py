"""Team-draft interleaving, A/B assignment and click credit, against hand-worked cases."""

from __future__ import annotations

import random

import pytest

from components.inference.experiments import CHALLENGER as CH
from components.inference.experiments import CHAMPION as C
from components.inference.experiments import assign_arm, credit, team_draft


class Coins:
    """A stand-in RNG that returns the given coin values in order and fails when asked for more."""

    def __init__(self, *values: float):
        self.values = list(values)

    def random(self) -> float:
        assert self.values, "team_draft flipped more coins than the hand-worked case"
        return self.values.pop(0)


@pytest.mark.parametrize(("a", "b", "coins", "ids", "teams"), [
    # champion first (0.3), challenger B, tie -> coin 0.7 challenger D (A shown), champion C
    (list("ABCD"), list("BADC"), (0.3, 0.7), list("ABDC"), [C, CH, CH, C]),
    # challenger first (0.9) B, champion A, tie -> coin 0.1 champion C, challenger D
    (list("ABCD"), list("BADC"), (0.9, 0.1), list("BACD"), [CH, C, C, CH]),
    # identical lists: the coin alone decides who is credited with each item
    (list("XYZ"), list("XYZ"), (0.9, 0.2), list("XYZ"), [CH, C, C]),
    # champion runs out: the challenger fills the rest
    (list("A"), list("BC"), (0.2, 0.1), list("ABC"), [C, CH, CH]),
])
def test_team_draft_matches_hand_worked_cases(a, b, coins, ids, teams):
    rng = Coins(*coins)
    assert team_draft(a, b, rng) == (ids, teams)
    assert rng.values == []


def test_team_draft_is_reproducible_from_the_request_id():
    a, b = [f"v{i}" for i in range(10)], [f"v{i}" for i in reversed(range(10))]
    first = team_draft(a, b, random.Random("req-1"))
    assert team_draft(a, b, random.Random("req-1")) == first
    assert sorted(first[0]) == sorted(a)
    # picks stay balanced: after every even prefix the teams have equal counts
    for n in range(2, 11, 2):
        assert first[1][:n].count(C) == n // 2


@pytest.mark.parametrize(("clicks", "winner"), [([2, 3], CH), ([1, 2], "tie"), ([], "tie"), ([4], C),
                                                 ([1, 4, 2], C), ([9], "tie")])
def test_credit_counts_clicks_per_team(clicks, winner):
    assert credit([C, CH, CH, C], clicks) == winner


def test_ab_assignment_is_sticky_and_honours_the_share():
    arms = [assign_arm("exp1", f"s{i}", 0.2) for i in range(10_000)]
    assert arms == [assign_arm("exp1", f"s{i}", 0.2) for i in range(10_000)]
    # binomial(10000, 0.2): mean 2000, sd 40; +-4 sd
    assert 1840 <= arms.count(CH) <= 2160
    other = [assign_arm("exp2", f"s{i}", 0.2) for i in range(10_000)]
    # a new experiment reshuffles independently: P(arms differ) = 2 * 0.2 * 0.8 = 0.32, sd 47
    assert 3010 <= sum(x != y for x, y in zip(arms, other, strict=True)) <= 3390


def test_click_model_uses_the_generators_position_bias_and_attraction():
    from components.datagen.clicks import examination_at, simulate_clicks

    assert examination_at(1) == 1.0 and examination_at(4) == pytest.approx(4 ** -0.85)
    assert examination_at(12) == pytest.approx(12 ** -0.85)
    # every coin below its threshold clicks, every coin above does not
    assert simulate_clicks([3, 0, 2], Coins(0.71, 0.02, 0.14)) == [1, 2, 3]  # 0.72, 0.04*0.555=0.0222, 0.38*0.393=0.149
    assert simulate_clicks([3, 0, 2], Coins(0.73, 0.03, 0.16)) == []
    rng = random.Random(5)
    n = 20_000
    rate = sum(1 in simulate_clicks([3], rng) for _ in range(n)) / n
    assert abs(rate - 0.72) < 4 * (0.72 * 0.28 / n) ** 0.5
