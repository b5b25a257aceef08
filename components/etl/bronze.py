"""Bronze: every raw line kept as-is (bytes) with where and when it came from.

File discovery and hashing run on the driver (cheap, and a file-level problem becomes a clear
message naming the file rather than a Spark stack trace). The file-level contract: a raw file is
a ``*.jsonl`` / ``*.csv`` directly inside its kind's folder holding uncompressed text; compressed,
UTF-16/32 or empty files, other names and files elsewhere are ignored and listed with the reason.
Other bytes that are not UTF-8 are a line-level matter (quarantined ``invalid_utf8`` in silver). Lines are read by Spark's text source
with one partition per file, so a line's number is its record index inside that partition.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from components.common.contract import FileDefect
from components.common.spark import sql_conf
from components.etl.contracts import Contract, resolve_contract

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
SNIFF_BYTES = 4096
NUL_SHARE_DIVISOR = 8  # >= 1/8 NUL bytes in the first 4 KiB: not UTF-8 text (UTF-8 text has none)
COMPRESSED_SUFFIXES = (".gz", ".gzip", ".bz2", ".xz", ".zst", ".zip", ".lz4", ".snappy")
COMPRESSION_MAGIC = ((b"\x1f\x8b", "gzip"), (b"PK\x03\x04", "zip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"),
                     (b"\x28\xb5\x2f\xfd", "zstd"))
TEXT_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"),
             (b"\xfe\xff", "UTF-16"))


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
    """A file that was not ingested (``ignored``) or ingested once for several copies, in words."""

    path: str
    problem: str
    ignored: bool = True
    defect: str | None = None  # the contract.FileDefect of an ignored file

    def to_dict(self) -> dict:
        return asdict(self)


def batch_id_of(rel_parts: tuple[str, ...], sha256: str, contract: Contract | None = None) -> str:
    """Folders above the kind folder (e.g. the ingest date), else an id from the content."""
    kinds = set(resolve_contract(contract).kind_names)
    kind_index = next(i for i, p in enumerate(rel_parts) if p in kinds)
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


def sniff_content(path: Path) -> tuple[FileDefect, str] | None:
    """A file-level reason a contract-named file is not UTF-8 text lines, from its first bytes."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    for magic, name in COMPRESSION_MAGIC:
        if head.startswith(magic):
            return FileDefect.COMPRESSED, f"{name}-compressed content: decompress it to plain UTF-8 text"
    for bom, name in TEXT_BOMS:
        if head.startswith(bom):
            return FileDefect.NOT_UTF8_TEXT, f"{name} text (byte-order mark): re-encode it as UTF-8"
    if head and head.count(0) * NUL_SHARE_DIVISOR >= len(head):
        return FileDefect.NOT_UTF8_TEXT, "NUL bytes: UTF-16/UTF-32 without a byte-order mark, or binary; re-encode as UTF-8"
    return None


def _ignored(rel: Path, kind: str | None, contract: Contract) -> tuple[FileDefect, str] | None:
    """Why a file is not a raw file of the contract by its place and name (None: it may be)."""
    if kind is None:
        return FileDefect.OUTSIDE_KIND_FOLDER, f"not directly inside a {', '.join(contract.kind_names)} folder"
    suffix = contract.kind(kind).suffix
    if rel.suffix.lower() in COMPRESSED_SUFFIXES:
        return FileDefect.COMPRESSED, f"compressed ({rel.suffix}): decompress it to a plain {suffix} file"
    if not rel.name.endswith(suffix):
        return FileDefect.WRONG_EXTENSION, f"a {kind} file must end with {suffix}"
    return None


def discover_files(input_dir: str | os.PathLike[str], contract: Contract | None = None
                   ) -> tuple[list[RawFile], list[FileProblem]]:
    """Raw files of every kind under `input_dir` (any depth), hashed; every other file as a problem.

    Files and folders whose name starts with "." or "_" are metadata (``_generator.json``,
    ``.DS_Store``, ``_SUCCESS``) and are skipped; any other file that is not ingested is listed
    as ignored with its reason (contract.FileDefect), never passed over silently.
    """
    root = Path(input_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"input directory {root} does not exist or is not a directory")
    contract = resolve_contract(contract)
    found: list[RawFile] = []
    problems: list[FileProblem] = []
    kinds = set(contract.kind_names)
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_dir() or any(part.startswith((".", "_")) for part in rel.parts):
            continue
        kind = rel.parts[-2] if len(rel.parts) > 1 and rel.parts[-2] in kinds else None
        why = _ignored(rel, kind, contract)
        try:
            size = path.stat().st_size
            if why is None and size == 0:
                why = FileDefect.EMPTY, "empty file (0 bytes): nothing to ingest"
            why = why or sniff_content(path)
            digest = sha256_of(path) if why is None else ""
        except OSError as exc:
            why = FileDefect.UNREADABLE, f"unreadable: {exc.strerror or exc}"
        if why is not None:
            problems.append(FileProblem(str(rel), f"ignored: {why[1]}", defect=why[0].value))
            continue
        assert kind is not None
        header = first_line(path) if contract.kind(kind).csv else None
        found.append(RawFile(kind, str(path.resolve()), str(rel), batch_id_of(rel.parts, digest, contract), digest,
                             size, header))
    order = {name: i for i, name in enumerate(contract.kind_names)}
    found.sort(key=lambda f: (order[f.kind], f.source_file))
    return found, problems


@contextmanager
def whole_file_partitions(spark: SparkSession, files: list[RawFile]):
    """While active, Spark neither splits nor packs input files: one file = one partition.

    Then the record index inside a partition is the 0-based line index of that file. The
    settings are read when a scan runs, so keep this open until the lines are written.
    """
    huge = str(max(max((f.size for f in files), default=0) + 1, 1 << 40))
    keys = ("spark.sql.files.maxPartitionBytes", "spark.sql.files.openCostInBytes")
    with sql_conf(spark, dict.fromkeys(keys, huge)):
        yield


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


def to_bronze(lines: DataFrame, ingested_at, csv_kinds: tuple[str, ...] | None = None) -> DataFrame:
    """Bronze rows: raw lines + ingest time; the first line of a CSV (its header) is flagged."""
    from pyspark.sql import functions as F

    csv_kinds = resolve_contract(None).csv_kinds if csv_kinds is None else csv_kinds
    is_csv = F.col("kind").isin(list(csv_kinds)) if csv_kinds else F.lit(False)

    return lines.select(
        "kind",
        "batch_id",
        "source_file",
        F.col("line_number").cast("long").alias("line_number"),
        "raw",
        "file_sha256",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
        (is_csv & (F.col("line_number") == 1)).alias("is_header"),
    )
