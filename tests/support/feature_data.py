"""Synthetic gold tables with the exact GOLD_SCHEMAS dtypes, for tests and benchmarks.

The real gold tables come from the ETL; this lets the feature stage be exercised (and timed)
on any number of entities without Spark.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from components.common.contract import GOLD_LABELS, GOLD_QUERY, GOLD_QUERY_VIDEO, GOLD_SCHEMAS, GOLD_VIDEO

if TYPE_CHECKING:
    import pandas as pd

    from components.common.config import Settings
    from components.common.snapshots import Snapshot

PANDAS_DTYPES = {"string": "object", "timestamp": "datetime64[us, UTC]", "int": "int32", "bigint": "int64",
                 "double": "float64"}


def gold_frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """A pandas frame of `table` with exactly the contract's columns, in order, and dtypes."""
    import pandas as pd

    schema = GOLD_SCHEMAS[table]
    extra = sorted({k for r in rows for k in r} - set(schema))
    if extra:
        raise ValueError(f"{table}: columns {extra} are not in GOLD_SCHEMAS")
    df = pd.DataFrame(rows, columns=list(schema))
    for col, sql_type in schema.items():
        if sql_type == "timestamp":
            df[col] = pd.to_datetime(df[col], utc=True).astype(PANDAS_DTYPES[sql_type])
        else:
            df[col] = df[col].astype(PANDAS_DTYPES[sql_type])
    return df


def publish_gold(settings: Settings, frames: dict[str, pd.DataFrame]) -> dict[str, Snapshot]:
    """Write and publish each frame as the latest snapshot of its gold table."""
    from components.common.snapshots import SnapshotStore

    store = SnapshotStore(settings.lakehouse)
    return {table: store.write(table, df, publish=True) for table, df in frames.items()}


def make_gold(n_queries: int = 20, n_videos: int = 50, per_query: int = 5, days: int = 2,
              start: datetime = datetime(2026, 1, 1)) -> dict[str, pd.DataFrame]:
    """Deterministic gold tables: daily rows for every entity, labels one hour after the first day."""
    import numpy as np

    from components.etl.normalize import query_id_of, video_id_of

    rng = np.random.default_rng(7)
    day_ends = [start + timedelta(days=d + 1) - timedelta(microseconds=1) for d in range(days)]
    queries = [query_id_of(f"query {i}") for i in range(n_queries)]
    videos = [video_id_of(f"https://example.com/v/{j}") for j in range(n_videos)]
    q_rows, v_rows, qv_rows, l_rows = [], [], [], []
    for d, ts in enumerate(day_ends):
        for i, q in enumerate(queries):
            imp = 10 * (d + 1) + i
            q_rows.append(dict(query_id=q, event_timestamp=ts, query_text=f"query {i}", query_num_tokens=2,
                               query_impressions=imp, query_clicks=imp // 3, query_ctr=(imp // 3) / imp,
                               query_sessions=imp // 2))
        for j, v in enumerate(videos):
            imp = 5 * (d + 1) + j
            v_rows.append(dict(video_id=v, event_timestamp=ts, canonical_url=f"example.com/v/{j}",
                               title=f"title {j}", description=f"about video {j}", channel=f"ch{j % 7}",
                               duration_s=60.0 + j, video_age_days=float(30 + d), tag_count=j % 5,
                               video_impressions=imp, video_clicks=imp // 4, video_ctr=(imp // 4) / imp))
        for i, q in enumerate(queries):
            for k in range(per_query):
                v = videos[(i * per_query + k) % n_videos]
                imp = int(rng.integers(1, 20)) + d
                clicks = int(rng.integers(0, imp + 1))
                qv_rows.append(dict(query_id=q, video_id=v, event_timestamp=ts, qv_impressions=imp, qv_clicks=clicks,
                                    qv_ctr=clicks / imp, qv_mean_position=float(k + 1),
                                    qv_mean_dwell_ms=1000.0 * (k + 1), qv_debiased_ctr=clicks / imp * (k + 1) / 2))
    for i, q in enumerate(queries):
        for k in range(per_query):
            v = videos[(i * per_query + k) % n_videos]
            l_rows.append(dict(query_id=q, video_id=v, event_timestamp=day_ends[0] + timedelta(hours=1),
                               query_text=f"query {i}", label=(i + k) % 4,
                               split=("train", "validation", "test")[i % 3]))
    return {GOLD_QUERY: gold_frame(GOLD_QUERY, q_rows), GOLD_VIDEO: gold_frame(GOLD_VIDEO, v_rows),
            GOLD_QUERY_VIDEO: gold_frame(GOLD_QUERY_VIDEO, qv_rows), GOLD_LABELS: gold_frame(GOLD_LABELS, l_rows)}
