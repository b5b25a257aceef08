import json
from pathlib import Path

import pandas as pd
import pytest

from components.common.snapshots import SnapshotNotFound, SnapshotStore


def test_pandas_snapshot_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})
    first = store.write("gold/t", df, parents={"silver/s": "abc"}, extra={"k": 1})
    again = store.write("gold/t", df.iloc[::-1])  # same rows, other order
    assert again.snapshot_id == first.snapshot_id
    assert len(store.list("gold/t")) == 1
    assert first.manifest["row_count"] == 3
    assert first.manifest["parents"] == {"silver/s": "abc"}
    assert [c["name"] for c in first.manifest["schema"]] == ["a", "b"]
    pd.testing.assert_frame_equal(SnapshotStore.read_pandas(first), df)


def test_changed_content_gets_new_id_and_latest_moves_only_on_publish(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    one = store.write("gold/t", pd.DataFrame({"a": [1]}), publish=True)
    two = store.write("gold/t", pd.DataFrame({"a": [2]}))
    assert one.snapshot_id != two.snapshot_id
    assert store.latest("gold/t").snapshot_id == one.snapshot_id
    store.publish("gold/t", two.snapshot_id)
    assert store.latest("gold/t").snapshot_id == two.snapshot_id
    assert store.resolve(f"gold/t@{one.snapshot_id}").row_count == 1
    assert store.tables() == ["gold/t"]


def test_missing_table_error_names_table_and_root(tmp_path: Path) -> None:
    with pytest.raises(SnapshotNotFound, match=r"table 'gold/nope' has no published snapshot under .*"):
        SnapshotStore(tmp_path).latest("gold/nope")


def test_failed_write_leaves_no_snapshot(tmp_path: Path) -> None:
    class Boom(pd.DataFrame):
        def to_parquet(self, *a, **k):  # noqa: ANN002, ANN003
            raise OSError("disk full")

    store = SnapshotStore(tmp_path)
    with pytest.raises(OSError):
        store.write("gold/t", Boom({"a": [1]}))
    assert store.list("gold/t") == []


def test_spark_snapshot_hash_ignores_partitioning(tmp_path: Path, spark) -> None:
    store = SnapshotStore(tmp_path)
    df = spark.createDataFrame([(1, "a"), (2, "b"), (3, None)], "id int, s string")
    one = store.write("silver/x", df.repartition(1), publish=True)
    two = store.write("silver/x", df.repartition(3))
    assert one.snapshot_id == two.snapshot_id
    assert json.loads((Path(one.path) / "manifest.json").read_text())["schema"] == [
        {"name": "id", "type": "int"},
        {"name": "s", "type": "string"},
    ]
    assert sorted(r.id for r in SnapshotStore.read_spark(spark, one).collect()) == [1, 2, 3]


@pytest.mark.parametrize(
    ("table", "command"),
    [
        ("features/training_set_ranker_v1", "rankops features training-set --service ranker_v1"),
        ("gold/labels", "rankops etl run --input DIR"),
        ("inference/scored", "rankops score"),
    ],
)
def test_missing_table_names_the_command_that_publishes_it(tmp_path: Path, table: str, command: str) -> None:
    with pytest.raises(SnapshotNotFound) as err:
        SnapshotStore(tmp_path).latest(table)
    assert f"(run `{command}` first?)" in str(err.value)
