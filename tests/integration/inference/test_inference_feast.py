"""Serving on the real Feast stores: online ranker, offline batch scoring and the skew guard agree."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from components.common.config import load_settings
from components.common.contract import GOLD_LABELS
from components.common.snapshots import SnapshotStore

pytestmark = pytest.mark.slow
URI = "models:/rankops-ranker@champion"


@pytest.fixture(scope="module")
def feast_env(tmp_path_factory):
    """Gold (one day, so online = latest = point-in-time values) applied, materialised, training set built."""
    from components.features.apply import run_apply
    from components.features.materialize import run_materialize
    from components.features.training_set import build_training_set
    from tests.support.feature_data import make_gold, publish_gold
    from tests.support.reference_model import log_reference_model

    settings = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path_factory.mktemp("serving-feast"))})
    publish_gold(settings, make_gold(n_queries=8, n_videos=30, per_query=5, days=1))
    run_apply(settings)
    run_materialize(settings)
    train = build_training_set(settings)
    features = train.manifest["extra"]["features"]
    weights = [((i % 3) - 1) * 0.5 + 0.1 for i in range(len(features))]
    info = log_reference_model(settings, features, weights=weights, defaults=train.manifest["extra"]["defaults"])
    yield settings, train, info
    from components.features.online import clear_online_cache

    clear_online_cache()


def test_skew_guard_passes_on_the_real_stores_and_catches_a_tampered_value(feast_env):
    from components.inference.features import online_source
    from components.monitoring.skew import check_skew

    settings, train, _ = feast_env
    result = check_skew(settings, model_uri=URI, training_set=train.ref, sample=25)
    assert result["pairs"] == 25 and result["feature_mismatch_count"] == 0, result["feature_mismatches"]
    assert result["score_max_abs_diff"] <= 1e-5 and result["passed"] is True

    real = online_source(settings)

    class Tampered:
        def lookup(self, query, ids):
            df = real.lookup(query, ids)
            df.loc[0, "video_ctr"] = df.loc[0, "video_ctr"] + 0.5
            return df

        def ping(self):
            return None

    bad = check_skew(settings, model_uri=URI, training_set=train.ref, sample=25, source=Tampered())
    assert bad["passed"] is False and bad["feature_mismatch_count"] == bad["queries"]
    assert {m["column"] for m in bad["feature_mismatches"]} == {"video_ctr"}


def test_ranker_on_feast_online_store(feast_env):
    from components.inference.features import online_source
    from components.inference.model import load_ranker
    from components.inference.server import create_app
    from components.inference.state import ModelHolder

    settings, train, _ = feast_env
    rows = SnapshotStore.read_pandas(train)
    query = rows["query_text"].iloc[0]
    ids = rows.loc[rows["query_text"] == query, "video_id"].tolist()
    app = create_app(settings, ModelHolder(settings, URI), online_source(settings), poll_interval_s=0,
                     freeze_gc=False)
    with TestClient(app) as client:
        assert client.get("/readyz").json()["checks"] == {"model": True, "feature_store": True}
        body = client.post("/rerank", json={"query": query.upper() + "  ", "candidates": ids}).json()
        expected = load_ranker(settings, URI).predict(rows[rows["query_text"] == query])
        by_id = dict(zip(rows.loc[rows["query_text"] == query, "video_id"], expected, strict=True))
        assert [r["video_id"] for r in body["results"]] == sorted(ids, key=lambda v: -by_id[v])
        assert max(abs(r["score"] - by_id[r["video_id"]]) for r in body["results"]) <= 1e-5
        unknown = client.post("/rerank", json={"query": query, "candidates": [ids[0], "deadbeefdeadbeef"]})
        assert unknown.status_code == 404 and unknown.json()["detail"] == {"unknown": ["deadbeefdeadbeef"]}


def test_batch_scoring_fetches_point_in_time_features_from_the_offline_store(feast_env, spark):
    from components.inference.run import run_batch_scoring

    settings, train, _ = feast_env
    labels = SnapshotStore(settings.lakehouse).latest(GOLD_LABELS)
    summary = run_batch_scoring(settings, model_uri=URI, input_ref=labels.ref, spark=spark)
    scored = SnapshotStore.read_pandas(SnapshotStore(settings.lakehouse).resolve(summary["snapshot"]))
    assert summary["input_snapshots"] == {GOLD_LABELS: labels.snapshot_id} and len(scored) == train.row_count
    keys = ["query_id", "video_id"]
    scored = scored.sort_values(keys).reset_index(drop=True)
    expected = SnapshotStore.read_pandas(train).sort_values(keys).reset_index(drop=True)
    features = train.manifest["extra"]["features"]
    np.testing.assert_array_equal(scored[features].to_numpy(float), expected[features].to_numpy(float))
    assert scored["label"].tolist() == expected["label"].tolist()
    from components.inference.model import load_ranker

    np.testing.assert_allclose(scored["score"], load_ranker(settings, URI).predict(expected), atol=1e-9, rtol=0)
