"""Silver: typed, validated, deduplicated rows per kind, and the quarantine of everything else.

``to_silver`` is pure (DataFrames in, DataFrames out). Each bronze data line ends in exactly one
of: a silver row, a quarantine row (with its Reason), or an exact duplicate (counted). Rows are
checked by parse.py against the contract table. The first-seen row (batch, file, line order)
of an event_id wins; a later row with the same event_id and the same typed content is an exact
duplicate, with different content it is quarantined as ``conflicting_duplicate``. Videos and
judgements are deduplicated on their whole typed content (contract.DEDUP_KEY).
"""

from __future__ import annotations

import gc
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from components.common.contract import Reason
from components.etl import parse
from components.etl.contracts import Contract, KindSpec, resolve_contract

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import pyarrow as pa
    from pyspark.sql import DataFrame

    Stage = Callable[[str, DataFrame], DataFrame]

QUARANTINE_COLUMNS = ("kind", "reason", "detail", "batch_id", "source_file", "line_number", "file_sha256", "raw", "raw_text")
ORDER = ("batch_id", "source_file", "line_number")
BROADCAST_REJECTS_MAX = 200_000  # rejected rows of one kind still joined to their raw lines by broadcast


@dataclass
class SilverResult:
    """Silver rows per kind, the quarantine, and the exact duplicates per kind (for counting)."""

    tables: dict[str, DataFrame]
    quarantine: DataFrame
    duplicates: dict[str, DataFrame] = field(default_factory=dict)


def _quarantine_of(rejected: DataFrame, bronze: DataFrame, broadcast: bool) -> DataFrame:
    """Rejected rows with their raw bytes, fetched from bronze by (file, line): parsing and
    deduplication never carry the raw line, which is most of a row's bytes. The rejects are
    broadcast unless there are many (a wholly bad batch), which a shuffle join handles."""
    from pyspark.sql import functions as F

    key = ["file_sha256", "line_number"]
    raw = bronze.select(*key, "raw").join(F.broadcast(rejected) if broadcast else rejected, key, "inner")
    return raw.select(*QUARANTINE_COLUMNS[:-1], F.make_valid_utf8(F.col("raw").cast("string")).alias("raw_text"))


def check_kind(bronze: DataFrame, kind: str | KindSpec, max_chars: int, headers: dict[str, list[str]] | None = None,
               contract: Contract | None = None) -> DataFrame:
    """Every data line of one kind (CSV headers excluded) with its silver columns and reason
    (NULL when valid): parse.LineChecker, the one implementation of the contract, as an Arrow UDF.
    Only the raw bytes (and a CSV line's file hash, for its header) travel to Python; the lineage
    columns stay in the JVM."""
    from pyspark.sql import functions as F

    spec = parse.kind_spec(kind, contract)
    lines = bronze.filter(~F.col("is_header")) if spec.csv else bronze
    with warnings.catch_warnings():  # the UDF type is given, not inferred: the input arity differs by kind
        warnings.filterwarnings("ignore", "It is preferred to specify type hints", UserWarning)
        udf = F.arrow_udf(check_lines_udf(spec, max_chars, headers), checked_type(spec),
                          F.ArrowUDFType.SCALAR_ITER)
    inputs = [F.col("raw"), F.col("file_sha256")] if spec.csv else [F.col("raw")]
    return lines.select(*parse.LINEAGE, udf(*inputs).alias("_checked")).select(*parse.LINEAGE, "_checked.*")


def checked_type(kind: str | KindSpec, contract: Contract | None = None) -> str:
    """The Spark DDL type of ``check_lines`` output for `kind`: a struct of reason, detail and silver columns."""
    spec = parse.kind_spec(kind, contract)
    sql = {r.name: r.sql for r in spec.rules}
    fields = [f"`{c}`: string" for c in parse.CHECK_FIELDS] + [f"`{c}`: {sql.get(c, 'string')}" for c in spec.silver_columns]
    return f"struct<{', '.join(fields)}>"


def check_lines_udf(kind: str | KindSpec, max_chars: int, headers: dict[str, list[str]] | None = None,
                    contract: Contract | None = None) -> Callable[[Iterator[Any]], Iterator[pa.StructArray]]:
    """The scalar-iterator Arrow UDF body checking lines of `kind`: batches of raw lines (and, for a
    CSV kind, of their file hashes) in, ``check_lines`` structs out; one checker (and cache) per task."""
    spec = parse.kind_spec(kind, contract)  # only the kind's rules travel to the Spark workers

    def run(batches: Iterator[Any]) -> Iterator[pa.StructArray]:
        checker = parse.LineChecker(spec, max_chars, headers)
        collecting = gc.isenabled()
        gc.disable()  # lines make acyclic objects only, freed by reference counting; the cyclic
        try:          # collector would walk every row of a batch again and again (a fifth of the time)
            for batch in batches:
                yield checker.check_lines(*batch) if isinstance(batch, tuple) else checker.check_lines(batch)
        finally:
            if collecting:
                gc.enable()

    return run


OUTCOME = "_outcome"  # silver | quarantine | duplicate


# Every value written, NULLs included, and timestamps to the microsecond (Spark's JSON default is milliseconds).
CONTENT_JSON_OPTIONS = {"ignoreNullFields": "false", "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSxxx",
                        "timestampNTZFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"}


def content_hash(content: tuple[str, ...]) -> Any:
    """A 64-bit hash of a row's typed `content` columns that tells NULL, an empty array and where each
    value sits apart. ``xxhash64`` over the columns does not: it skips NULLs (and NULL elements) and
    adds nothing for an empty array, so ``teams: []`` and ``teams: null``, or ``("x", [])`` and
    ``(null, ["x"])``, hash equal. It hashes the row as one JSON object instead: every field named,
    NULL written, arrays bracketed, strings quoted."""
    from pyspark.sql import functions as F

    return F.xxhash64(F.to_json(F.struct(*[F.col(c) for c in content]), CONTENT_JSON_OPTIONS))


def classify_duplicates(candidates: DataFrame, key: tuple[str, ...], content: tuple[str, ...]) -> DataFrame:
    """Mark every candidate (valid rows, from duplicate_candidates) kept / exact duplicate /
    conflicting duplicate by `key`, in one window.

    A key seen with one content: the first row in (batch, file, line) order is kept, the
    other copies are exact duplicates. A key seen with different contents: nothing about it
    can be trusted, so EVERY row of it is quarantined as conflicting_duplicate (only when the
    key is not the whole content).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    by_key = Window.partitionBy(*key)
    df = candidates.withColumn("_rn", F.row_number().over(by_key.orderBy(*ORDER)))
    if set(key) != set(content):
        df = df.withColumn("_h", content_hash(content))
        df = df.withColumn("_conflict", F.min("_h").over(by_key) != F.max("_h").over(by_key))
        df = df.withColumn("detail", F.when(F.col("_conflict"), F.lit(f"{key[0]} seen with different content"))
                           .otherwise(F.col("detail")))
        df = df.withColumn("reason", F.when(F.col("_conflict"), F.lit(str(Reason.CONFLICTING_DUPLICATE)))
                           .otherwise(F.col("reason")))
        df = df.drop("_h", "_conflict")
    outcome = (
        F.when(F.col("reason").isNotNull(), F.lit("quarantine"))
        .when(F.col("_rn") > 1, F.lit("duplicate"))
        .otherwise(F.lit("silver"))
    )
    return df.withColumn(OUTCOME, outcome).drop("_rn")


def duplicate_candidates(checked: DataFrame, key: tuple[str, ...]) -> DataFrame:
    """The valid rows whose `key` may be on another valid row: one aggregation over a 64-bit hash
    of the key (a narrow shuffle), then a semi join. A hash collision only adds a candidate, which
    classify_duplicates then keeps as the single row of its key."""
    from pyspark.sql import functions as F

    valid = checked.filter(F.col("reason").isNull()).withColumn("_kh", F.xxhash64(*key))
    repeated = valid.groupBy("_kh").agg(F.count(F.lit(1)).alias("_n")).filter(F.col("_n") > 1).select("_kh")
    return valid.join(repeated, "_kh", "left_semi").drop("_kh")


def with_outcomes(checked: DataFrame, classified_duplicates: DataFrame) -> DataFrame:
    """Every checked row with its outcome: the classified duplicate candidates as they are, every
    other row silver when valid, else quarantine (matched on the unique (file, line))."""
    from pyspark.sql import functions as F

    line = ["file_sha256", "line_number"]
    rest = checked.join(classified_duplicates.select(*line), line, "left_anti").select(*checked.columns)  # keys first
    rest = rest.withColumn(OUTCOME, F.when(F.col("reason").isNull(), F.lit("silver")).otherwise(F.lit("quarantine")))
    return rest.unionByName(classified_duplicates)


def classify(bronze: dict[str, DataFrame], *, max_field_chars: int, headers: dict[str, list[str]],
             contract: Contract | None = None, stage: Stage | None = None,
             checked: dict[str, DataFrame] | None = None) -> dict[str, DataFrame]:
    """Every bronze data line of each kind, parsed, with its outcome and (if rejected) reason.

    Exact duplicates are counted in every kind by its dedup key (search: the search log by
    event_id, a different content under one event_id being a conflict; the catalogue and the
    judgements by their whole content). `stage(name, df)` may materialise the checked lines and
    the classified duplicate candidates (run.py writes them to staging), so every later reader
    re-reads them instead of parsing again; only the few duplicate candidates are shuffled whole.
    """
    stage = stage or (lambda _name, df: df)
    out = {}
    for spec in resolve_contract(contract).kinds:
        if spec.name not in bronze:  # a caller holding only some kinds (the ETL run passes every kind)
            continue
        lines = (checked or {}).get(spec.name)
        if lines is None:
            lines = stage(f"{spec.name}/checked", check_kind(bronze[spec.name], spec, max_field_chars, headers))
        candidates = duplicate_candidates(lines, spec.dedup_key)
        duplicates = stage(f"{spec.name}/duplicates", classify_duplicates(candidates, spec.dedup_key, spec.field_names))
        out[spec.name] = with_outcomes(lines, duplicates)
    return out


def split(classified: dict[str, DataFrame], bronze: dict[str, DataFrame],
          reject_counts: dict[str, int] | None = None) -> SilverResult:
    """Silver tables, the quarantine (with raw lines from `bronze`) and the exact duplicates.

    `reject_counts` (quarantined rows per kind, when known) decides which rejects are few
    enough to broadcast; unknown counts are taken as few.
    """
    from pyspark.sql import functions as F

    tables, duplicates, quarantines = {}, {}, []
    for kind, df in classified.items():
        rows = df.filter(F.col(OUTCOME) == "silver")
        tables[kind] = rows.drop(OUTCOME, "reason", "detail", "kind", "file_sha256")
        duplicates[kind] = df.filter(F.col(OUTCOME) == "duplicate").drop(OUTCOME)
        few = (reject_counts or {}).get(kind, 0) <= BROADCAST_REJECTS_MAX
        quarantines.append(_quarantine_of(df.filter(F.col(OUTCOME) == "quarantine"), bronze[kind], few))
    quarantine = quarantines[0]
    for q in quarantines[1:]:
        quarantine = quarantine.unionByName(q)
    return SilverResult(tables=tables, quarantine=quarantine, duplicates=duplicates)


def to_silver(bronze: dict[str, DataFrame], *, max_field_chars: int, headers: dict[str, list[str]],
              contract: Contract | None = None) -> SilverResult:
    """Silver tables, quarantine and exact duplicates from the bronze table of each kind."""
    return split(classify(bronze, max_field_chars=max_field_chars, headers=headers, contract=contract), bronze)
