"""The local profile end to end on real Feast: apply -> materialize -> training set -> online,
with exact point-in-time answers on constructed gold tables (see conftest.gold_case)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import pandas as pd
import pytest
from typer.testing import CliRunner

from components.common.contract import GOLD_LABELS, GOLD_QUERY, GOLD_QUERY_VIDEO, GOLD_VIDEO
from components.common.snapshots import SnapshotStore
from components.etl.normalize import query_id_of, video_id_of

pytestmark = pytest.mark.slow

CATS, DOGS = query_id_of("cats"), query_id_of("dogs")  # the ids of conftest.gold_case
VA, VB, VC = (video_id_of(f"https://videos.example/{n}") for n in ("a", "b", "c"))
D1, D3 = datetime(2026, 3, 1, 23, 59, 59), datetime(2026, 3, 3, 23, 59, 59)
NUMERIC = ["duration_s", "video_age_days", "tag_count", "video_ctr", "query_num_tokens", "query_impressions",
           "query_ctr", "qv_impressions", "qv_ctr", "qv_mean_position", "qv_debiased_ctr"]
H12 = timedelta(hours=12)
# (query, video, label timestamp) -> title, then NUMERIC in order
EXPECTED = {
    (CATS, VA, D1 + H12): ["a title", 61.0, 10.0, 2, 0.2, 1, 10, 0.4, 8, 0.5, 1.5, 0.6],  # D3 row is in the future
    (CATS, VA, D3 + timedelta(hours=1)): ["a title", 61.0, 12.0, 2, 0.2, 1, 30, 0.2, 20, 0.25, 2.0, 0.3],
    (CATS, VB, D1 + H12): ["b title", 300.0, 100.0, 0, 0.2, 1, 10, 0.4, 2, 0.0, 7.0, 0.0],
    (DOGS, VB, D1 + H12): ["b title", 300.0, 100.0, 0, 0.2, 1, 5, 0.2, 5, 0.2, 3.0, 0.25],
    # 40 days on: query, pair and video engagement (TTL 30 d) expired; the catalogue never expires
    (DOGS, VB, D1 + timedelta(days=40)): ["b title", 300.0, 100.0, 0, 0.0, 0, 0, 0.0, 0, 0.0, 0.0, 0.0],
    (DOGS, VC, D1 + H12): ["", 0.0, 0.0, 0, 0.0, 1, 5, 0.2, 0, 0.0, 0.0, 0.0],  # unknown video
}


def _key(row) -> tuple:
    return (row["query_id"], row["video_id"], row["event_timestamp"].tz_convert(None).to_pydatetime())


def test_training_set_is_point_in_time_correct_and_versioned(applied_local):
    from components.features.training_set import build_training_set

    snap = build_training_set(applied_local, "ranker_v1")
    df = SnapshotStore.read_pandas(snap)
    assert list(df.columns) == ["query_id", "video_id", "event_timestamp", "label", "split", "query_text",
                                "title", "description", *NUMERIC]
    got = {_key(r): [r["title"], *[r[c] for c in NUMERIC]] for _, r in df.iterrows()}
    assert got == EXPECTED
    assert df["label"].tolist() == df.sort_values(["query_id", "video_id", "event_timestamp"])["label"].tolist()
    extra = snap.manifest["extra"]
    assert snap.table == "features/training_set_ranker_v1"
    assert extra["feature_service"] == "ranker_v1"
    assert extra["features"] == NUMERIC
    assert extra["text_columns"] == ["query_text", "title", "description"]
    assert extra["defaults"] == {c: 0.0 for c in NUMERIC}
    assert extra["feature_refs"][:2] == ["video_catalog:title", "video_catalog:description"]
    assert extra["feature_refs"][5] == "video_engagement:video_ctr"
    assert extra["null_counts"]["query_impressions"] == 1 and extra["null_counts"]["qv_impressions"] == 2
    assert extra["null_counts"]["title"] == 1 and extra["null_counts"]["video_ctr"] == 2
    lake = SnapshotStore(applied_local.lakehouse)
    assert snap.manifest["parents"] == {t: lake.latest(t).snapshot_id
                                        for t in (GOLD_LABELS, GOLD_QUERY, GOLD_QUERY_VIDEO, GOLD_VIDEO)}
    assert build_training_set(applied_local, "ranker_v1").snapshot_id == snap.snapshot_id  # idempotent


def test_raw_retrieval_keeps_nulls_for_expired_and_future_values(applied_local):
    from components.features.store_config import open_store
    from components.features.training_set import retrieve_point_in_time

    entity = pd.DataFrame({"query_id": [DOGS, CATS], "video_id": [VB, VA],
                           "event_timestamp": pd.to_datetime([D1 + timedelta(days=40), D1 - H12], utc=True)})
    raw = retrieve_point_in_time(open_store(applied_local), entity, "ranker_v1").set_index("query_id")
    assert math.isnan(raw.loc[DOGS, "query_impressions"]) and math.isnan(raw.loc[DOGS, "qv_ctr"])
    assert raw.loc[DOGS, "video_age_days"] == 100.0  # the catalogue never expires
    assert math.isnan(raw.loc[DOGS, "video_ctr"])  # engagement does (30 d)
    # half a day before the first feature row: nothing is known yet
    assert raw.loc[CATS, ["query_impressions", "video_ctr", "qv_ctr"]].isna().all()


def test_online_matches_offline_after_materialisation(applied_local):
    from components.features.online import get_online_features
    from components.features.store_config import open_store
    from components.features.training_set import retrieve_point_in_time

    online = get_online_features(applied_local, "  Cats ", [VB, VA])  # normalised to the same query id
    assert online["video_id"].tolist() == [VB, VA]
    assert online["query_text"].tolist() == ["cats", "cats"]
    at = pd.Timestamp(D3 + timedelta(hours=2), tz="UTC")  # after the newest rows, inside every TTL
    entity = pd.DataFrame({"query_id": [CATS, CATS], "video_id": [VB, VA], "event_timestamp": [at, at]})
    offline = retrieve_point_in_time(open_store(applied_local), entity, "ranker_v1").set_index("video_id")
    for _, row in online.iterrows():
        for col in ["title", "description", *NUMERIC]:
            assert row[col] == offline.loc[row["video_id"], col], col
    assert online.loc[1, NUMERIC].tolist() == [61.0, 12.0, 2, 0.2, 1, 30, 0.2, 20, 0.25, 2.0, 0.3]


def test_unknown_entities_get_defaults_not_errors(applied_local):
    from components.features.online import get_online_features

    df = get_online_features(applied_local, "never searched", ["nope", VA])
    assert df.loc[0, ["title", "description"]].tolist() == ["", ""]
    assert df.loc[0, NUMERIC].tolist() == [0.0] * len(NUMERIC)
    assert df.loc[1, "title"] == "a title" and df.loc[1, "qv_impressions"] == 0 and df.loc[1, "query_ctr"] == 0.0
    assert get_online_features(applied_local, "cats", []).columns.tolist() == df.columns.tolist()


def test_second_service_reuses_the_views(applied_local):
    from components.features.online import get_online_features

    df = get_online_features(applied_local, "cats", [VA], service="ctr_baseline_v1")
    assert df.columns.tolist() == ["query_text", "video_id", "video_impressions", "video_ctr", "qv_impressions",
                                   "qv_clicks", "qv_ctr", "qv_debiased_ctr"]
    assert df.loc[0, ["video_impressions", "qv_clicks"]].tolist() == [50, 5]


def test_missing_registry_is_a_clear_error_naming_the_profile(tmp_path, settings_at, gold_case):
    from components.features.feast_registry import RegistryError
    from components.features.online import get_online_features

    with pytest.raises(RegistryError, match=r"profile 'local': no feature registry at .*registry\.db.*features apply"):
        get_online_features(settings_at(tmp_path), "cats", [VA])


def test_stale_registry_refuses_until_reapplied_and_incremental_loads_only_new_rows(tmp_path, settings_at, gold_case):
    from components.features.apply import run_apply
    from components.features.feast_registry import RegistryError
    from components.features.materialize import run_materialize
    from components.features.online import get_online_features
    from tests.support.feature_data import gold_frame, publish_gold

    cfg = settings_at(tmp_path)
    gold = gold_case()
    publish_gold(cfg, gold)
    run_apply(cfg)
    first = run_materialize(cfg)
    assert first["feature_views"]["query_features"]["rows_in_window"] == 3
    newer = gold[GOLD_QUERY].iloc[[1]].copy()
    newer["event_timestamp"] = pd.Timestamp(D3 + timedelta(days=1), tz="UTC")
    newer["query_impressions"] = 99
    late = gold[GOLD_QUERY].iloc[[2]].copy()  # a query first seen in this batch, with an old timestamp
    late["query_id"], late["query_text"], late["query_impressions"] = query_id_of("birds"), "birds", 7
    rows = pd.concat([gold[GOLD_QUERY], newer, late]).to_dict("records")
    publish_gold(cfg, {GOLD_QUERY: gold_frame(GOLD_QUERY, rows)})
    with pytest.raises(RegistryError, match=r"profile 'local'.*stale.*gold/query_features registered"):
        run_materialize(cfg)
    run_apply(cfg)
    second = run_materialize(cfg)
    # from the late row's D1 (not the last run's end): the 3 old rows are rewritten, both new ones added
    assert second["feature_views"]["query_features"]["rows_in_window"] == 5
    assert second["feature_views"]["video_catalog"] == {"skipped": "up to date", "rows_in_window": 0}
    assert get_online_features(cfg, "cats", [VA]).loc[0, "query_impressions"] == 99
    assert get_online_features(cfg, "birds", [VA]).loc[0, "query_impressions"] == 7
    third = run_materialize(cfg)  # nothing new since: a true no-op
    assert third["feature_views"]["query_features"] == {"skipped": "up to date", "rows_in_window": 0}


def test_cli_runs_the_local_flow_and_writes_summaries(tmp_path, settings_at, gold_case):
    from pipelines.cli import build_app
    from tests.support.feature_data import publish_gold

    cfg = settings_at(tmp_path / "home")
    publish_gold(cfg, gold_case())
    env = {"RANKOPS_HOME": str(cfg.home), "RANKOPS_ENV": "local"}
    app, runner = build_app(), CliRunner()
    res = runner.invoke(app, ["features", "apply", "--summary", str(tmp_path / "apply.json")], env=env)
    assert res.exit_code == 0, res.output
    applied = json.loads((tmp_path / "apply.json").read_text())
    assert applied["feature_services"] == ["ctr_baseline_v1", "ranker_v1"]
    assert applied["feature_views"] == ["query_features", "query_video_features", "video_catalog", "video_engagement"]
    assert (cfg.home / "feast" / "feature_store.yaml").exists()
    res = runner.invoke(app, ["features", "materialize", "--full", "--summary", str(tmp_path / "mat.json")], env=env)
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "mat.json").read_text())["mode"] == "full"
    res = runner.invoke(app, ["features", "training-set", "--service", "ranker_v1", "--out", str(tmp_path / "ts.parquet"),
                              "--summary", str(tmp_path / "ts.json")], env=env)
    assert res.exit_code == 0, res.output
    ts = json.loads((tmp_path / "ts.json").read_text())
    assert ts["rows"] == 6 and ts["snapshot"].startswith("features/training_set_ranker_v1@")
    assert len(pd.read_parquet(tmp_path / "ts.parquet")) == 6
    res = runner.invoke(app, ["features", "status", "--check"], env=env)
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["features", "online", "--query", "cats", "--video-id", VA], env=env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["qv_impressions"] == 20
    res = runner.invoke(app, ["features", "training-set", "--service", "ranker_v9"], env=env)
    assert res.exit_code == 1 and "feature service 'ranker_v9' is not registered" in res.output


@pytest.mark.parametrize(("old", "new", "message"), [
    ('numeric("qv_mean_dwell_ms"', 'numeric("qv_mean_dwel_ms"',
     r"feature view 'query_video_features': column\(s\) qv_mean_dwel_ms not in gold/query_video_features@"),
    ('numeric("qv_clicks"', 'numeric("qv_klicks"',  # ctr_baseline_v1 still selects qv_clicks
     r"feature repository .*/repo: ValueError: Feature qv_clicks does not exist in this feature view"),
])
def test_definition_error_fails_apply_and_leaves_the_registry_untouched(tmp_path, settings_at, gold_case, old, new,
                                                                       message):
    import shutil

    from components.features.apply import run_apply
    from components.features.definitions import DefinitionError
    from components.features.store_config import repo_dir
    from tests.support.feature_data import publish_gold

    repo = tmp_path / "repo"
    shutil.copytree(repo_dir(settings_at(tmp_path)), repo, ignore=shutil.ignore_patterns("__pycache__"))
    views = repo / "ranking" / "views.py"
    views.write_text(views.read_text().replace(old, new))
    cfg = settings_at(tmp_path / "home", features__repo_path=str(repo))
    publish_gold(cfg, gold_case())
    with pytest.raises(DefinitionError, match=message):
        run_apply(cfg)
    assert not (cfg.home / "feast" / "registry.db").exists()


def test_unreachable_sql_registry_is_a_clear_error_naming_the_profile(tmp_path, settings_at):
    from components.common.net import free_port
    from components.features.feast_registry import RegistryError, ensure_registry

    port = free_port()  # a port nobody listens on
    cfg = settings_at(tmp_path, "dev", features__registry_path=f"postgresql+psycopg://u:secret@127.0.0.1:{port}/feast",
                      storage__lakehouse="lakehouse")
    with pytest.raises(RegistryError, match=rf"profile 'dev': cannot read the feature registry at 127.0.0.1:{port}/feast") as err:
        ensure_registry(cfg)
    assert "secret" not in str(err.value)
