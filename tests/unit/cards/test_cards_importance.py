"""Permutation importance over our scorers: exact zeros, a hand-computed expectation, the ranker's own features."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from components.cards.importance import permutation_importance, pyfunc_input


class Linear:
    """A pyfunc-like model: score = sum(weight * column)."""

    def __init__(self, weights: dict[str, float]):
        self.weights = weights

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return sum(w * frame[c].to_numpy(dtype=float) for c, w in self.weights.items())


def frame_of(rows: list[tuple[str, str, int, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["query_id", "video_id", "label", "signal", "constant"]).assign(
        query_text="q", title="t", description="d")


def test_a_feature_the_score_ignores_or_that_never_varies_has_exactly_zero_importance():
    frame = frame_of([("q1", "a", 3, 2.0, 1.0), ("q1", "b", 0, 0.5, 1.0), ("q1", "c", 1, 1.0, 1.0),
                      ("q2", "d", 2, 0.7, 1.0), ("q2", "e", 0, 0.1, 1.0)])
    feats = pyfunc_input(Linear({"signal": 1.0, "constant": 5.0}), frame, ["signal", "constant"])
    out = permutation_importance(frame, feats, "ndcg@10", repeats=4, seed=1)
    assert (out["metric"], out["baseline"], out["queries"], out["repeats"]) == ("ndcg@10", 1.0, 2, 4)
    constant = next(f for f in out["features"] if f["feature"] == "constant")
    assert constant == {"feature": "constant", "kind": "numeric", "importance": 0.0, "std": 0.0}


def test_importance_of_the_only_signal_is_half_the_ndcg_lost_by_a_swap():
    # one query, relevant a (label 1) above b: a shuffle keeps the order or swaps it, each with
    # probability 1/2; a swap puts the relevant video at rank 2: NDCG@10 = 1/log2(3)
    frame = frame_of([("q1", "a", 1, 1.0, 0.0), ("q1", "b", 0, 0.0, 0.0)])
    feats = pyfunc_input(Linear({"signal": 1.0}), frame, ["signal"])
    out = permutation_importance(frame, feats, "ndcg@10", repeats=400, seed=7)
    expected = 0.5 * (1 - 1 / math.log2(3))
    assert out["features"][0]["importance"] == pytest.approx(expected, abs=0.04)  # ±4 standard errors of the mean
    assert out["features"][0]["std"] == pytest.approx(0.5 * (1 - 1 / math.log2(3)), abs=0.02)  # a fair coin's spread


def test_the_packaged_ranker_is_permuted_after_its_preprocessing_lexical_features_included():
    import torch
    from transformers import ElectraConfig

    from components.training.model import CrossEncoder, FeatureSpec, Scorer
    from components.training.tokenizer import train_tokenizer

    torch.manual_seed(0)
    frame = pd.DataFrame({"query_id": ["q1"] * 3, "video_id": ["a", "b", "c"], "label": [2, 0, 1],
                          "query_text": ["cook pasta"] * 3, "title": ["pasta dish", "guitar", "cook"],
                          "description": ["chef", "music", "kitchen pasta"], "clicks": [3.0, 0.0, 1.0]})
    tok = train_tokenizer(list(frame["query_text"]) + list(frame["title"]), vocab_size=120, max_length=16)
    spec = FeatureSpec.fit(frame, ["clicks"], {"clicks": 0.0}, lexical=True)
    config = ElectraConfig(vocab_size=tok.get_vocab_size(), embedding_size=8, hidden_size=8, num_hidden_layers=1,
                           num_attention_heads=1, intermediate_size=16, max_position_embeddings=16)
    scorer = Scorer(CrossEncoder(config, len(spec.names), head_hidden=4), tok, spec)

    class Packaged:  # what mlflow.pyfunc.load_model returns for our RankerModel
        def unwrap_python_model(self):
            return type("RankerModel", (), {"scorer": scorer})()

    feats = pyfunc_input(Packaged(), frame, ["clicks"])
    assert feats.names == ["clicks", "lex_bm25", "lex_title_coverage", "lex_description_coverage"]
    assert feats.kinds == ["numeric", "lexical", "lexical", "lexical"]
    # the unpermuted matrix scores exactly as the packaged model does
    np.testing.assert_array_equal(feats.score(feats.matrix), scorer.score(frame))
    out = permutation_importance(frame, feats, "ndcg@10", repeats=2, seed=0)
    assert sorted(f["feature"] for f in out["features"]) == sorted(feats.names)


def test_one_encoder_pass_scores_like_the_whole_model_across_length_buckets():
    """The head over cached [CLS] states gives score_encoded's scores, rows in input order."""
    import torch
    from transformers import ElectraConfig

    from components.training.model import CrossEncoder, cls_states, score_encoded

    torch.manual_seed(1)
    config = ElectraConfig(vocab_size=50, embedding_size=8, hidden_size=8, num_hidden_layers=1,
                           num_attention_heads=1, intermediate_size=16, max_position_embeddings=32)
    model = CrossEncoder(config, 2, head_hidden=4)
    rng = np.random.default_rng(3)
    ids = [list(rng.integers(1, 50, size=n)) for n in (9, 3, 14, 5, 3, 11, 7)]  # 7 rows, batches of 3
    types = [[0] * len(row) for row in ids]
    feats = rng.normal(size=(7, 2)).astype(np.float32)
    expected = score_encoded(model, ids, types, feats, batch_size=3)
    states = cls_states(model, ids, types, batch_size=3)
    with torch.inference_mode():
        got = model.score_states(states, torch.from_numpy(feats)).numpy()
    assert states.shape == (7, 8)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert np.unique(expected).size == 7  # distinct scores: a row mix-up could not pass
