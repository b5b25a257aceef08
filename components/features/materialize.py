"""`rankops features materialize`: load the registered gold snapshots into the online store.

The window is data-driven: it ends just after the newest event_timestamp of the view's gold
snapshot (not "now", so late-processed days are never skipped) and, incrementally, starts where
the previous materialisation of that view ended -- or earlier, at the oldest row the new gold
snapshot has and the last materialised one had not (a video first catalogued with an old
publication timestamp, a late-arriving day, a row whose values late events changed: rows are
compared whole, on the view's keys, timestamp and features). `--full` reloads each view from
its oldest row.
The snapshot materialised last per view is kept in `<lakehouse>/features/_online_state/`.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.common.snapshots import SnapshotNotFound, SnapshotStore
from components.features.definitions import GOLD_TABLE_TAG, SNAPSHOT_TAG
from components.features.feast_registry import ensure_registry
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


def state_path(settings: Settings) -> Path:
    """Which gold snapshot each view's online rows came from (shared by every pod, like the lakehouse)."""
    return Path(settings.lakehouse) / "features" / "_online_state" / f"{settings.features.project}.json"


def read_state(settings: Settings) -> dict[str, Any]:
    path = state_path(settings)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def write_state(settings: Settings, state: dict[str, Any]) -> None:
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def row_hashes(frame: Any) -> Any:
    """A 64-bit hash of each whole row of a pandas frame (values only, the index ignored)."""
    import pandas as pd

    return pd.util.hash_pandas_object(frame, index=False)


def oldest_new_row(previous_path: str, current_path: str, keys: list[str], ts: str,
                   values: list[str] | tuple[str, ...] = ()) -> datetime | None:
    """The oldest timestamp among rows of `current_path` absent from `previous_path`, rows compared
    whole: on `keys`, `ts` and the `values` columns (a view's features). Gold is recomputed from all
    silver, so a late event may change the values of a (keys, timestamp) row already online: that
    row is new as well. A column the previous snapshot lacks makes every row new."""
    import pyarrow.dataset as ds

    cols = list(dict.fromkeys([*keys, ts, *values]))
    cur = ds.dataset(current_path, format="parquet").to_table(columns=cols).to_pandas()
    previous = ds.dataset(previous_path, format="parquet")
    if set(cols) - set(previous.schema.names):
        new = cur[ts]
    else:
        prev = previous.to_table(columns=cols).to_pandas()
        new = cur.loc[~row_hashes(cur).isin(row_hashes(prev)).to_numpy(), ts]
    if new.empty:
        return None
    oldest = new.min().to_pydatetime()
    return oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)


def incremental_start(settings: Settings, fv: Any, previous: dict[str, Any] | None) -> datetime | None:
    """Where an incremental run of `fv` starts: its last end, moved back to rows new in this snapshot."""
    last_end = fv.most_recent_end_time
    if last_end is None or previous is None:
        return None  # never materialised, or from an unknown snapshot: from the oldest row
    last_end = last_end if last_end.tzinfo else last_end.replace(tzinfo=UTC)
    tags = fv.batch_source.tags or {}
    if previous.get("snapshot_id") == tags.get(SNAPSHOT_TAG):
        return last_end
    try:
        prev = SnapshotStore(settings.lakehouse).get(tags[GOLD_TABLE_TAG], previous["snapshot_id"])
    except (SnapshotNotFound, KeyError):
        return None
    keys = [c.name for c in fv.entity_columns]
    values = [f.name for f in fv.features]
    if fv.batch_source.created_timestamp_column:
        values.append(fv.batch_source.created_timestamp_column)
    oldest = oldest_new_row(prev.data_path, fv.batch_source.path, keys, fv.batch_source.timestamp_field, values)
    return min(last_end, oldest) if oldest else last_end


def run_materialize(settings: Settings, *, incremental: bool = True) -> dict[str, Any]:
    """Materialise every online feature view; return per-view windows and row counts."""
    import pyarrow.compute as pc

    store = open_store(settings)
    status = ensure_registry(settings, store)
    views: dict[str, Any] = {}
    state = read_state(settings)
    for fv in sorted(store.list_feature_views(), key=lambda v: v.name):
        if not fv.online:
            continue
        lo, hi, col = timestamp_range(fv.batch_source.path, fv.batch_source.timestamp_field)
        start_from = incremental_start(settings, fv, state.get(fv.name)) if incremental else None
        window = plan_window(start_from, lo, hi, incremental)
        if window is None:
            views[fv.name] = {"skipped": "up to date", "rows_in_window": 0}
            if fv.name in state:  # same rows online, now known to come from this snapshot
                state[fv.name]["snapshot_id"] = (fv.batch_source.tags or {}).get(SNAPSHOT_TAG)
                write_state(settings, state)
            continue
        start, end = window
        rows = int(pc.sum(pc.and_(pc.greater_equal(col, start), pc.less(col, end))).as_py() or 0)
        store.materialize(start_date=start, end_date=end, feature_views=[fv.name])
        views[fv.name] = {"start": start.isoformat(), "end": end.isoformat(), "rows_in_window": rows}
        state[fv.name] = {"snapshot_id": (fv.batch_source.tags or {}).get(SNAPSHOT_TAG), "end": end.isoformat()}
        write_state(settings, state)
    return {"profile": settings.env, "mode": "incremental" if incremental else "full",
            "gold_snapshots": status["registered"], "feature_views": views}
