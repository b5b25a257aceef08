"""Pure pieces of training: losses, feature normalisation, batching, tokenizer, metrics, params."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from components.training.api import TrainingError, merge_params
from components.training.data import TrainingSetError, micro_batches, validate_frame
from components.training.losses import listwise_loss, pairwise_loss, pointwise_loss
from components.training.metrics import ranking_metrics
from components.training.model import FeatureSpec, length_buckets, pad_batch
from components.training.settings import TrainingSettings
from components.training.tokenizer import train_tokenizer
from tests.support.training_data import FEATURES, build_sample_training_set


def test_pairwise_loss_counts_only_pairs_within_a_query():
    scores = torch.tensor([2.0, 0.0, 5.0, -5.0])
    labels = torch.tensor([3.0, 1.0, 0.0, 2.0])
    qcodes = torch.tensor([0, 0, 1, 1])
    # pairs: (0 over 1) diff 2, (3 over 2) diff -10
    expected = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(10.0))) / 2
    assert pairwise_loss(scores, labels, qcodes).item() == pytest.approx(expected, rel=1e-6)
    assert pairwise_loss(scores, torch.zeros(4), qcodes).item() == 0.0


def test_listwise_loss_is_mean_softmax_cross_entropy_per_query():
    scores = torch.tensor([1.0, 0.0, 0.5, 0.5])
    labels = torch.tensor([1.0, 0.0, 2.0, 2.0])
    qcodes = torch.tensor([0, 0, 1, 1])
    t0 = torch.softmax(torch.tensor([1.0, 0.0]), 0)
    ce0 = -(t0 * torch.log_softmax(torch.tensor([1.0, 0.0]), 0)).sum()
    ce1 = -(torch.tensor([0.5, 0.5]) * torch.log_softmax(torch.tensor([0.5, 0.5]), 0)).sum()
    assert listwise_loss(scores, labels, qcodes).item() == pytest.approx(((ce0 + ce1) / 2).item(), rel=1e-6)


def test_pointwise_loss_targets_label_over_three():
    loss = pointwise_loss(torch.tensor([0.0]), torch.tensor([3.0]), torch.tensor([0]))
    assert loss.item() == pytest.approx(math.log(2), rel=1e-6)


def test_feature_spec_fills_defaults_logs_counts_and_clips():
    df = pd.DataFrame({"ctr": [0.1, 0.3, None], "impressions": [0.0, 99.0, 999.0]})
    spec = FeatureSpec.fit(df, ["ctr", "impressions"], {"ctr": 0.2})
    assert spec.log == ["impressions"]
    assert spec.mean["ctr"] == pytest.approx(0.2)
    assert spec.std["ctr"] == pytest.approx(math.sqrt(((0.1 - 0.2) ** 2 + (0.3 - 0.2) ** 2) / 3))
    out = spec.transform(pd.DataFrame({"ctr": [None, 100.0], "impressions": [99.0, 0.0]}))
    assert out[0, 0] == pytest.approx(0.0, abs=1e-6)  # null -> default 0.2 -> mean
    assert out[1, 0] == 5.0  # clipped
    assert out[0, 1] == pytest.approx((math.log(100) - spec.mean["impressions"]) / spec.std["impressions"], rel=1e-5)
    with pytest.raises(KeyError, match="ctr"):
        spec.transform(pd.DataFrame({"impressions": [1.0]}))


def test_length_buckets_and_pad_batch():
    batches = length_buckets([5, 2, 9, 2, 7], 2)
    assert [b.tolist() for b in batches] == [[1, 3], [0, 4], [2]]
    out = pad_batch([[2, 7, 3], [2, 3]], [[0, 0, 0], [0, 0]])
    assert out["input_ids"].tolist() == [[2, 7, 3], [2, 3, 0]]
    assert out["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]


def test_micro_batches_are_a_deterministic_partition_and_split_across_ranks():
    a = micro_batches(10, 3, seed=1, epoch=0)
    assert [len(b) for b in a] == [3, 3, 3, 1]
    assert sorted(np.concatenate(a).tolist()) == list(range(10))
    assert [b.tolist() for b in a] == [b.tolist() for b in micro_batches(10, 3, seed=1, epoch=0)]
    assert [b.tolist() for b in a] != [b.tolist() for b in micro_batches(10, 3, seed=1, epoch=1)]
    r0, r1 = micro_batches(10, 3, 1, 0, rank=0, world=2), micro_batches(10, 3, 1, 0, rank=1, world=2)
    assert [b.tolist() for b in r0] == [a[0].tolist(), a[2].tolist()]
    assert [b.tolist() for b in r1] == [a[1].tolist(), a[3].tolist()]


def test_tokenizer_encodes_cls_query_sep_document_sep_with_segments():
    tok = train_tokenizer(["cook pasta", "kitchen chef pasta dish"], vocab_size=200, max_length=8)
    enc = tok.encode("cook pasta", "kitchen chef pasta dish")
    assert enc.tokens[0] == "[CLS]" and enc.tokens[-1] == "[SEP]"
    assert len(enc.ids) == 8  # truncated to max_length
    sep = enc.tokens.index("[SEP]")
    assert enc.tokens[1:sep] == ["cook", "pasta"]
    assert enc.type_ids == [0] * (sep + 1) + [1] * (8 - sep - 1)


def test_ranking_metrics_match_hand_computed_ndcg():
    out = ranking_metrics(["a", "a", "a", "b", "b"], ["x", "y", "z", "x", "y"], [3, 0, 1, 0, 0],
                          [0.1, 0.9, 0.5, 1.0, 0.0], ("ndcg@10", "mrr@10"))
    # ranx "ndcg" (Jarvelin): linear gains; ranking y(0), z(1), x(3) vs ideal x(3), z(1)
    linear = (1 / math.log2(3) + 3 / math.log2(4)) / (3 + 1 / math.log2(3))
    assert out["ndcg_at_10"] == pytest.approx(linear, rel=1e-6)
    assert out["mrr_at_10"] == pytest.approx(0.5)  # query b has no relevant doc and is skipped


@pytest.mark.slow  # ranx compiles its numba kernels once per process
def test_ranking_metrics_equal_ranx_on_random_rankings():
    from ranx import Qrels, Run, evaluate

    rng = np.random.default_rng(3)
    q = np.repeat([f"q{i}" for i in range(30)], 12)
    d = np.tile([f"d{j}" for j in range(12)], 30)
    y = rng.choice(4, size=len(q), p=[0.5, 0.2, 0.2, 0.1])
    s = rng.random(len(q))
    ours = ranking_metrics(q, d, y, s, ("ndcg@10", "ndcg@5", "mrr@10"))
    frame = pd.DataFrame({"q": q, "d": d, "y": y, "s": s})
    rel = frame[frame.y > 0]
    qrels = Qrels.from_df(rel, q_id_col="q", doc_id_col="d", score_col="y")
    run = Run.from_df(frame[frame.q.isin(set(rel.q))], q_id_col="q", doc_id_col="d", score_col="s")
    ref = evaluate(qrels, run, ["ndcg@10", "ndcg@5", "mrr@10"], make_comparable=True)
    assert ours == pytest.approx({"ndcg_at_10": ref["ndcg@10"], "ndcg_at_5": ref["ndcg@5"], "mrr_at_10": ref["mrr@10"]},
                                 rel=1e-9)


def test_merge_params_accepts_flat_dotted_and_nested_keys():
    base = TrainingSettings()
    cfg = merge_params(base, {"learning_rate": 0.01, "model.hidden_size": 48, "model": {"num_layers": 3}})
    assert (cfg.learning_rate, cfg.model.hidden_size, cfg.model.num_layers) == (0.01, 48, 3)
    assert cfg.model.num_heads == base.model.num_heads
    with pytest.raises(TrainingError, match="lerning_rate"):
        merge_params(base, {"lerning_rate": 0.1})


def test_validate_frame_names_the_bad_row_and_column():
    df = build_sample_training_set(n_queries=6, per_query=2)
    validate_frame(df, FEATURES, "ts")
    bad = df.copy()
    bad.loc[3, "label"] = 7
    with pytest.raises(TrainingSetError, match=r"ts: column 'label' must be 0-3; row 3 has 7"):
        validate_frame(bad, FEATURES, "ts")
    with pytest.raises(TrainingSetError, match=r"missing column\(s\) \['video_ctr'\]"):
        validate_frame(df.drop(columns=["video_ctr"]), FEATURES, "ts")
    only_train = df.assign(split="train")
    with pytest.raises(TrainingSetError, match="no rows with split='validation'"):
        validate_frame(only_train, FEATURES, "ts")


def test_live_view_renders_step_and_validation_history():
    from rich.console import Console

    from components.training.interactive import LiveTrainingView

    console = Console(record=True, width=120, force_terminal=False)
    view = LiveTrainingView(console=console)
    view.on_step(1, 4, {"train_loss": 0.69, "learning_rate": 0.001, "grad_norm": 1.5, "samples_per_s": 120.0})
    view.on_evaluate(1, {"val_ndcg_at_10": 0.8123, "val_loss": 0.5})
    view.on_step(2, 4, {"train_loss": 0.61, "learning_rate": 0.002, "grad_norm": 1.2, "samples_per_s": 130.0})
    view.close()
    text = console.export_text()
    assert "2/4" in text and "0.61" in text and "0.8123" in text and "ndcg_at_10" in text
