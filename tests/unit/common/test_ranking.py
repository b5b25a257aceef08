"""The one ranking definition: a tie case by hand and against ranx; training, evaluation and monitoring agree."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from components.common.ranking import per_query, tie_free_scores
from components.evaluation.metrics import evaluate_ranking
from components.monitoring.performance import ndcg_at_k
from components.training.metrics import ranking_metrics

# q1: c and a tie at 0.5 with b; q2: all three tie (a constant scorer); q3: nothing relevant
ROWS = [  # query, video, label, score
    ("q1", "d", 3, 0.1), ("q1", "b", 0, 0.5), ("q1", "c", 1, 0.9), ("q1", "a", 2, 0.5),
    ("q2", "z", 2, 0.0), ("q2", "y", 0, 0.0), ("q2", "x", 1, 0.0),
    ("q3", "e", 0, 0.3), ("q3", "f", 0, 0.3),
]


def tie_case(shuffle_seed: int | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(ROWS, columns=["query_id", "video_id", "label", "score"])
    return frame if shuffle_seed is None else frame.sample(frac=1, random_state=shuffle_seed).reset_index(drop=True)


def log2(n: int) -> float:
    return math.log2(n)


# By hand. Ties go by video id: q1 ranks c(1) a(2) b(0) d(3); q2 ranks x(1) y(0) z(2).
NDCG_AT_10 = {
    "q1": (1 / log2(2) + 2 / log2(3) + 3 / log2(5)) / (3 / log2(2) + 2 / log2(3) + 1 / log2(4)),
    "q2": (1 / log2(2) + 2 / log2(4)) / (2 / log2(2) + 1 / log2(3)),
}
NDCG_AT_2 = {"q1": (1 + 2 / log2(3)) / (3 + 2 / log2(3)), "q2": 1 / (2 + 1 / log2(3))}
MRR_AT_10 = {"q1": 1.0, "q2": 1.0}


def test_ties_are_ordered_by_video_id_whatever_the_row_order():
    for seed in (None, 1, 2, 3):
        frame = tie_case(seed)
        args = (frame["query_id"], frame["video_id"], frame["label"], frame["score"])
        assert per_query(*args, "ndcg", 10).to_dict() == pytest.approx(NDCG_AT_10)
        assert per_query(*args, "ndcg", 2).to_dict() == pytest.approx(NDCG_AT_2)
        assert per_query(*args, "mrr", 10).to_dict() == pytest.approx(MRR_AT_10)
        ranks = dict(zip(frame["video_id"], tie_free_scores(frame["query_id"], frame["video_id"], frame["score"]),
                         strict=True))
        assert ranks == {"c": 4, "a": 3, "b": 2, "d": 1, "x": 3, "y": 2, "z": 1, "e": 2, "f": 1}


def test_a_label_below_the_relevance_level_gains_nothing():
    frame = tie_case()
    values = per_query(frame["query_id"], frame["video_id"], frame["label"], frame["score"], "ndcg", 10,
                       relevant_label=2)
    # q1 ranks c(1 -> 0) a(2) b(0) d(3): DCG 2/log2(3) + 3/log2(5), IDCG 3 + 2/log2(3); q2: z(2) at rank 3
    assert values.to_dict() == pytest.approx({"q1": (2 / log2(3) + 3 / log2(5)) / (3 + 2 / log2(3)),
                                              "q2": (2 / log2(4)) / 2})


@pytest.mark.slow  # ranx compiles its numba kernels once per process
def test_the_definition_equals_ranx_on_the_tie_case():
    """ranx itself, given the ranking the tie rule prescribes (ties spelled out as distinct scores by hand)."""
    from ranx import Qrels, Run, evaluate

    qrels = Qrels({"q1": {"d": 3, "c": 1, "a": 2}, "q2": {"z": 2, "x": 1}})
    run = Run({"q1": {"c": 0.9, "a": 0.5, "b": 0.4999, "d": 0.1}, "q2": {"x": 0.0, "y": -0.0001, "z": -0.0002}})
    ref = evaluate(qrels, run, ["ndcg@10", "ndcg@2", "mrr@10"], return_mean=False, threads=1)
    assert dict(zip(["q1", "q2"], ref["ndcg@10"], strict=True)) == pytest.approx(NDCG_AT_10)
    assert dict(zip(["q1", "q2"], ref["ndcg@2"], strict=True)) == pytest.approx(NDCG_AT_2)

    # evaluation (ranx on the raw tied scores, any row order), training and monitoring all agree
    for seed in (None, 5):
        frame = tie_case(seed)
        res = evaluate_ranking(frame, frame["score"].to_numpy(), ["ndcg@10", "ndcg@2", "mrr@10"])
        assert res.per_query["ndcg@10"] == pytest.approx(NDCG_AT_10)
        assert res.per_query["ndcg@2"] == pytest.approx(NDCG_AT_2)
        assert res.per_query["mrr@10"] == pytest.approx(MRR_AT_10)
        train = ranking_metrics(frame["query_id"], frame["video_id"], frame["label"], frame["score"],
                                ("ndcg@10", "ndcg@2", "mrr@10"))
        assert train == pytest.approx({"ndcg_at_10": np.mean(list(NDCG_AT_10.values())),
                                       "ndcg_at_2": np.mean(list(NDCG_AT_2.values())), "mrr_at_10": 1.0})
        assert ndcg_at_k(frame, 10) == (pytest.approx(np.mean(list(NDCG_AT_10.values()))), 2)
