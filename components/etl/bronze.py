"""Bronze: every raw line kept as-is (bytes) with where and when it came from.

File discovery and hashing run on the driver (cheap, and a file-level problem becomes a clear
message naming the file rather than a Spark stack trace). Lines are read by Spark's text source
with one partition per file, so a line's number is its record index inside that partition.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from components.etl.contract import KIND_SUFFIX, Kind

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

BRONZE_COLUMNS = (
    "kind", "batch_id", "source_file", "line_number", "raw", "file_sha256", "ingested_at", "is_header",
)
BRONZE_SCHEMA = (
    "kind string, batch_id string, source_file string, line_number long, raw binary, file_sha256 string, "
    "ingested_at timestamp, is_header boolean"
)
RECORD_BITS = 33  # monotonically_increasing_id = partition id << 33 | record index in partition


@dataclass(frozen=True)
class RawFile:
    """One raw input file found under the input directory."""

    kind: str
    path: str  # absolute
    source_file: str  # relative to the input directory (stable across machines)
    batch_id: str
    sha256: str
    size: int
    header: str | None = None  # first line of a CSV (decoded, BOM kept), None for JSONL

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FileProblem:
    """A file that could not be ingested, with the reason in words."""

    path: str
    problem: str

    def to_dict(self) -> dict:
        return asdict(self)


def batch_id_of(rel_parts: tuple[str, ...], sha256: str) -> str:
    """Folders above the kind folder (e.g. the ingest date), else an id from the content."""
    kind_index = next(i for i, p in enumerate(rel_parts) if p in {k.value for k in Kind})
    above = rel_parts[:kind_index]
    return "/".join(above) if above else f"file-{sha256[:12]}"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def first_line(path: Path, limit: int = 1 << 16) -> str:
    """The first line of a file (CR/LF stripped), decoded leniently: a CSV header."""
    with path.open("rb") as fh:
        head = fh.readline(limit)
    return head.rstrip(b"\r\n").decode("utf-8", "replace")


def discover_files(input_dir: str | os.PathLike[str]) -> tuple[list[RawFile], list[FileProblem]]:
    """Raw files of every kind under `input_dir` (any depth), hashed; unusable ones as problems."""
    root = Path(input_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"input directory {root} does not exist or is not a directory")
    found: list[RawFile] = []
    problems: list[FileProblem] = []
    for kind in Kind:
        for path in sorted(root.rglob(f"{kind.value}/*")):
            rel = path.relative_to(root)
            if path.is_dir() or any(part.startswith((".", "_")) for part in rel.parts):
                continue
            if not path.name.endswith(KIND_SUFFIX[kind]):
                problems.append(FileProblem(str(rel), f"ignored: a {kind.value} file must end with {KIND_SUFFIX[kind]}"))
                continue
            try:
                size = path.stat().st_size
                digest = sha256_of(path)
            except OSError as exc:
                problems.append(FileProblem(str(rel), f"unreadable: {exc.strerror or exc}"))
                continue
            if size == 0:
                problems.append(FileProblem(str(rel), "empty file (0 bytes): nothing to ingest"))
                continue
            header = first_line(path) if kind is Kind.JUDGEMENTS else None
            found.append(
                RawFile(kind.value, str(path.resolve()), str(rel), batch_id_of(rel.parts, digest), digest, size, header)
            )
    return found, problems


@contextmanager
def whole_file_partitions(spark: SparkSession, files: list[RawFile]):
    """While active, Spark neither splits nor packs input files: one file = one partition.

    Then the record index inside a partition is the 0-based line index of that file. The
    settings are read when a scan runs, so keep this open until the lines are written.
    """
    huge = str(max(max((f.size for f in files), default=0) + 1, 1 << 40))
    keys = ("spark.sql.files.maxPartitionBytes", "spark.sql.files.openCostInBytes")
    old = {k: spark.conf.get(k, None) for k in keys}
    try:
        for key in keys:
            spark.conf.set(key, huge)
        yield
    finally:
        for key, value in old.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def read_lines(spark: SparkSession, files: list[RawFile]) -> DataFrame:
    """Every line of `files` with its file's metadata; use inside whole_file_partitions().

    One scan per file (then unioned): the file's metadata are literals, no path join needed,
    and a record's index in the scan's single partition is its 0-based line index.
    """
    from functools import reduce

    from pyspark.sql import functions as F

    scans = []
    for f in files:
        df = spark.read.format("text").load(f.path)
        scans.append(
            df.select(
                F.lit(f.kind).alias("kind"),
                F.lit(f.batch_id).alias("batch_id"),
                F.lit(f.source_file).alias("source_file"),
                ((F.monotonically_increasing_id().bitwiseAND((1 << RECORD_BITS) - 1)) + 1).alias("line_number"),
                F.col("value").cast("binary").alias("raw"),
                F.lit(f.sha256).alias("file_sha256"),
            )
        )
    return reduce(lambda a, b: a.unionByName(b), scans)


def to_bronze(lines: DataFrame, ingested_at) -> DataFrame:
    """Bronze rows: raw lines + ingest time; the first line of a CSV (its header) is flagged."""
    from pyspark.sql import functions as F

    return lines.select(
        "kind",
        "batch_id",
        "source_file",
        F.col("line_number").cast("long").alias("line_number"),
        "raw",
        "file_sha256",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
        ((F.col("kind") == Kind.JUDGEMENTS.value) & (F.col("line_number") == 1)).alias("is_header"),
    )
