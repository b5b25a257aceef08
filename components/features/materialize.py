"""`rankops features materialize`: load the registered gold snapshots into the online store.

The window is data-driven: it ends just after the newest event_timestamp of the view's gold
snapshot (not "now", so late-processed days are never skipped) and, incrementally, starts where
the previous materialisation of that view ended. `--full` reloads each view from its oldest row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from components.features.registry import ensure_registry
from components.features.store_config import open_store

if TYPE_CHECKING:
    from components.common.config import Settings

TICK = timedelta(microseconds=1)


def timestamp_range(data_path: str, column: str = "event_timestamp") -> tuple[datetime | None, datetime | None, Any]:
    """(min, max, column array) of a Parquet directory's timestamp column, in UTC."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    col = ds.dataset(data_path, format="parquet").to_table(columns=[column]).column(column)
    if len(col) == 0:
        return None, None, col
    mm = pc.min_max(col)
    lo, hi = mm["min"].as_py(), mm["max"].as_py()
    return (lo if lo.tzinfo else lo.replace(tzinfo=UTC)), (hi if hi.tzinfo else hi.replace(tzinfo=UTC)), col


def plan_window(last_end: datetime | None, lo: datetime | None, hi: datetime | None,
                incremental: bool) -> tuple[datetime, datetime] | None:
    """[start, end) to materialise, or None when there is nothing new. Pure, so it is unit-tested."""
    if lo is None or hi is None:
        return None
    end = hi + TICK
    start = last_end if (incremental and last_end is not None) else lo
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return (start, end) if start < end else None


def run_materialize(settings: Settings, *, incremental: bool = True) -> dict[str, Any]:
    """Materialise every online feature view; return per-view windows and row counts."""
    import pyarrow.compute as pc

    store = open_store(settings)
    status = ensure_registry(settings, store)
    views: dict[str, Any] = {}
    for fv in sorted(store.list_feature_views(), key=lambda v: v.name):
        if not fv.online:
            continue
        lo, hi, col = timestamp_range(fv.batch_source.path, fv.batch_source.timestamp_field)
        window = plan_window(fv.most_recent_end_time, lo, hi, incremental)
        if window is None:
            views[fv.name] = {"skipped": "up to date", "rows_in_window": 0}
            continue
        start, end = window
        rows = int(pc.sum(pc.and_(pc.greater_equal(col, start), pc.less(col, end))).as_py() or 0)
        store.materialize(start_date=start, end_date=end, feature_views=[fv.name])
        views[fv.name] = {"start": start.isoformat(), "end": end.isoformat(), "rows_in_window": rows}
    return {"profile": settings.env, "mode": "incremental" if incremental else "full",
            "gold_snapshots": status["registered"], "feature_views": views}
