"""Incremental materialisation after late events changed the VALUES of rows already online.

Gold is cumulative (recomputed from all silver), so a late event rewrites an existing (key,
event_timestamp) row in place. Comparing only keys and timestamps found nothing new and the
online store kept the stale value the training sets no longer see; whole rows are compared."""

from __future__ import annotations

import pytest

from components.common.contract import GOLD_QUERY
from components.etl.normalize import query_id_of

pytestmark = pytest.mark.slow

CATS, DOGS = query_id_of("cats"), query_id_of("dogs")  # the ids of conftest.gold_case


def test_a_changed_value_under_an_existing_key_and_timestamp_reaches_the_online_store(tmp_path, settings_at, gold_case):
    from components.features.apply import run_apply
    from components.features.materialize import run_materialize
    from components.features.online import get_online_features
    from tests.support.feature_data import publish_gold

    cfg = settings_at(tmp_path)
    gold = gold_case()
    publish_gold(cfg, gold)
    run_apply(cfg)
    run_materialize(cfg)
    assert get_online_features(cfg, "dogs", ["v"]).loc[0, "query_impressions"] == 5
    assert get_online_features(cfg, "cats", ["v"]).loc[0, "query_impressions"] == 30

    q = gold[GOLD_QUERY].copy()  # same rows, keys and timestamps; two values rewritten by late events
    q.loc[q["query_id"] == DOGS, "query_impressions"] = 6  # an older row (before the last run's end)
    newest = q["event_timestamp"] == q["event_timestamp"].max()
    q.loc[(q["query_id"] == CATS) & newest, "query_ctr"] = 0.25  # the newest row (the last run's end)
    publish_gold(cfg, {GOLD_QUERY: q})
    run_apply(cfg)
    second = run_materialize(cfg)

    assert second["feature_views"]["query_features"]["rows_in_window"] == 3  # from the dogs row's D1
    assert get_online_features(cfg, "dogs", ["v"]).loc[0, "query_impressions"] == 6
    assert get_online_features(cfg, "cats", ["v"]).loc[0, "query_ctr"] == 0.25
    assert second["feature_views"]["video_catalog"] == {"skipped": "up to date", "rows_in_window": 0}
    third = run_materialize(cfg)  # nothing changed since: still a no-op
    assert third["feature_views"]["query_features"] == {"skipped": "up to date", "rows_in_window": 0}
