"""Metrics against hand-computed values on a tiny ranking; BM25; slices; threshold choice."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from rank_bm25 import BM25Okapi

from components.evaluation.baseline import score_bm25
from components.evaluation.metrics import choose_threshold, evaluate_ranking, pointwise_metrics
from components.evaluation.slices import head_queries, length_bucket, slice_masks

L3 = math.log2(3)


def tiny() -> tuple[pd.DataFrame, np.ndarray]:
    rows = [  # query, video, label, score
        ("q1", "a", 2, 0.9), ("q1", "x", 0, 0.5), ("q1", "b", 1, 0.1),
        ("q2", "c", 1, 0.2), ("q2", "d", 0, 0.8),
        ("q3", "e", 0, 0.3), ("q3", "f", 0, 0.1),  # nothing relevant: no ideal ranking, left out
    ]
    frame = pd.DataFrame(rows, columns=["query_id", "video_id", "label", "score"])
    return frame, frame.pop("score").to_numpy()


def test_ranking_metrics_match_hand_computed_values():
    frame, scores = tiny()
    res = evaluate_ranking(frame, scores, ["ndcg@5", "ndcg@1", "mrr@10", "map", "recall@1", "recall@2"])
    assert res.n_queries == 2
    # q1 ranks a(2) x(0) b(1): DCG = 2/1 + 1/log2(4) = 2.5, IDCG = 2 + 1/log2(3); q2 ranks d(0) c(1)
    expected = {
        "ndcg@5": {"q1": 2.5 / (2 + 1 / L3), "q2": 1 / L3},
        "ndcg@1": {"q1": 1.0, "q2": 0.0},
        "mrr@10": {"q1": 1.0, "q2": 0.5},
        "map": {"q1": (1 + 2 / 3) / 2, "q2": 0.5},
        "recall@1": {"q1": 0.5, "q2": 0.0},
        "recall@2": {"q1": 0.5, "q2": 1.0},
    }
    for metric, per_query in expected.items():
        assert res.per_query[metric] == pytest.approx(per_query), metric
        assert res.mean[metric] == pytest.approx(np.mean(list(per_query.values()))), metric


def test_relevant_label_threshold_changes_what_counts():
    frame, scores = tiny()
    res = evaluate_ranking(frame, scores, ["mrr@10"], relevant_label=2)
    assert res.n_queries == 1 and res.per_query["mrr@10"] == {"q1": 1.0}


def test_threshold_chosen_on_validation_then_applied_to_test():
    # F1 at >=0.9: 0.667, >=0.8: 0.5, >=0.7: 0.8 (best), >=0.1: 0.667
    threshold = choose_threshold(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1]))
    assert threshold == 0.7
    out = pointwise_metrics(np.array([1, 1, 0]), np.array([0.75, 0.5, 0.8]), threshold)
    assert out == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "threshold": 0.7, "tp": 1, "fp": 1, "fn": 1, "tn": 0}


def test_bm25_scores_candidates_against_the_whole_catalogue():
    frame = pd.DataFrame({
        "query_id": ["q1", "q1", "q1", "q2"], "query_text": ["Cat videos"] * 3 + ["piano"],
        "video_id": ["v1", "v2", "v3", "v2"],
        "title": ["funny cat", "piano lesson", "cat and cat", "piano lesson"],
        "description": ["cats", "music", "videos", "music"],
    })
    scores = score_bm25(frame)
    bm25 = BM25Okapi([["funny", "cat", "cats"], ["piano", "lesson", "music"], ["cat", "and", "cat", "videos"]])
    expected = [*bm25.get_scores(["cat", "videos"]), bm25.get_scores(["piano"])[1]]
    assert scores.tolist() == pytest.approx(expected)
    assert scores[1] == 0.0 and scores[2] > scores[0] > 0 and scores[3] > 0


@pytest.mark.parametrize(("n", "bounds", "name"), [(0, [1, 2, 3], "1"), (1, [1, 2, 3], "1"), (2, [1, 2, 3], "2"),
                                                   (3, [1, 2, 3], "3+"), (7, [1, 2, 3], "3+"), (2, [1, 3], "1-2")])
def test_length_buckets(n, bounds, name):
    assert length_bucket(n, bounds) == name


def test_slices_head_tail_length_and_known_videos():
    full = pd.DataFrame({
        "query_id": ["h", "h", "h", "t1", "t2", "t2", "h", "t1", "t2"],
        "query_text": ["a b", "a b", "a b", "c", "d e f", "d e f", "a b", "c", "d e f"],
        "video_id": ["v1", "v2", "v3", "v1", "v4", "v5", "v9", "v2", "v6"],
        "split": ["train"] * 6 + ["test"] * 3,
    })
    assert head_queries(full, 0.3) == {"h"}  # 4 rows; t2 has 3, t1 2
    traffic = full.assign(query_impressions=full["query_id"].map({"h": 5, "t1": 90, "t2": 7}))
    assert head_queries(traffic, 0.3, "query_impressions") == {"t1"}  # traffic beats row counts when present
    test = full[full["split"] == "test"].reset_index(drop=True)
    masks = slice_masks(test, full, 0.3, [1, 2, 3])
    assert {k: v.tolist() for k, v in masks.items()} == {
        "queries:head": [True, False, False], "queries:tail": [False, True, True],
        "query_len:1": [False, True, False], "query_len:2": [True, False, False], "query_len:3+": [False, False, True],
        "videos:known": [False, True, False], "videos:new": [True, False, True],
    }
