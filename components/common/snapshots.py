"""Versioned, content-addressed table snapshots in the lakehouse.

Layout under the lakehouse root, for a table such as ``silver/search_log``::

    silver/search_log/snapshots/<snapshot_id>/data/*.parquet
    silver/search_log/snapshots/<snapshot_id>/manifest.json
    silver/search_log/_latest.json          # moved only by publish()

The snapshot id is a prefix of the content hash (schema + rows, order-independent),
so writing the same content twice is a no-op and returns the existing snapshot.
Earlier snapshots are never modified; a failed write leaves only a temp dir behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.common.gitinfo import git_info

if TYPE_CHECKING:  # heavy imports stay out of module import time
    import pandas as pd
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql import SparkSession

ID_LENGTH = 16


def producer_of(table: str) -> str:
    """The command that publishes `table`, for the hint of a missing-snapshot error."""
    layer, _, name = table.partition("/")
    if layer == "features" and name.startswith("training_set_"):
        return f"rankops features training-set --service {name.removeprefix('training_set_')}"
    if layer == "inference":
        return "rankops score"
    return "rankops etl run --input DIR"


class SnapshotNotFound(LookupError):
    """A table or snapshot that does not exist (the message names which and where)."""


@dataclass(frozen=True)
class Snapshot:
    """A written snapshot: where its data lies and what its manifest says."""

    table: str
    snapshot_id: str
    path: str
    manifest: dict[str, Any]

    @property
    def data_path(self) -> str:
        return os.path.join(self.path, "data")

    @property
    def row_count(self) -> int:
        return int(self.manifest["row_count"])

    @property
    def ref(self) -> str:
        """``table@snapshot_id``, the form used in parents and summaries."""
        return f"{self.table}@{self.snapshot_id}"


def _is_spark(df: Any) -> bool:
    return type(df).__module__.startswith("pyspark.")


def _spark_fingerprint(df: SparkDataFrame) -> tuple[list[dict[str, str]], int, str]:
    from pyspark.sql import functions as F

    schema = [{"name": f.name, "type": f.dataType.simpleString()} for f in df.schema.fields]
    cols = [F.col(f"`{f.name}`") for f in df.schema.fields]
    hashed = df.select(F.xxhash64(*cols).alias("h") if cols else F.lit(0).cast("long").alias("h"))
    # The exact sum of the 64-bit row hashes as two long sums (high halves signed, low halves
    # unsigned), added in Python: a decimal(38,0) sum ran through BigDecimal, a third slower.
    # Exact below 2**31 rows a snapshot.
    row = hashed.agg(F.count(F.lit(1)).alias("n"), F.sum(F.shiftright("h", 32)).alias("hi"),
                     F.sum(F.col("h").bitwiseAND(0xFFFFFFFF)).alias("lo"), F.bit_xor("h").alias("x")).first()
    n = int(row["n"])
    total = (row["hi"] or 0) * 2**32 + (row["lo"] or 0)
    digest = f"{n}:{total}:{row['x'] or 0}"
    return schema, n, digest


def _pandas_fingerprint(df: pd.DataFrame) -> tuple[list[dict[str, str]], int, str]:
    import pandas as pd

    schema = [{"name": str(c), "type": str(t)} for c, t in df.dtypes.items()]
    if len(df):
        import numpy as np

        text = df.astype(object).where(df.notna(), None).astype(str)
        hashes = pd.util.hash_pandas_object(text, index=False).to_numpy(dtype=np.uint64)
        total = int(hashes.sum(dtype=np.uint64))  # wraps mod 2**64: deterministic, order-independent
        xor = int(np.bitwise_xor.reduce(hashes))
    else:
        total = xor = 0
    return schema, len(df), f"{len(df)}:{total}:{xor}"


def content_hash(df: Any) -> tuple[list[dict[str, str]], int, str]:
    """(schema, row count, sha256) of a Spark or pandas DataFrame, independent of row order."""
    schema, n, digest = _spark_fingerprint(df) if _is_spark(df) else _pandas_fingerprint(df)
    payload = json.dumps({"schema": schema, "rows": digest}, sort_keys=True).encode()
    return schema, n, hashlib.sha256(payload).hexdigest()


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, path)


class SnapshotStore:
    """Snapshots of every table under one lakehouse root (a local path or mounted volume)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def _table_dir(self, table: str) -> Path:
        if not table or table.startswith("/") or ".." in table.split("/"):
            raise ValueError(f"invalid table name {table!r}: use '<layer>/<name>'")
        return self.root / table

    def write(
        self,
        table: str,
        df: Any,
        *,
        parents: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        publish: bool = False,
        identity: str | None = None,
    ) -> Snapshot:
        """Write `df` as a snapshot of `table` (no-op if identical content exists); publish if asked.

        The data is written to a temp dir first and hashed from the written files, so an
        expensive Spark plan runs once (hashing first would compute it twice). `identity`: what
        besides the rows tells snapshots apart, for a table whose manifest `extra` records the run
        that made it (a manifest is written once per id, so equal rows would keep the first run's).
        """
        table_dir = self._table_dir(table) / "snapshots"
        tmp = table_dir / f".{uuid.uuid4().hex}.tmp"
        tmp.mkdir(parents=True)
        try:
            if _is_spark(df):
                df.write.mode("overwrite").parquet(str(tmp / "data"))
                schema, rows, digest = content_hash(df.sparkSession.read.parquet(str(tmp / "data")))
            else:
                schema, rows, digest = content_hash(df)
                (tmp / "data").mkdir()
                df.to_parquet(tmp / "data" / "part-00000.parquet", index=False)
            return self._commit(table, tmp, schema, rows, digest, parents, extra, publish, identity)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # gone after the rename; identical content: discarded

    def write_files(self, table: str, spark: SparkSession, fill: Callable[[str], None], schema: Any, *,
                    parents: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
                    publish: bool = False) -> Snapshot:
        """``write`` for data written outside Spark's writer: `fill(folder)` writes the snapshot's
        Parquet files (of Spark `schema`) into the folder. The content hash is read back by Spark
        as ``write``'s is, so the same rows and types give the same snapshot either way."""
        tmp = self._table_dir(table) / "snapshots" / f".{uuid.uuid4().hex}.tmp"
        (tmp / "data").mkdir(parents=True)
        try:
            fill(str(tmp / "data"))
            found, rows, digest = content_hash(spark.read.schema(schema).parquet(str(tmp / "data")))
            return self._commit(table, tmp, found, rows, digest, parents, extra, publish)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _commit(self, table: str, tmp: Path, schema: list[dict[str, str]], rows: int, digest: str,
                parents: dict[str, str] | None, extra: dict[str, Any] | None, publish: bool,
                identity: str | None = None) -> Snapshot:
        """The written temp dir becomes snapshot `digest` (unless that content exists) with its manifest."""
        keyed = digest if identity is None else hashlib.sha256(f"{digest}:{identity}".encode()).hexdigest()
        snapshot_id = keyed[:ID_LENGTH]
        final = tmp.parent / snapshot_id
        if not (final / "manifest.json").exists():
            git = git_info()
            manifest = {
                "table": table,
                "snapshot_id": snapshot_id,
                "content_hash": digest,
                "row_count": rows,
                "schema": schema,
                "parents": dict(sorted((parents or {}).items())),
                "git_sha": git.sha,
                "git_branch": git.branch,
                "git_dirty": git.dirty,
                "created_at": datetime.now(UTC).isoformat(),
                "format": "parquet",
                "extra": extra or {},
            }
            _write_json_atomic(tmp / "manifest.json", manifest)
            if final.exists():  # a half-written dir without manifest from a crashed run
                shutil.rmtree(final)
            os.replace(tmp, final)
        snap = self.get(table, snapshot_id)
        if publish:
            self.publish(table, snapshot_id)
        return snap

    def publish(self, table: str, snapshot_id: str) -> None:
        """Move the table's latest pointer to `snapshot_id` (atomic)."""
        self.get(table, snapshot_id)
        pointer = {"snapshot_id": snapshot_id, "published_at": datetime.now(UTC).isoformat()}
        _write_json_atomic(self._table_dir(table) / "_latest.json", pointer)

    def get(self, table: str, snapshot_id: str) -> Snapshot:
        path = self._table_dir(table) / "snapshots" / snapshot_id
        manifest_path = path / "manifest.json"
        if not manifest_path.exists():
            raise SnapshotNotFound(f"no snapshot {snapshot_id!r} of table {table!r} under {self.root}")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        return Snapshot(table=table, snapshot_id=snapshot_id, path=str(path), manifest=manifest)

    def latest(self, table: str) -> Snapshot:
        pointer = self._table_dir(table) / "_latest.json"
        if not pointer.exists():
            raise SnapshotNotFound(
                f"table {table!r} has no published snapshot under {self.root} (run `{producer_of(table)}` first?)"
            )
        return self.get(table, json.loads(pointer.read_text(encoding="utf-8"))["snapshot_id"])

    def resolve(self, ref: str) -> Snapshot:
        """A snapshot from ``table`` (latest) or ``table@snapshot_id``."""
        table, _, snapshot_id = ref.partition("@")
        return self.get(table, snapshot_id) if snapshot_id else self.latest(table)

    def tables(self) -> list[str]:
        """Every table with at least one snapshot, sorted."""
        if not self.root.exists():
            return []
        found = {str(p.parent.relative_to(self.root)) for p in self.root.glob("**/snapshots") if p.is_dir()}
        return sorted(found)

    def list(self, table: str) -> list[Snapshot]:
        """Snapshots of `table`, oldest first."""
        snap_dir = self._table_dir(table) / "snapshots"
        if not snap_dir.exists():
            return []
        snaps = [self.get(table, p.name) for p in snap_dir.iterdir() if (p / "manifest.json").exists()]
        return sorted(snaps, key=lambda s: s.manifest["created_at"])

    def latest_id(self, table: str) -> str | None:
        try:
            return self.latest(table).snapshot_id
        except SnapshotNotFound:
            return None

    @staticmethod
    def read_pandas(snapshot: Snapshot) -> pd.DataFrame:
        import pandas as pd

        return pd.read_parquet(snapshot.data_path)

    @staticmethod
    def read_spark(spark: SparkSession, snapshot: Snapshot) -> SparkDataFrame:
        return spark.read.parquet(snapshot.data_path)
