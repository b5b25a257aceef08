"""The line check run on the bronze files themselves: a Spark job whose tasks each read bronze
Parquet row groups with pyarrow, check their lines (``parse.LineChecker``, the one implementation
of the contract) and write the checked rows as Parquet into the run's staging folder.

Why not the Arrow UDF of ``silver.check_kind`` for a whole table: there the JVM handles every line
three more times (the scan into rows, the Arrow round trip to Python and back, the Parquet
writer), which costs about as much CPU as the check itself. Here the bytes go from Parquet to
Python and back to Parquet through Arrow's C++ only. The staging folder lies in the lakehouse,
on the volume every executor mounts, as every snapshot does. A part is written under a temporary
name of its own and renamed, so a retried (or speculative) task never leaves half a file.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.etl import parse
from components.etl.contracts import KindSpec

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

BATCH_LINES = 10_000  # lines per check_lines call (as Spark's Arrow batches)
PART_ROWS = 250_000  # checked rows per written row group


def bronze_units(data_path: str | os.PathLike[str]) -> list[tuple[str, int]]:
    """(file, row group) of every row group of a bronze table's Parquet files, in file order."""
    import pyarrow.parquet as pq

    files = sorted(str(p) for p in Path(data_path).glob("*.parquet"))
    return [(f, i) for f in files for i in range(pq.ParquetFile(f).num_row_groups)]


def _checked_batches(checker: parse.LineChecker, path: str, row_group: int) -> Iterator[pa.RecordBatch]:
    """The lineage columns and check_lines struct fields of each batch of one row group's data lines."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    csv = checker.spec.csv
    columns = [*parse.LINEAGE, "raw", *(["is_header"] if csv else [])]
    for batch in pq.ParquetFile(path).iter_batches(BATCH_LINES, row_groups=[row_group], columns=columns):
        if csv:
            batch = batch.filter(pc.invert(batch.column("is_header")))
        raws = batch.column("raw")
        checked = checker.check_lines(raws, batch.column("file_sha256")) if csv else checker.check_lines(raws)
        arrays = [batch.column(c) for c in parse.LINEAGE] + checked.flatten()
        yield pa.RecordBatch.from_arrays(arrays, names=[*parse.LINEAGE, *(f.name for f in checked.type)])


def check_units(units: Iterator[tuple[int, str, int]], spec: KindSpec, max_chars: int,
                headers: dict[str, list[str]], out_dir: str) -> Iterator[tuple[int, int, dict[str, int]]]:
    """The body of one task: check each (index, file, row group) and write it to
    `out_dir/part-<index>.parquet`; yields (index, rows written, rejected rows by reason)."""
    import gc

    import pyarrow as pa
    import pyarrow.parquet as pq

    checker = parse.LineChecker(spec, max_chars, headers)
    collecting = gc.isenabled()
    gc.disable()  # acyclic objects only (see silver.check_lines_udf)
    try:
        for index, path, row_group in units:
            final, tmp = _part_paths(out_dir, index)
            rows, pending, pending_rows, writer, reasons = 0, [], 0, None, Counter()
            try:
                for batch in _checked_batches(checker, path, row_group):
                    if not batch.num_rows:
                        continue
                    pending.append(batch)
                    rows += batch.num_rows
                    pending_rows += batch.num_rows
                    reasons.update(batch.column("reason").drop_null().to_pylist())
                    if pending_rows >= PART_ROWS:
                        writer = writer or pq.ParquetWriter(tmp, batch.schema)
                        writer.write_table(pa.Table.from_batches(pending))
                        pending, pending_rows = [], 0
                if pending:
                    writer = writer or pq.ParquetWriter(tmp, pending[0].schema)
                    writer.write_table(pa.Table.from_batches(pending))
            finally:
                if writer is not None:
                    writer.close()
            if writer is not None:  # a row group of CSV headers only writes nothing
                os.replace(tmp, final)
            yield index, rows, dict(reasons)
    finally:
        if collecting:
            gc.enable()


def _part_paths(out_dir: str, index: int) -> tuple[Path, Path]:
    """Part `index` of a folder and a temporary name of this attempt's own to write it under."""
    final = Path(out_dir) / f"part-{index:05d}.parquet"
    return final, final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")


def _run_tasks(spark: SparkSession, items: list[Any], body: Callable[[Iterator[Any]], Iterator[Any]]) -> list[Any]:
    """`body` over `items` in Spark tasks (up to four per core, never more than items); what they yield."""
    slices = min(len(items), max(1, spark.sparkContext.defaultParallelism) * 4)
    return spark.sparkContext.parallelize(items, slices).mapPartitions(body).collect()


def check_bronze_files(spark: SparkSession, data_path: str | os.PathLike[str], spec: KindSpec, max_chars: int,
                       headers: dict[str, list[str]], out_dir: str | os.PathLike[str]) -> tuple[int, dict[str, int]]:
    """Check every data line of a bronze table (its Parquet folder) into Parquet parts under
    `out_dir`, one Spark task per few row groups; the number of lines checked and of the rejected
    ones by reason (counted as they are written)."""
    units = [(i, path, rg) for i, (path, rg) in enumerate(bronze_units(data_path))]
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    if not units:
        return 0, {}
    out = str(out_dir)
    done = _run_tasks(spark, units, lambda part: check_units(part, spec, max_chars, headers, out))
    reasons: Counter[str] = Counter()
    for _, _, counted in done:
        reasons.update(counted)
    return sum(rows for _, rows, _ in done), dict(sorted(reasons.items()))


SILVER_KEY = ["file_sha256", "line_number"]  # unique per line


def select_silver(parts: Iterator[tuple[int, str]], duplicates_dir: str, columns: list[str],
                  out_dir: str) -> Iterator[tuple[int, int]]:
    """The body of one task of ``write_silver_files``: the silver rows of each (index, checked part)
    written to `out_dir/part-<index>.parquet`; yields (index, rows written)."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from components.etl.silver import OUTCOME

    files = sorted(str(p) for p in Path(duplicates_dir).glob("*.parquet"))
    dropped = ds.dataset(files, format="parquet").to_table(columns=SILVER_KEY, filter=pc.field(OUTCOME) != "silver")
    for index, path in parts:
        table = pq.read_table(path, columns=list(dict.fromkeys([*columns, *SILVER_KEY, "reason"])))
        keep = pc.is_null(table.column("reason"))
        if dropped.num_rows:  # (an empty dataset of no files has no columns to join on)
            keep = pc.and_(keep, pc.invert(_among(table, dropped)))
        table = table.filter(keep)  # one filter: each copies every column
        final, tmp = _part_paths(out_dir, index)
        pq.write_table(table.select(columns), tmp)  # an empty part too: the folder is never empty
        os.replace(tmp, final)
        yield index, table.num_rows


def _among(table: pa.Table, keys: pa.Table) -> pa.Array:
    """Whether each row's SILVER_KEY is among `keys`' (an Acero join takes no list column along)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = pa.array(range(table.num_rows), pa.int64())
    probe = pa.table([*(table.column(k) for k in SILVER_KEY), rows], names=[*SILVER_KEY, "_row"])
    found = probe.join(keys, SILVER_KEY, join_type="left semi").column("_row").combine_chunks()
    return pc.is_in(rows, value_set=found)


def write_silver_files(spark: SparkSession, checked_dir: str | os.PathLike[str], duplicates_dir: str | os.PathLike[str],
                       columns: list[str], out_dir: str | os.PathLike[str]) -> int:
    """The silver rows of one kind as Parquet parts under `out_dir`, straight from its checked parts
    (``check_bronze_files``): the valid rows less the duplicate candidates classified other than
    silver (exact duplicates and conflicts, from silver.classify_duplicates), with `columns`. The
    rows of ``silver.split``'s table, without the JVM reading and writing each; returns their number."""
    parts = list(enumerate(sorted(str(p) for p in Path(checked_dir).glob("*.parquet"))))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    if not parts:
        return 0
    out, dups = str(out_dir), str(duplicates_dir)
    done = _run_tasks(spark, parts, lambda part: select_silver(part, dups, columns, out))
    return sum(rows for _, rows in done)
