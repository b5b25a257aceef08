"""The direct SQLite reader answers exactly as the Feast SDK on a real applied, materialised store."""

from __future__ import annotations

import pandas as pd
import pytest

from components.etl.normalize import query_id_of, video_id_of

pytestmark = pytest.mark.slow

CATS = query_id_of("cats")
VA, VB, VC = (video_id_of(f"https://videos.example/{n}") for n in ("a", "b", "c"))


@pytest.fixture(scope="module")
def direct(applied_local, settings_at):
    return settings_at(applied_local.home, features__online_reader="sqlite_direct")


@pytest.fixture(scope="module")
def sdk(applied_local, settings_at):
    return settings_at(applied_local.home, features__online_reader="sdk")


@pytest.mark.parametrize("query, ids", [("cats", [VB, VA]), ("  Dogs", [VB, VC, VA, VB]), ("never searched", [VC]),
                                        ("cats", [])])
def test_direct_frame_equals_the_sdk_frame(sdk, direct, query, ids):
    from components.features.online import get_online_features

    assert (direct.features.online_reader, sdk.features.online_reader) == ("sqlite_direct", "sdk")
    pd.testing.assert_frame_equal(get_online_features(direct, query, ids), get_online_features(sdk, query, ids))


def test_direct_values_are_the_newest_materialised_rows(direct):
    from components.features.online import get_online_features

    row = get_online_features(direct, "cats", [VA]).iloc[0]
    # conftest.gold_case: the D3 rows of cats, a and (cats, a)
    assert (row["title"], row["video_age_days"], row["query_impressions"], row["qv_impressions"], row["qv_ctr"]) == (
        "a title", 12.0, 30, 20, 0.25)
    assert get_online_features(direct, "cats", [VC]).iloc[0]["title"] == ""  # unknown video: the text default


def test_direct_reader_needs_a_sqlite_store(applied_local, settings_at):
    from components.features.online import online_context

    cfg = settings_at(applied_local.home, features__online_reader="sqlite_direct", features__online_store_type="redis",
                      features__online_store_path="127.0.0.1:1")
    with pytest.raises(ValueError, match="sqlite_direct needs a sqlite online store"):
        online_context(cfg, "ranker_v1")
