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


def test_files_written_outside_spark_make_the_same_snapshot_as_spark_writes(tmp_path: Path, spark) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    store = SnapshotStore(tmp_path)
    df = spark.createDataFrame([(1, "a", ["x"]), (2, "b", []), (3, None, None)], "id int, s string, l array<string>")
    by_spark = store.write("silver/x", df)

    def fill(folder: str) -> None:  # two files, rows in another order
        pq.write_table(pa.table({"id": pa.array([3], pa.int32()), "s": pa.array([None], pa.string()),
                                 "l": pa.array([None], pa.list_(pa.string()))}), f"{folder}/part-0.parquet")
        pq.write_table(pa.table({"id": pa.array([2, 1], pa.int32()), "s": ["b", "a"], "l": [[], ["x"]]}),
                       f"{folder}/part-1.parquet")

    by_files = store.write_files("silver/x", spark, fill, df.schema, extra={"k": 1})
    assert by_files.snapshot_id == by_spark.snapshot_id and by_files.row_count == 3
    changed = store.write_files("silver/x", spark, lambda folder: fill(folder) or Path(f"{folder}/part-0.parquet").unlink(),
                                df.schema)
    assert changed.snapshot_id != by_spark.snapshot_id and changed.row_count == 2

    def broken(folder: str) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError):
        store.write_files("silver/y", spark, broken, df.schema)
    assert store.list("silver/y") == [] and not any((tmp_path / "silver/y/snapshots").iterdir())


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
