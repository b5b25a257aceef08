"""Row-level parsing and validation of raw lines against the input contract.

Every bronze line gets exactly one outcome: typed values, or the FIRST failing check as a
quarantine ``reason`` (+ ``detail``: which field, in words). The checks run in this order:
invalid_utf8 -> malformed_json / not_an_object / csv_column_count -> missing_field ->
null_field -> wrong_type -> field_too_long -> invalid_timestamp / missing_timezone ->
invalid_url -> out_of_range -> empty_query.

JSON is parsed into Spark's VARIANT (no schema inference on dirty input); a field's JSON type is
read from its own JSON text, so ``"3"`` (string) and ``3`` (number) differ, as do ``"yes"`` and
``true``. Only Spark built-ins run per row; ids come from a lookup of distinct values (ids.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.etl.contract import Reason

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

TS_WITH_ZONE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:?[0-9]{2})$"
TS_NO_ZONE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?$"
TS_MIN, TS_MAX = "1990-01-01 00:00:00", "2100-01-01 00:00:00"  # outside: impossible timestamp
STRINGY = ("string", "timestamp", "url")  # fields whose JSON type is string
LINEAGE = ("kind", "batch_id", "source_file", "line_number", "file_sha256")  # (file_sha256, line_number) is unique


@dataclass(frozen=True)
class Field:
    """A contract field: its JSON type and whether null is allowed."""

    name: str
    type: str  # string | int | bool | number | timestamp | url | string_list
    nullable: bool = False


SEARCH_LOG_SPEC = (
    Field("event_id", "string"), Field("ts", "timestamp"), Field("session_id", "string"),
    Field("query", "string"), Field("video_url", "url"), Field("position", "int"), Field("clicked", "bool"),
    Field("dwell_ms", "int", nullable=True),
)
VIDEO_SPEC = (
    Field("video_url", "url"), Field("title", "string"), Field("description", "string"),
    Field("channel", "string"), Field("duration_s", "number"), Field("published_at", "timestamp"),
    Field("tags", "string_list"),
)
JUDGEMENT_SPEC = (
    Field("query", "string"), Field("video_url", "url"), Field("label", "int"), Field("annotator", "string"),
    Field("ts", "timestamp"),
)


def first_of(cases: list[tuple[Column, str]]) -> Column:
    """The value of the first true condition, else NULL (a SQL CASE built from a list)."""
    from pyspark.sql import functions as F

    out = None
    for cond, value in cases:
        out = F.when(cond, F.lit(value)) if out is None else out.when(cond, F.lit(value))
    return out if out is not None else F.lit(None).cast("string")


def decoded_text(raw: Column) -> Column:
    """The line as text when its bytes are UTF-8 (a leading BOM dropped), else NULL."""
    from pyspark.sql import functions as F

    text = raw.cast("string")
    return F.when(F.is_valid_utf8(text), F.regexp_replace(text, "^\ufeff", ""))


def json_texts(df: DataFrame, spec: tuple[Field, ...]) -> DataFrame:
    """Adds ``text``, ``v`` (VARIANT or NULL), ``is_object`` and per field ``j_<name>``: its JSON text."""
    from pyspark.sql import functions as F

    df = df.withColumn("text", decoded_text(F.col("raw")))
    df = df.withColumn("v", F.try_parse_json(F.col("text")))
    df = df.withColumn("is_object", F.col("v").isNotNull() & F.col("text").rlike(r"^[ \t\r\n]*\{"))
    texts = [F.to_json(F.variant_get(F.col("v"), f"$.{f.name}", "variant")).alias(f"j_{f.name}") for f in spec]
    strings = [  # the value itself, used only where j_<name> says it is a JSON string
        F.try_variant_get(F.col("v"), f"$.{f.name}", "string").alias(f"s_{f.name}") for f in spec if f.type in STRINGY
    ]
    return df.select("*", *texts, *strings)


def header_columns(header_line: str | None) -> list[str]:
    """Column names of a CSV header line (BOM and surrounding spaces dropped, lowercased)."""
    import csv

    if not header_line:
        return []
    row = next(csv.reader([header_line.lstrip("\ufeff")]), [])
    return [c.strip().lower() for c in row]


def csv_texts(df: DataFrame, spec: tuple[Field, ...], headers: dict[str, list[str]]) -> DataFrame:
    """Adds ``text``, ``n_columns``, ``n_expected`` and per field ``j_<name>`` (JSON-text convention).

    `headers` maps a file's sha256 to its header columns, so a CSV with reordered columns still
    parses; a field absent from the header reads as missing. An empty cell is NULL; cells become
    JSON strings (ints by pattern), so the type checks treat CSV and JSON alike.
    """
    from pyspark.sql import functions as F

    width = max([len(cols) for cols in headers.values()] + [len(spec)])
    df = df.withColumn("text", decoded_text(F.col("raw")))
    unquoted = F.regexp_replace(F.col("text"), r'"([^"]|"")*"', "")
    df = df.withColumn("n_columns", F.length(unquoted) - F.length(F.replace(unquoted, F.lit(","), F.lit(""))) + 1)
    expected = F.lit(len(spec))
    for sha, cols in headers.items():
        expected = F.when(F.col("file_sha256") == sha, F.lit(len(cols))).otherwise(expected)
    df = df.withColumn("n_expected", expected)
    schema = ", ".join(f"c{i} string" for i in range(width))
    df = df.withColumn("cells", F.from_csv(F.col("text"), schema, {"mode": "PERMISSIVE"}))
    out = []
    for f in spec:
        cell = F.col(f"cells.c{spec.index(f)}")
        for sha, cols in headers.items():
            here = F.col(f"cells.c{cols.index(f.name)}") if f.name in cols else F.lit(None).cast("string")
            cell = F.when(F.col("file_sha256") == sha, here).otherwise(cell)
        missing = F.lit(False)
        for sha, cols in headers.items():
            if f.name not in cols:
                missing = missing | (F.col("file_sha256") == sha)
        as_json = F.regexp_replace(F.to_json(F.array(cell)), r"^\[|\]$", "")
        text = F.when(missing, F.lit(None)).when(cell.isNull(), F.lit("null"))
        if f.type == "int":
            text = text.when(cell.rlike(r"^-?[0-9]+$"), cell)
        out.append(text.otherwise(as_json).alias(f"j_{f.name}"))
        if f.type in STRINGY:
            out.append(cell.alias(f"s_{f.name}"))
    return df.select("*", *out)


def is_type(j: Column, f: Field, v: Column | None) -> Column:
    """Whether the JSON text `j` of field `f` has the contract type."""
    from pyspark.sql import functions as F

    if f.type in ("string", "timestamp", "url"):
        return j.startswith('"')
    if f.type == "int":
        return j.rlike(r"^-?[0-9]+$") & j.try_cast("bigint").isNotNull()
    if f.type == "bool":
        return j.isin("true", "false")
    if f.type == "number":
        return ~j.startswith('"') & j.try_cast("double").isNotNull()
    if f.type == "string_list":
        assert v is not None, "string lists only come from JSON"
        return (j == "[]") | (F.schema_of_variant(F.variant_get(v, f"$.{f.name}", "variant")) == "ARRAY<STRING>")
    raise ValueError(f"unknown field type {f.type}")


def timestamp_value(s: Column) -> Column:
    """A UTC timestamp from ISO-8601 text with a zone; NULL when impossible or out of range."""
    from pyspark.sql import functions as F

    ts = s.try_cast("timestamp")
    return F.when(s.rlike(TS_WITH_ZONE) & (ts >= F.lit(TS_MIN).cast("timestamp")) & (ts < F.lit(TS_MAX).cast("timestamp")), ts)


def check_fields(df: DataFrame, spec: tuple[Field, ...], *, max_chars: int, structural: list[tuple[Column, str]]) -> DataFrame:
    """Typed ``<name>`` columns plus ``reason``/``detail`` for the first failed check.

    A URL field is checked through the ``canonical_url`` column that ``ids.with_ids`` added.
    """
    from pyspark.sql import functions as F

    v = F.col("v") if "v" in df.columns else None
    typed = []
    for f in spec:
        j = F.col(f"j_{f.name}")
        if f.type in STRINGY:
            typed.append(F.col(f"s_{f.name}").alias(f.name))
        elif f.type == "int":
            typed.append(j.try_cast("bigint").alias(f.name))
        elif f.type == "bool":
            typed.append((j == "true").alias(f.name))
        elif f.type == "number":
            typed.append(j.try_cast("double").alias(f.name))
        elif f.type == "string_list":
            typed.append(F.try_variant_get(v, f"$.{f.name}", "array<string>").alias(f.name))
    df = df.select("*", *typed)
    df = df.select("*", *[timestamp_value(F.col(f.name)).alias(f"{f.name}_parsed") for f in spec if f.type == "timestamp"])

    cases: list[tuple[Column, str, str]] = [(F.col("text").isNull(), Reason.INVALID_UTF8, "bytes are not UTF-8")]
    cases += [(cond, reason, reason.replace("_", " ")) for cond, reason in structural]
    for f in spec:
        cases.append((F.col(f"j_{f.name}").isNull(), Reason.MISSING_FIELD, f.name))
    for f in spec:
        if not f.nullable:
            cases.append((F.col(f"j_{f.name}") == "null", Reason.NULL_FIELD, f.name))
    for f in spec:
        j = F.col(f"j_{f.name}")
        cases.append(((j != "null") & ~is_type(j, f, v), Reason.WRONG_TYPE, f"{f.name}: expected {f.type}"))
    for f in spec:
        if f.type in ("string", "timestamp", "url"):
            cases.append((F.length(F.col(f.name)) > max_chars, Reason.FIELD_TOO_LONG, f"{f.name}: over {max_chars} chars"))
        if f.type == "string_list":
            cases.append((F.exists(F.col(f.name), lambda t: F.length(t) > max_chars), Reason.FIELD_TOO_LONG, f.name))
    for f in spec:
        if f.type == "timestamp":
            s = F.col(f.name)
            cases.append((s.rlike(TS_NO_ZONE), Reason.MISSING_TIMEZONE, f.name))
            cases.append((F.col(f"{f.name}_parsed").isNull(), Reason.INVALID_TIMESTAMP, f.name))
    for f in spec:
        if f.type == "url":
            cases.append((F.col("canonical_url").isNull(), Reason.INVALID_URL, f.name))
    return with_first_failure(df, cases)


def with_first_failure(df: DataFrame, cases: list[tuple[Column, str, str]]) -> DataFrame:
    """``reason`` and ``detail`` of the first true condition: ONE CASE yields its index, two
    literal arrays map it (half the generated code of two CASEs, which matters to Janino)."""
    from pyspark.sql import functions as F

    index = None
    for i, (cond, _, _) in enumerate(cases, start=1):
        index = F.when(cond, F.lit(i)) if index is None else index.when(cond, F.lit(i))
    df = df.withColumn("_fail", index)
    reasons = F.array(*[F.lit(str(r)) for _, r, _ in cases])
    details = F.array(*[F.lit(d) for _, _, d in cases])
    return df.select(
        "*",
        F.when(F.col("_fail").isNotNull(), F.element_at(reasons, F.col("_fail"))).alias("reason"),
        F.when(F.col("_fail").isNotNull(), F.element_at(details, F.col("_fail"))).alias("detail"),
    ).drop("_fail")


def range_checks(checks: list[tuple[Column, str]]) -> tuple[Column, Column]:
    """(reason, detail) columns for out_of_range checks given (violation, field) pairs."""
    reason = first_of([(c, str(Reason.OUT_OF_RANGE)) for c, _ in checks])
    detail = first_of([(c, d) for c, d in checks])
    return reason, detail
