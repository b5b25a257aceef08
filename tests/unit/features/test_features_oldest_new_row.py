"""materialize.oldest_new_row compares whole rows: a (key, timestamp) row whose values changed is new."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from components.features.materialize import oldest_new_row

T1, T2, T3 = (datetime(2026, 3, d, 23, 59, 59, tzinfo=UTC) for d in (1, 2, 3))
ROWS = {"k": ["a", "a", "b"], "event_timestamp": [T1, T3, T2], "x": [1.0, float("nan"), 3.0], "n": [1, 2, 3]}


def _write(path, **changes):
    path.mkdir()
    pq.write_table(pa.table({**ROWS, **changes}), path / "part-0.parquet")
    return str(path)


def test_unchanged_rows_are_not_new_nan_included(tmp_path):
    prev, cur = _write(tmp_path / "p"), _write(tmp_path / "c")
    assert oldest_new_row(prev, cur, ["k"], "event_timestamp", ["x", "n"]) is None


def test_a_changed_value_makes_its_row_new_from_its_timestamp(tmp_path):
    prev = _write(tmp_path / "p")
    cur = _write(tmp_path / "c", n=[1, 2, 4])  # b's T2 row: same key and timestamp, another value
    assert oldest_new_row(prev, cur, ["k"], "event_timestamp", ["x", "n"]) == T2
    assert oldest_new_row(prev, cur, ["k"], "event_timestamp", ["x"]) is None  # n is no feature of this view
    cur2 = _write(tmp_path / "c2", x=[1.5, float("nan"), 3.0])
    assert oldest_new_row(prev, cur2, ["k"], "event_timestamp", ["x", "n"]) == T1


def test_a_new_key_and_a_column_the_previous_snapshot_lacks(tmp_path):
    prev = _write(tmp_path / "p")
    cur = _write(tmp_path / "c", k=["a", "a", "c"])
    assert oldest_new_row(prev, cur, ["k"], "event_timestamp") == T2
    wider = tmp_path / "w"
    wider.mkdir()
    pq.write_table(pa.table({**ROWS, "y": [0, 0, 0]}), wider / "part-0.parquet")
    assert oldest_new_row(prev, str(wider), ["k"], "event_timestamp", ["x", "y"]) == T1  # all rows new
