"""The local tiny model beats BM25 on make-run-sized generator data: generate -> ETL -> Feast -> train -> compare.

The whole data path is real (Spark, Feast, MLflow) and the model is trained with the local
profile's own defaults, so a change that costs ranking quality fails here, not in a demo.
"""

from __future__ import annotations

import pytest

from components.common.config import load_settings

pytestmark = pytest.mark.slow


def test_local_model_beats_bm25_significantly(spark, tmp_path):
    from components.datagen.generate import generate_dataset
    from components.etl.run import run_etl
    from components.evaluation.compare import decide
    from components.evaluation.evaluate import evaluate_scores
    from components.evaluation.run import load_frame, score_baseline, score_model
    from components.features.apply import run_apply
    from components.features.training_set import build_training_set
    from components.registry.lookup import use_mlflow
    from components.training.api import train

    settings = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path / "home")})
    generate_dataset(tmp_path / "raw", impressions=20000, days=3, seed=7, dirty_share=0.02)
    run_etl(settings, tmp_path / "raw", spark)
    run_apply(settings)
    build_training_set(settings)
    result = train(settings, params={"system_metrics": False})

    use_mlflow(settings)
    snap, full = load_frame(settings, None, result.model_uri)
    cfg = settings.evaluation
    model = evaluate_scores(full, score_model(result.model_uri, full, snap.manifest.get("extra")), cfg)
    bm25 = evaluate_scores(full, score_baseline(full), cfg)
    decision = decide(bm25, model, cfg, reference_name="bm25", challenger_name="model")
    assert decision["queries"] >= 20
    assert decision["delta"] > cfg.min_delta and model["overall"]["ndcg@10"] > bm25["overall"]["ndcg@10"]
    assert decision["promote"], decision["reasons"]
