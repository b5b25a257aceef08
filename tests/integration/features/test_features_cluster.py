"""The cluster profile (`dev`) proven on real servers: SQL registry on PostgreSQL, Redis online
store and the Spark offline store (the run's one Spark session), all on loopback."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from components.common.snapshots import SnapshotStore
from components.etl.normalize import query_id_of, video_id_of

pytestmark = [pytest.mark.slow, pytest.mark.services]

CATS, DOGS = query_id_of("cats"), query_id_of("dogs")
VA, VB, VC = (video_id_of(f"https://videos.example/{n}") for n in ("a", "b", "c"))
D1, D3 = datetime(2026, 3, 1, 23, 59, 59), datetime(2026, 3, 3, 23, 59, 59)


@pytest.fixture(scope="module")
def dev(tmp_path_factory, postgres_url, redis_address, redis_password, spark, settings_at, gold_case):
    """`dev` settings pointed at the loopback servers, gold published, repo applied and materialised.

    Redis requires a password, given as in the cluster: the REDIS_PASSWORD variable of the rankops-redis Secret.
    """
    from components.features.apply import run_apply
    from components.features.materialize import run_materialize
    from components.features.online import clear_online_cache
    from tests.support.feature_data import publish_gold

    cfg = settings_at(tmp_path_factory.mktemp("features-dev"), "dev",
                      features__registry_path=postgres_url, features__online_store_path=redis_address,
                      storage__lakehouse="lakehouse", storage__reports="reports", spark__master="local[2]")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REDIS_PASSWORD", redis_password)
        publish_gold(cfg, gold_case())
        applied = run_apply(cfg)
        materialized = run_materialize(cfg)
        yield cfg, applied, materialized
    clear_online_cache()
    # Feast's Spark store sets this on the shared session; other stages' Spark code must not inherit it
    spark.conf.unset("spark.sql.parser.quotedRegexColumnNames")


def test_apply_registers_in_postgres_and_materialises_to_redis(dev, postgres_url, redis_address, redis_password):
    import redis
    import sqlalchemy

    cfg, applied, materialized = dev
    assert applied["feature_services"] == ["ctr_baseline_v1", "ranker_v1"]
    assert {v["rows_in_window"] for v in materialized["feature_views"].values()} == {3, 4}
    with sqlalchemy.create_engine(postgres_url).connect() as conn:
        names = {r[0] for r in conn.execute(sqlalchemy.text("select feature_view_name from feature_views"))}
        sources = conn.execute(sqlalchemy.text("select count(*) from data_sources")).scalar()
    assert names == {"query_features", "video_catalog", "video_engagement", "query_video_features"} and sources == 3
    host, port = redis_address.split(":")
    # Feast keys: one hash per entity key: 2 queries + 2 videos + 3 (query, video) pairs
    assert redis.Redis(host=host, port=int(port), password=redis_password).dbsize() == 7


def test_online_on_redis_returns_latest_values_and_defaults(dev):
    from components.features.online import get_online_features

    cfg, _, _ = dev
    df = get_online_features(cfg, "Cats", [VA, VC])
    assert df.loc[0, ["title", "query_impressions", "qv_impressions", "video_age_days"]].tolist() == [
        "a title", 30, 20, 12.0]
    assert df.loc[1, ["title", "duration_s", "qv_ctr"]].tolist() == ["", 0.0, 0.0]


def test_spark_training_set_is_point_in_time_correct_and_matches_local(dev, settings_at, gold_case, tmp_path):
    from components.features.apply import run_apply
    from components.features.training_set import build_training_set
    from tests.support.feature_data import publish_gold

    cfg, _, _ = dev
    snap = build_training_set(cfg, "ranker_v1")
    spark_df = SnapshotStore.read_pandas(snap)
    assert snap.row_count == 6 and snap.manifest["extra"]["feature_service"] == "ranker_v1"
    row = spark_df[(spark_df.video_id == VA) & (spark_df.event_timestamp == pd.Timestamp(D1 + timedelta(hours=12),
                                                                                      tz="UTC"))].iloc[0]
    assert row[["query_impressions", "qv_impressions", "video_age_days"]].tolist() == [10, 8, 10.0]
    expired = spark_df[spark_df.event_timestamp == pd.Timestamp(D1 + timedelta(days=40), tz="UTC")].iloc[0]
    assert expired[["query_impressions", "qv_ctr", "video_ctr", "video_age_days"]].tolist() == [0, 0.0, 0.0, 100.0]
    # the file offline store of the local profile gives the identical table
    local = settings_at(tmp_path)
    publish_gold(local, gold_case())
    run_apply(local)
    local_df = SnapshotStore.read_pandas(build_training_set(local, "ranker_v1"))
    pd.testing.assert_frame_equal(spark_df, local_df)


def test_direct_redis_reader_returns_exactly_what_the_sdk_returns(dev):
    from components.features.online import get_online_features
    from components.features.redis_direct import parse_connection_string

    cfg, _, _ = dev
    assert cfg.features.online_reader == "redis_direct"  # the cluster profiles' choice
    sdk, direct = cfg.model_copy(deep=True), cfg.model_copy(deep=True)
    sdk.features.online_reader = "sdk"
    for query, videos in [("cats", [VA, VB, VC]), ("dogs", [VB, VB, "unknown"]), ("nobody", [VA])]:
        sdk_df = get_online_features(sdk, query, videos)
        direct_df = get_online_features(direct, query, videos)
        pd.testing.assert_frame_equal(direct_df, sdk_df)
    assert parse_connection_string("h:1,db=2,password=p,ssl=true") == {"host": "h", "port": 1, "db": 2,
                                                                        "password": "p", "ssl": True}


def test_every_redis_client_sends_the_password_and_none_works_without_it(dev, redis_password, monkeypatch, tmp_path):
    """Without REDIS_PASSWORD the server refuses both readers; the direct one names the variable to set."""
    import redis

    from components.features.online import clear_online_cache, get_online_features
    from components.features.store_config import write_store_yaml

    cfg, _, _ = dev
    # the YAML for `feast` holds a reference that Feast expands on load, never the secret itself
    text = write_store_yaml(cfg, tmp_path / "feature_store.yaml").read_text()
    assert f"{cfg.features.online_store_path},password=${{REDIS_PASSWORD}}" in text and redis_password not in text
    monkeypatch.delenv("REDIS_PASSWORD")
    sdk, direct = cfg.model_copy(deep=True), cfg.model_copy(deep=True)
    sdk.features.online_reader = "sdk"
    clear_online_cache()
    with pytest.raises(PermissionError, match="refused the lookup .*Authentication required.*REDIS_PASSWORD"):
        get_online_features(direct, "cats", [VA])
    with pytest.raises(redis.AuthenticationError, match="Authentication required"):
        get_online_features(sdk, "cats", [VA])
    monkeypatch.setenv("REDIS_PASSWORD", redis_password)
    clear_online_cache()
    assert get_online_features(direct, "cats", [VA]).loc[0, "title"] == "a title"
    assert get_online_features(sdk, "cats", [VA]).loc[0, "title"] == "a title"
