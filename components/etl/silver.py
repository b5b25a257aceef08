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

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

QUARANTINE_COLUMNS = ("kind", "reason", "detail", "batch_id", "source_file", "line_number", "file_sha256", "raw", "raw_text")
ORDER = ("batch_id", "source_file", "line_number")


@dataclass
class SilverResult:
    """Silver rows per kind, the quarantine, and the exact duplicates per kind (for counting)."""

    tables: dict[str, DataFrame]
    quarantine: DataFrame
    duplicates: dict[str, DataFrame] = field(default_factory=dict)


def _quarantine_of(df: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return df.select(
        "kind", "reason", "detail", "batch_id", "source_file", "line_number", "file_sha256", "raw",
        F.make_valid_utf8(F.col("raw").cast("string")).alias("raw_text"),
    )


def _apply_ranges(df: DataFrame, checks: list[tuple[Column, str]]) -> DataFrame:
    """Fill reason/detail for rows that passed the type checks but break a range rule."""
    from pyspark.sql import functions as F

    cases = [(c, str(Reason.OUT_OF_RANGE), d) for c, d in checks]
    reason = parse.first_of([(c, r) for c, r, _ in cases])
    detail = parse.first_of([(c, d) for c, _, d in cases])
    return df.withColumn("detail", F.when(F.col("reason").isNull(), detail).otherwise(F.col("detail"))).withColumn(
        "reason", F.coalesce(F.col("reason"), reason)
    )


def _with_query_ids(df: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    from components.etl.ids import normalize_query_col, query_id_col, video_id_col

    df = df.withColumn("query_norm", F.when(F.col("reason").isNull(), normalize_query_col(F.col("query"))))
    empty = F.col("reason").isNull() & (F.col("query_norm") == "")
    df = df.withColumn("detail", F.when(empty, F.lit("query")).otherwise(F.col("detail")))
    df = df.withColumn("reason", F.when(empty, F.lit(str(Reason.EMPTY_QUERY))).otherwise(F.col("reason")))
    return df.withColumn("query_id", query_id_col(F.col("query_norm"))).withColumn(
        "video_id", video_id_col(F.col("canonical_url"))
    )


def check_search_log(bronze: DataFrame, max_chars: int) -> DataFrame:
    """Every search_log line with typed columns and reason (NULL when valid)."""
    from pyspark.sql import functions as F

    spec = parse.SEARCH_LOG_SPEC
    df = parse.json_texts(bronze, spec)
    structural = [(F.col("v").isNull(), Reason.MALFORMED_JSON), (~F.col("is_object"), Reason.NOT_AN_OBJECT)]
    df = parse.check_fields(df, spec, max_chars=max_chars, structural=structural)
    df = _apply_ranges(
        df,
        [(F.col("position") < 1, "position < 1"), (F.col("dwell_ms") < 0, "dwell_ms < 0")],
    )
    df = _with_query_ids(df)
    return df.select(
        *parse.LINEAGE, "reason", "detail", "event_id", F.col("ts_parsed").alias("ts"), "session_id", "query",
        "query_norm", "query_id", "video_url", "canonical_url", "video_id",
        F.col("position").try_cast("int").alias("position"), "clicked", "dwell_ms",
    )


def check_videos(bronze: DataFrame, max_chars: int) -> DataFrame:
    """Every catalogue line with typed columns and reason (NULL when valid)."""
    from pyspark.sql import functions as F

    from components.etl.ids import video_id_col

    spec = parse.VIDEO_SPEC
    df = parse.json_texts(bronze, spec)
    structural = [(F.col("v").isNull(), Reason.MALFORMED_JSON), (~F.col("is_object"), Reason.NOT_AN_OBJECT)]
    df = parse.check_fields(df, spec, max_chars=max_chars, structural=structural)
    df = _apply_ranges(df, [(F.col("duration_s") < 0, "duration_s < 0")])
    return df.select(
        *parse.LINEAGE, "reason", "detail", video_id_col(F.col("canonical_url")).alias("video_id"), "canonical_url",
        "video_url", "title", "description", "channel", "duration_s",
        F.col("published_at_parsed").alias("published_at"), "tags",
    )


def check_judgements(bronze: DataFrame, max_chars: int, headers: dict[str, list[str]]) -> DataFrame:
    """Every judgement CSV data line (headers excluded) with typed columns and reason."""
    from pyspark.sql import functions as F

    spec = parse.JUDGEMENT_SPEC
    df = parse.csv_texts(bronze.filter(~F.col("is_header")), spec, headers)
    structural = [(F.col("n_columns") != F.col("n_expected"), Reason.CSV_COLUMN_COUNT)]
    df = parse.check_fields(df, spec, max_chars=max_chars, structural=structural)
    df = _apply_ranges(df, [((F.col("label") < 0) | (F.col("label") > 3), "label not in 0..3")])
    df = _with_query_ids(df)
    return df.select(
        *parse.LINEAGE, "reason", "detail", "query", "query_norm", "query_id", "video_url", "canonical_url",
        "video_id", F.col("label").try_cast("int").alias("label"), "annotator", F.col("ts_parsed").alias("ts"),
    )


def dedupe(valid: DataFrame, key: list[str], content: list[str], *, conflicts: bool) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(kept, exact duplicates, conflicting duplicates) of `valid` rows sharing `key`.

    The first row in (batch, file, line) order wins; later rows equal on `content` are exact
    duplicates, the others conflicts (or, with ``conflicts=False``, simply other versions).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    w = Window.partitionBy(*key).orderBy(*ORDER)
    h = F.xxhash64(*[F.col(c) for c in content])
    ranked = valid.withColumn("_h", h).withColumn("_rn", F.row_number().over(w))
    ranked = ranked.withColumn("_first_h", F.first("_h").over(w))
    same = F.col("_h") == F.col("_first_h")
    if not conflicts:  # other content = another version, kept; duplicates are only exact repeats
        w2 = Window.partitionBy(*key, "_h").orderBy(*ORDER)
        ranked = valid.withColumn("_h", h).withColumn("_rn", F.row_number().over(w2)).withColumn("_first_h", F.col("_h"))
    ranked = ranked.cache()
    drop = ["_h", "_rn", "_first_h"]
    kept = ranked.filter(F.col("_rn") == 1).drop(*drop)
    dups = ranked.filter((F.col("_rn") > 1) & same).drop(*drop)
    bad = ranked.filter((F.col("_rn") > 1) & ~same).drop(*drop)
    bad = bad.withColumn("reason", F.lit(str(Reason.CONFLICTING_DUPLICATE))).withColumn(
        "detail", F.concat(F.lit("another row with the same "), F.lit(", ".join(key)), F.lit(" differs"))
    )
    return kept, dups, bad


def to_silver(bronze: dict[str, DataFrame], *, max_field_chars: int, headers: dict[str, list[str]]) -> SilverResult:
    """Silver tables, quarantine and exact duplicates from the bronze table of each kind."""
    from pyspark.sql import functions as F

    checked = {
        Kind.SEARCH_LOG.value: check_search_log(bronze[Kind.SEARCH_LOG.value], max_field_chars),
        Kind.VIDEOS.value: check_videos(bronze[Kind.VIDEOS.value], max_field_chars),
        Kind.JUDGEMENTS.value: check_judgements(bronze[Kind.JUDGEMENTS.value], max_field_chars, headers),
    }
    quarantines = []
    tables: dict[str, DataFrame] = {}
    duplicates: dict[str, DataFrame] = {}
    for kind, df in checked.items():
        df = df.cache()
        quarantines.append(_quarantine_of(df.filter(F.col("reason").isNotNull())))
        valid = df.filter(F.col("reason").isNull())
        if kind == Kind.SEARCH_LOG.value:
            kept, dups, bad = dedupe(valid, ["event_id"], [f.name for f in parse.SEARCH_LOG_SPEC], conflicts=True)
            quarantines.append(_quarantine_of(bad))
        elif kind == Kind.VIDEOS.value:
            content = ["video_id", "title", "description", "channel", "duration_s", "published_at", "tags"]
            kept, dups, _ = dedupe(valid, ["video_id"], content, conflicts=False)
        else:
            content = ["query_id", "video_id", "annotator", "label", "ts"]
            kept, dups, _ = dedupe(valid, ["query_id", "video_id", "annotator"], content, conflicts=False)
        tables[kind] = kept.drop("reason", "detail", "raw", "kind", "file_sha256")
        duplicates[kind] = dups
    quarantine = quarantines[0]
    for q in quarantines[1:]:
        quarantine = quarantine.unionByName(q)
    return SilverResult(tables=tables, quarantine=quarantine, duplicates=duplicates)
