"""Silver: typed, validated, deduplicated rows per kind, and the quarantine of everything else.

``to_silver`` is pure (DataFrames in, DataFrames out). Each bronze data line ends in exactly one
of: a silver row, a quarantine row (with its Reason), or an exact duplicate (counted). The
first-seen row (batch, file, line order) of an event_id wins; a later row with the same
event_id and the same content is an exact duplicate, with different content it is quarantined
as ``conflicting_duplicate``. Videos and judgements are deduplicated on their full content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from components.etl import parse
from components.etl.contract import Kind, Reason
from components.etl.ids import with_ids

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

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


def _apply_ranges(df: DataFrame, checks: list[tuple[Column, str]]) -> DataFrame:
    """Fill reason/detail for rows that passed the type checks but break a range rule."""
    from pyspark.sql import functions as F

    cases = [(c, str(Reason.OUT_OF_RANGE), d) for c, d in checks]
    reason = parse.first_of([(c, r) for c, r, _ in cases])
    detail = parse.first_of([(c, d) for c, _, d in cases])
    return df.withColumn("detail", F.when(F.col("reason").isNull(), detail).otherwise(F.col("detail"))).withColumn(
        "reason", F.coalesce(F.col("reason"), reason)
    )


def _reject_empty_queries(df: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    empty = F.col("reason").isNull() & (F.col("query_norm") == "")
    df = df.withColumn("detail", F.when(empty, F.lit("query")).otherwise(F.col("detail")))
    return df.withColumn("reason", F.when(empty, F.lit(str(Reason.EMPTY_QUERY))).otherwise(F.col("reason")))


def check_search_log(bronze: DataFrame, max_chars: int) -> DataFrame:
    """Every search_log line with typed columns and reason (NULL when valid)."""
    from pyspark.sql import functions as F

    spec = parse.SEARCH_LOG_SPEC
    df = with_ids(parse.json_texts(bronze, spec), query="s_query", url="s_video_url")
    structural = [(F.col("v").isNull(), Reason.MALFORMED_JSON), (~F.col("is_object"), Reason.NOT_AN_OBJECT)]
    df = parse.check_fields(df, spec, max_chars=max_chars, structural=structural)
    df = _apply_ranges(
        df,
        [(F.col("position") < 1, "position < 1"), (F.col("dwell_ms") < 0, "dwell_ms < 0")],
    )
    df = _reject_empty_queries(df)
    return df.select(
        *parse.LINEAGE, "reason", "detail", "event_id", F.col("ts_parsed").alias("ts"), "session_id", "query",
        "query_norm", "query_id", "video_url", "canonical_url", "video_id",
        F.col("position").try_cast("int").alias("position"), "clicked", "dwell_ms",
    )


def check_videos(bronze: DataFrame, max_chars: int) -> DataFrame:
    """Every catalogue line with typed columns and reason (NULL when valid)."""
    from pyspark.sql import functions as F

    spec = parse.VIDEO_SPEC
    df = with_ids(parse.json_texts(bronze, spec), url="s_video_url")
    structural = [(F.col("v").isNull(), Reason.MALFORMED_JSON), (~F.col("is_object"), Reason.NOT_AN_OBJECT)]
    df = parse.check_fields(df, spec, max_chars=max_chars, structural=structural)
    df = _apply_ranges(df, [(F.col("duration_s") < 0, "duration_s < 0")])
    return df.select(
        *parse.LINEAGE, "reason", "detail", "video_id", "canonical_url",
        "video_url", "title", "description", "channel", "duration_s",
        F.col("published_at_parsed").alias("published_at"), "tags",
    )


def check_judgements(bronze: DataFrame, max_chars: int, headers: dict[str, list[str]]) -> DataFrame:
    """Every judgement CSV data line (headers excluded) with typed columns and reason."""
    from pyspark.sql import functions as F

    spec = parse.JUDGEMENT_SPEC
    df = with_ids(parse.csv_texts(bronze.filter(~F.col("is_header")), spec, headers), query="s_query", url="s_video_url")
    structural = [(F.col("n_columns") != F.col("n_expected"), Reason.CSV_COLUMN_COUNT)]
    df = parse.check_fields(df, spec, max_chars=max_chars, structural=structural)
    df = _apply_ranges(df, [((F.col("label") < 0) | (F.col("label") > 3), "label not in 0..3")])
    df = _reject_empty_queries(df)
    return df.select(
        *parse.LINEAGE, "reason", "detail", "query", "query_norm", "query_id", "video_url", "canonical_url",
        "video_id", F.col("label").try_cast("int").alias("label"), "annotator", F.col("ts_parsed").alias("ts"),
    )


OUTCOME = "_outcome"  # silver | quarantine | duplicate


def classify_duplicates(checked: DataFrame, key: str, content: list[str]) -> DataFrame:
    """Mark every valid row kept / exact duplicate / conflicting duplicate by `key`.

    A key seen with one content: the first row in (batch, file, line) order is kept, the
    other copies are exact duplicates. A key seen with different contents: nothing about it
    can be trusted, so EVERY row of it is quarantined as conflicting_duplicate. Invalid rows
    get a unique window key (their file and line), so one shuffle classifies all rows.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    valid = F.col("reason").isNull()
    wkey = F.when(valid, F.concat(F.lit("k:"), F.col(key))).otherwise(
        F.concat(F.lit("q:"), F.col("source_file"), F.lit(":"), F.col("line_number").cast("string"))
    )
    df = checked.withColumn("_key", wkey).withColumn("_h", F.xxhash64(*[F.col(c) for c in content]))
    w = Window.partitionBy("_key").orderBy(*ORDER)
    wk = Window.partitionBy("_key")
    df = df.withColumn("_rn", F.row_number().over(w)).withColumn("_conflict", F.min("_h").over(wk) != F.max("_h").over(wk))
    conflict = valid & F.col("_conflict")
    df = df.withColumn("detail", F.when(conflict, F.lit(f"{key} seen with different content")).otherwise(F.col("detail")))
    df = df.withColumn("reason", F.when(conflict, F.lit(str(Reason.CONFLICTING_DUPLICATE))).otherwise(F.col("reason")))
    outcome = (
        F.when(F.col("reason").isNotNull(), F.lit("quarantine"))
        .when(F.col("_rn") > 1, F.lit("duplicate"))
        .otherwise(F.lit("silver"))
    )
    return df.withColumn(OUTCOME, outcome).drop("_key", "_h", "_rn", "_conflict")


def classify(bronze: dict[str, DataFrame], *, max_field_chars: int, headers: dict[str, list[str]]) -> dict[str, DataFrame]:
    """Every bronze data line of each kind, parsed, with its outcome and (if rejected) reason.

    Only the search log has an event id to deduplicate on; repeated catalogue or judgement
    rows are kept as versions (gold takes the latest per video and per annotator).
    """
    from pyspark.sql import functions as F

    sl = check_search_log(bronze[Kind.SEARCH_LOG.value], max_field_chars)
    outcome = F.when(F.col("reason").isNotNull(), F.lit("quarantine")).otherwise(F.lit("silver"))
    out = {
        Kind.SEARCH_LOG.value: classify_duplicates(sl, "event_id", [f.name for f in parse.SEARCH_LOG_SPEC]),
        Kind.VIDEOS.value: check_videos(bronze[Kind.VIDEOS.value], max_field_chars).withColumn(OUTCOME, outcome),
        Kind.JUDGEMENTS.value: check_judgements(bronze[Kind.JUDGEMENTS.value], max_field_chars, headers).withColumn(
            OUTCOME, outcome
        ),
    }
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


def to_silver(bronze: dict[str, DataFrame], *, max_field_chars: int, headers: dict[str, list[str]]) -> SilverResult:
    """Silver tables, quarantine and exact duplicates from the bronze table of each kind."""
    return split(classify(bronze, max_field_chars=max_field_chars, headers=headers), bronze)
