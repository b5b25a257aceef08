"""The model card's Markdown from hand-written facts: exact rows, derived limitations, the runbook."""

from __future__ import annotations

from components.cards.model_card import limitations, render_card


def facts(**over):
    base = {
        "name": "rankops-ranker", "version": "3", "model_uri": "models:/rankops-ranker/3", "run_id": "r1",
        "registered_at": "2026-01-02T00:00:00+00:00", "git": {"sha": "abc", "branch": "main", "dirty": "false"},
        "pipeline_run": None, "model_kind": "electra", "intended_use": "Rank videos.", "out_of_scope": "People.",
        "architecture": {"parameters": 1234, "tensors": 7, "encoder": {"hidden_size": 64},
                         "features": ["video_ctr"], "lexical": ["lex_bm25"]},
        "training_data": {"feature_service": "ranker_v1", "training_set": "features/training_set_ranker_v1@x",
                          "splits": {"test": {"rows": 30, "queries": 10}, "train": {"rows": 90, "queries": 30}},
                          "time_range": ["2026-01-01", "2026-01-09"],
                          "snapshots": [{"table": "gold/labels", "snapshot_id": "g1", "rows": 120}]},
        "params": {"learning_rate": "0.002"},
        "evaluation": {"primary_metric": "ndcg@10",
                       "model": {"ndcg@10": 0.8, "map": 0.5, "queries": 10, "candidates": 30},
                       "bm25": {"ndcg@10": 0.6, "map": 0.5},
                       "slices": {"videos:new": {"model": {"ndcg@10": 0.4, "queries": 3}, "bm25": {"ndcg@10": 0.5}}}},
        "importance": {"metric": "ndcg@10", "baseline": 0.9, "queries": 8, "repeats": 5, "seed": 0,
                       "features": [{"feature": "lex_bm25", "kind": "lexical", "importance": 0.25, "std": 0.05},
                                    {"feature": "video_ctr", "kind": "numeric", "importance": -0.1, "std": 0.01}]},
        "comparison": None,
        "runbook": {"approvers": ["@rankops/data-experts"], "how": "merge of the promotion pull request",
                    "monitoring": {"psi_threshold": 0.2, "ks_pvalue_threshold": 0.01, "score_psi_threshold": 0.2,
                                   "max_null_share": 0.05, "ndcg_k": 10, "max_ndcg_drop": 0.1, "ctr_k": 3,
                                   "max_ctr_drop": 0.5, "retrain_pipeline": "training"}},
    }
    return {**base, **over}


def test_card_states_size_data_metrics_importance_and_runbook():
    md = render_card(facts())
    assert md.startswith("# Model card: rankops-ranker v3\n")
    assert "| parameters | 1234 |" in md and "| encoder hidden_size | 64 |" in md
    assert "| test | 30 | 10 |" in md and "events from 2026-01-01 to 2026-01-09" in md
    assert "- `gold/labels@g1`: 120 rows" in md
    assert "| learning_rate | 0.002 |" in md
    assert "| ndcg@10 | 0.8000 | 0.6000 | 0.2000 |" in md and "| map | 0.5000 | 0.5000 | 0.0000 |" in md
    assert "| videos:new | 3 | 0.4000 | 0.5000 | -0.1000 |" in md
    assert "| lex_bm25 | lexical | 0.2500 | 0.0500 |" in md
    assert "No comparison recorded yet" in md
    assert "feature drift PSI > 0.2 or KS p < 0.01" in md and "starts the `training` pipeline" in md
    assert "@rankops/data-experts approve it (merge of the promotion pull request)" in md
    assert "`rankops promote rollback`" in md


def test_limitations_name_the_weak_slice_the_small_test_set_and_a_harmful_feature():
    out = limitations(facts())
    assert out[2:] == [
        "Below BM25 on slice videos:new: ndcg@10 0.4000 vs 0.5000.",
        "Only 10 judged test queries: differences of a few points are within noise.",
        "Shuffling video_ctr improves the ranking (-0.1000): the model relies on it in a way that does not "
        "generalise.",
    ]


def test_comparison_with_the_champion_is_shown_once_recorded():
    cmp = {"reference": "champion v2", "metric": "ndcg@10", "delta": 0.05, "p_value": 0.012, "stat_test": "student",
           "queries": 40, "promote": True, "compare_run_id": "c9", "training_set": "ts@1",
           "metrics": {"ndcg@10": {"reference": 0.7, "challenger": 0.75, "delta": 0.05}}}
    md = render_card(facts(comparison=cmp))
    assert ("Compared with **champion v2** on `ts@1`: ndcg@10 delta 0.0500, paired student test p = 0.012 over 40 "
            "queries; verdict: promote (comparison run `c9`).") in md
    assert "| ndcg@10 | 0.7000 | 0.7500 | 0.0500 |" in md


def test_unmeasured_metrics_say_why():
    md = render_card(facts(evaluation={"error": "snapshot x not found"}, importance={"error": "snapshot x not found"}))
    assert "## Metrics\n\nNot measured: snapshot x not found." in md
    assert "## Feature importance\n\nNot measured: snapshot x not found." in md


def test_backtest_stability_is_shown_when_one_was_recorded():
    assert "No backtest recorded for `features/training_set_ranker_v1@x`" in render_card(facts(backtest=None))
    bt = {"run_id": "b1", "metric": "ndcg@10",
          "stability": {"windows": 3.0, "mean": 0.7, "std": 0.05, "min": 0.65, "worst_window": 2.0}}
    md = render_card(facts(backtest=bt))
    assert "Rolling-origin backtest of `features/training_set_ranker_v1@x` on ndcg@10 (run `b1`)." in md
    assert "| windows | 3 |" in md and "| mean | 0.7000 |" in md and "| worst window | 2 |" in md


def test_another_tasks_metrics_are_shown_against_its_own_baseline():
    """A project's task (here a click model's) has other metrics and another baseline than ranking's BM25."""
    from components.cards.model_card import metrics_blocks

    ev = {"model": {"log_loss": 0.40, "auc": 0.70, "calibrated": True}, "position_prior": {"log_loss": 0.50, "auc": 0.60},
          "baseline": "position_prior", "primary_metric": "auc",
          "slices": {"top3": {"model": {"queries": 5, "auc": 0.55}, "position_prior": {"auc": 0.65}}}}
    overall, slices = metrics_blocks({"evaluation": ev})
    assert overall.heading == "Metrics against position_prior (test split)"
    assert overall.header == ["metric", "model", "position_prior", "delta"]
    assert [(r[0], r[1], r[2], round(r[3], 10)) for r in overall.rows] == [("log_loss", 0.40, 0.50, -0.1),
                                                                          ("auc", 0.70, 0.60, 0.1)]
    assert slices.rows[0][:4] == ["top3", 5, 0.55, 0.65]
    notes = limitations({"evaluation": ev})
    assert "Below position_prior on slice top3: auc 0.5500 vs 0.6500." in notes
    assert not any("calibrated probabilities" in n for n in notes)  # a click model's scores are probabilities
