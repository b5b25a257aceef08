"""Gold transforms on tiny silver frames: exact values, exact contract schemas."""

from datetime import datetime

import pytest

from components.common.contract import GOLD_LABELS, GOLD_QUERY, GOLD_QUERY_VIDEO, GOLD_SCHEMAS, GOLD_VIDEO
from components.etl import gold as G

END1, END2 = datetime(2026, 1, 1, 23, 59, 59, 999999), datetime(2026, 1, 2, 23, 59, 59, 999999)
SL_SCHEMA = ("query_id string, query_norm string, session_id string, video_id string, ts timestamp, "
             "clicked boolean, position int, dwell_ms long")
SEARCH_LOG = [
    ("qa", "rock music", "s1", "va", datetime(2026, 1, 1, 10), True, 1, 1000),
    ("qa", "rock music", "s1", "vb", datetime(2026, 1, 1, 10), False, 2, None),
    ("qa", "rock music", "s2", "va", datetime(2026, 1, 1, 12), False, 2, None),
    ("qa", "rock music", "s1", "va", datetime(2026, 1, 2, 9), True, 1, 3000),
    ("qb", "jazz", "s3", "vb", datetime(2026, 1, 2, 9), True, 4, 2000),
]
VIDEOS = [  # va has two catalogue versions: the later batch wins; vc is never shown
    ("b1", "f", 1, "va", "vidhub.example/v/a", "Old", "d", "c", 60.0, datetime(2025, 12, 31), ["x"]),
    ("b2", "f", 1, "va", "vidhub.example/v/a", "New", "d2", "c", 60.0, datetime(2025, 12, 31), ["x", "y"]),
    ("b1", "f", 2, "vc", "vidhub.example/v/c", "Unseen", "d", "c", 30.0, datetime(2025, 12, 1), []),
]
JUDGEMENTS = [
    ("b1", "f", 2, "qa", "rock music", "va", 0, "ann1", datetime(2026, 1, 1)),  # superseded by ann1's later label
    ("b2", "f", 2, "qa", "rock music", "va", 3, "ann1", datetime(2026, 1, 2, 10)),
    ("b2", "f", 3, "qa", "rock music", "va", 2, "ann2", datetime(2026, 1, 3)),
    ("b2", "f", 4, "qb", "jazz", "vb", 1, "ann1", datetime(2026, 1, 2)),
]


@pytest.fixture(scope="module")
def silver(spark):
    return {
        "search_log": spark.createDataFrame(SEARCH_LOG, SL_SCHEMA),
        "videos": spark.createDataFrame(VIDEOS, "batch_id string, source_file string, line_number long, video_id string, "
                                        "canonical_url string, title string, description string, channel string, "
                                        "duration_s double, published_at timestamp, tags array<string>"),
        "judgements": spark.createDataFrame(JUDGEMENTS, "batch_id string, source_file string, line_number long, "
                                            "query_id string, query_norm string, video_id string, label int, "
                                            "annotator string, ts timestamp"),
    }


def _rows(df, *order):
    return [tuple(r) for r in df.orderBy(*order).collect()]


def _schema(df):
    return {f.name: f.dataType.simpleString() for f in df.schema.fields}


def test_query_features_are_cumulative_per_active_day(silver):
    df = G.to_gold_query(silver["search_log"])
    assert _schema(df) == GOLD_SCHEMAS[GOLD_QUERY]
    assert _rows(df, "query_id", "event_timestamp") == [
        ("qa", END1, "rock music", 2, 3, 1, pytest.approx(1 / 3), 2),
        ("qa", END2, "rock music", 2, 4, 2, 0.5, 2),
        ("qb", END2, "jazz", 1, 1, 1, 1.0, 1),
    ]


def test_query_video_features_with_debiased_ctr(silver):
    df = G.to_gold_query_video(silver["search_log"], eta=1.0)
    assert _schema(df) == GOLD_SCHEMAS[GOLD_QUERY_VIDEO]
    assert _rows(df, "query_id", "video_id", "event_timestamp") == [
        ("qa", "va", END1, 2, 1, 0.5, 1.5, 1000.0, pytest.approx(1 / 1.5)),
        ("qa", "va", END2, 3, 2, pytest.approx(2 / 3), pytest.approx(4 / 3), 2000.0, pytest.approx(2 / 2.5)),
        ("qa", "vb", END1, 1, 0, 0.0, 2.0, 0.0, 0.0),
        ("qb", "vb", END2, 1, 1, 1.0, 4.0, 2000.0, 4.0),
    ]


def test_video_features_cover_every_catalogue_video(silver):
    df = G.to_gold_video(silver["search_log"], silver["videos"])
    assert _schema(df) == GOLD_SCHEMAS[GOLD_VIDEO]
    day = 86_400_000_000
    assert _rows(df, "video_id", "event_timestamp") == [
        ("va", datetime(2025, 12, 31), "vidhub.example/v/a", "New", "d2", "c", 60.0, 0.0, 2, 0, 0, 0.0),
        ("va", END1, "vidhub.example/v/a", "New", "d2", "c", 60.0, pytest.approx((2 * day - 1) / day), 2, 2, 1, 0.5),
        ("va", END2, "vidhub.example/v/a", "New", "d2", "c", 60.0, pytest.approx((3 * day - 1) / day), 2, 3, 2,
         pytest.approx(2 / 3)),
        ("vc", datetime(2025, 12, 1), "vidhub.example/v/c", "Unseen", "d", "c", 30.0, 0.0, 0, 0, 0, 0.0),
    ]  # vb is shown but not in the catalogue: no text, no row


def test_labels_take_each_annotators_latest_then_round_half_up(silver):
    df = G.to_gold_labels(silver["judgements"])
    assert _schema(df) == GOLD_SCHEMAS[GOLD_LABELS]
    assert _rows(df, "query_id") == [
        ("qa", "va", datetime(2026, 1, 3), "rock music", 3, G.split_of("qa")),
        ("qb", "vb", datetime(2026, 1, 2), "jazz", 1, G.split_of("qb")),
    ]


def test_split_is_a_stable_hash_of_the_query_id(spark):
    ids = [f"{i:016x}" for i in range(300)]
    from pyspark.sql import functions as F

    rows = spark.createDataFrame([(i,) for i in ids], "query_id string").select(
        "query_id", G.split_col(F.col("query_id")).alias("split")).collect()
    got = {r.query_id: r.split for r in rows}
    assert got == {i: G.split_of(i) for i in ids}
    shares = {s: sum(v == s for v in got.values()) for s in ("train", "validation", "test")}
    assert shares == {"train": 247, "validation": 32, "test": 21}  # ~80/10/10
