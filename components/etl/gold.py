"""Gold: Feast-ready feature tables and labels, exactly the columns of ``contract.GOLD_SCHEMAS``.

Statistics are cumulative up to the end of each UTC day with activity, stamped with that day's
last microsecond (23:59:59.999999): a point-in-time join at any moment sees only what was known
by the end of the previous active day, never the rest of the current one.
Position-debiased CTR = clicks / sum of examination propensities of the shown positions, with
propensity(p) = p ** -eta (a position-based click model; eta from the settings).
Labels: several annotators per (query, video) are reduced to each annotator's latest label and
then to the rounded mean (half up: 1.5 -> 2); the timestamp is the latest judgement. The split is
a hash of the query id (never a query in two splits): see ``split_of``.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from components.common.contract import GOLD_LABELS, GOLD_QUERY, GOLD_QUERY_VIDEO, GOLD_SCHEMAS, GOLD_VIDEO

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

SPLIT_SALT = "rankops-split:"
MICROS_PER_DAY = 86_400_000_000


def split_of(query_id: str, train: float = 0.8, validation: float = 0.1) -> str:
    """train / validation / test for a query id: a stable hash bucket in 0..99."""
    bucket = int(hashlib.sha1((SPLIT_SALT + query_id).encode()).hexdigest()[:8], 16) % 100
    return "train" if bucket < round(train * 100) else "validation" if bucket < round((train + validation) * 100) else "test"


def split_col(query_id: Column, train: float = 0.8, validation: float = 0.1) -> Column:
    """Spark twin of ``split_of``."""
    from pyspark.sql import functions as F

    bucket = F.conv(F.substring(F.sha1(F.concat(F.lit(SPLIT_SALT), query_id)), 1, 8), 16, 10).cast("bigint") % 100
    return (
        F.when(bucket < round(train * 100), F.lit("train"))
        .when(bucket < round((train + validation) * 100), F.lit("validation"))
        .otherwise(F.lit("test"))
    )


def conform(df: DataFrame, table: str) -> DataFrame:
    """Exactly the contract's columns, in order, cast to the contract's types."""
    from pyspark.sql import functions as F

    return df.select(*[F.col(name).cast(kind).alias(name) for name, kind in GOLD_SCHEMAS[table].items()])


def _day_end(day: Column) -> Column:
    """The last microsecond of a UTC day."""
    from pyspark.sql import functions as F

    return F.timestamp_micros(F.unix_micros(F.to_timestamp(F.date_add(day, 1))) - 1)


def _cumulative(daily: DataFrame, keys: list[str], sums: list[str]) -> DataFrame:
    """Running totals of `sums` per `keys`, ordered by day (one row per active day)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    w = Window.partitionBy(*keys).orderBy("day").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return daily.select(*keys, "day", *[F.sum(c).over(w).alias(c) for c in sums], *[
        c for c in daily.columns if c not in keys + sums + ["day"]
    ])


def _ratio(num: str, den: str) -> Column:
    from pyspark.sql import functions as F

    return F.when(F.col(den) > 0, F.col(num) / F.col(den)).otherwise(F.lit(0.0))


def with_day(search_log: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return search_log.withColumn("day", F.to_date("ts"))


def to_gold_query(search_log: DataFrame) -> DataFrame:
    """Per query and active day: cumulative impressions, clicks, CTR and distinct sessions."""
    from pyspark.sql import functions as F

    sl = with_day(search_log)
    daily = sl.groupBy("query_id", "day").agg(
        F.count(F.lit(1)).alias("query_impressions"),
        F.sum(F.col("clicked").cast("long")).alias("query_clicks"),
        F.max("query_norm").alias("query_text"),
    )
    first_seen = sl.groupBy("query_id", "session_id").agg(F.min("day").alias("day"))
    new_sessions = first_seen.groupBy("query_id", "day").agg(F.count(F.lit(1)).alias("query_sessions"))
    daily = daily.join(new_sessions, ["query_id", "day"], "left").fillna(0, ["query_sessions"])
    cum = _cumulative(daily, ["query_id"], ["query_impressions", "query_clicks", "query_sessions"])
    out = cum.select(
        "query_id",
        _day_end(F.col("day")).alias("event_timestamp"),
        "query_text",
        F.size(F.split("query_text", " ")).alias("query_num_tokens"),
        "query_impressions",
        "query_clicks",
        _ratio("query_clicks", "query_impressions").alias("query_ctr"),
        "query_sessions",
    )
    return conform(out, GOLD_QUERY)


def latest_catalogue(videos: DataFrame) -> DataFrame:
    """The latest catalogue version of each video (by batch, file, line)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    w = Window.partitionBy("video_id").orderBy(F.desc("batch_id"), F.desc("source_file"), F.desc("line_number"))
    return videos.withColumn("_rn", F.row_number().over(w)).filter(F.col("_rn") == 1).drop("_rn")


def to_gold_video(search_log: DataFrame, videos: DataFrame) -> DataFrame:
    """Per catalogue video: one row when it appears (zero counts) and one per active day.

    Every catalogue video gets a row, also one never shown, so a point-in-time join always
    finds its text. Videos shown but missing from the catalogue have no text and are left out.
    """
    from pyspark.sql import functions as F

    cat = latest_catalogue(videos).select(
        "video_id", "canonical_url", "title", "description", "channel", "duration_s", "published_at",
        F.size("tags").alias("tag_count"),
    )
    daily = with_day(search_log).groupBy("video_id", "day").agg(
        F.count(F.lit(1)).alias("video_impressions"), F.sum(F.col("clicked").cast("long")).alias("video_clicks")
    )
    cum = _cumulative(daily, ["video_id"], ["video_impressions", "video_clicks"])
    active = cum.join(F.broadcast(cat), "video_id").withColumn("event_timestamp", _day_end(F.col("day")))
    first_day = daily.groupBy("video_id").agg(F.min("day").alias("first_day"))
    listed = (
        cat.join(first_day, "video_id", "left")
        .withColumn(
            "event_timestamp",
            F.when(F.col("first_day").isNull(), F.col("published_at")).otherwise(
                F.least(F.col("published_at"), F.to_timestamp(F.col("first_day")))
            ),
        )
        .withColumn("video_impressions", F.lit(0).cast("long"))
        .withColumn("video_clicks", F.lit(0).cast("long"))
    )
    cols = ["video_id", "event_timestamp", "canonical_url", "title", "description", "channel", "duration_s",
            "published_at", "tag_count", "video_impressions", "video_clicks"]
    both = active.select(*cols).unionByName(listed.select(*cols))
    age = (F.unix_micros("event_timestamp") - F.unix_micros("published_at")) / F.lit(float(MICROS_PER_DAY))
    out = both.withColumn("video_age_days", F.greatest(age, F.lit(0.0))).withColumn(
        "video_ctr", _ratio("video_clicks", "video_impressions")
    )
    return conform(out, GOLD_VIDEO)


def to_gold_query_video(search_log: DataFrame, eta: float = 1.0) -> DataFrame:
    """Per (query, video) and active day: cumulative interaction statistics."""
    from pyspark.sql import functions as F

    daily = with_day(search_log).groupBy("query_id", "video_id", "day").agg(
        F.count(F.lit(1)).alias("qv_impressions"),
        F.sum(F.col("clicked").cast("long")).alias("qv_clicks"),
        F.sum(F.col("position").cast("double")).alias("pos_sum"),
        F.sum(F.col("dwell_ms").cast("double")).alias("dwell_sum"),
        F.count("dwell_ms").alias("dwell_n"),
        F.sum(F.pow(F.col("position").cast("double"), F.lit(-eta))).alias("exam_sum"),
    )
    sums = ["qv_impressions", "qv_clicks", "pos_sum", "dwell_sum", "dwell_n", "exam_sum"]
    cum = _cumulative(daily, ["query_id", "video_id"], sums)
    out = cum.select(
        "query_id",
        "video_id",
        _day_end(F.col("day")).alias("event_timestamp"),
        "qv_impressions",
        "qv_clicks",
        _ratio("qv_clicks", "qv_impressions").alias("qv_ctr"),
        _ratio("pos_sum", "qv_impressions").alias("qv_mean_position"),
        _ratio("dwell_sum", "dwell_n").alias("qv_mean_dwell_ms"),
        _ratio("qv_clicks", "exam_sum").alias("qv_debiased_ctr"),
    )
    return conform(out, GOLD_QUERY_VIDEO)


def to_gold_labels(judgements: DataFrame, train: float = 0.8, validation: float = 0.1) -> DataFrame:
    """Per (query, video): the rounded mean of each annotator's latest label, and the split."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    w = Window.partitionBy("query_id", "video_id", "annotator").orderBy(
        F.desc("ts"), F.desc("batch_id"), F.desc("source_file"), F.desc("line_number")
    )
    latest = judgements.withColumn("_rn", F.row_number().over(w)).filter(F.col("_rn") == 1)
    agg = latest.groupBy("query_id", "video_id").agg(
        F.max("ts").alias("event_timestamp"),
        F.max("query_norm").alias("query_text"),
        F.round(F.avg("label"), 0).cast("int").alias("label"),
    )
    return conform(agg.withColumn("split", split_col(F.col("query_id"), train, validation)), GOLD_LABELS)


def to_gold(silver: dict[str, DataFrame], *, eta: float = 1.0, train: float = 0.8, validation: float = 0.1) -> dict[str, DataFrame]:
    """All four gold tables from the silver tables."""
    sl, videos, judgements = silver["search_log"], silver["videos"], silver["judgements"]
    return {
        GOLD_QUERY: to_gold_query(sl),
        GOLD_VIDEO: to_gold_video(sl, videos),
        GOLD_QUERY_VIDEO: to_gold_query_video(sl, eta),
        GOLD_LABELS: to_gold_labels(judgements, train, validation),
    }
