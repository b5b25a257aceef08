"""Gold of the project (Spark, pure: silver frames in, gold frames out; `contract.GOLD_SCHEMAS`).

Statistics are cumulative up to the end of each UTC day with activity and stamped with that day's
last microsecond, so the point-in-time join of an impression sees only earlier days: no click of
the impression itself (or of its day) leaks into its features. Every catalogue video also gets a
row when it appears (zero counts), so an impression always finds its title. The split is the
platform's hash of the query id (`components.etl.gold.split_col`): no query in two splits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .contract import GOLD_SCHEMAS, IMPRESSIONS, PAIRS, QUERIES, VIDEOS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

MICROS_PER_DAY = 86_400_000_000


def _conform(df: DataFrame, table: str) -> DataFrame:
    from pyspark.sql import functions as F

    return df.select(*[F.col(name).cast(kind).alias(name) for name, kind in GOLD_SCHEMAS[table].items()])


def _day_end(day: Column) -> Column:
    from pyspark.sql import functions as F

    return F.timestamp_micros(F.unix_micros(F.to_timestamp(F.date_add(day, 1))) - 1)


def _ratio(num: str, den: str) -> Column:
    from pyspark.sql import functions as F

    return F.when(F.col(den) > 0, F.col(num) / F.col(den)).otherwise(F.lit(0.0))


def _cumulative(daily: DataFrame, keys: list[str], sums: list[str]) -> DataFrame:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    w = Window.partitionBy(*keys).orderBy("day").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return daily.select(*keys, "day", *[F.sum(c).over(w).alias(c) for c in sums],
                        *[c for c in daily.columns if c not in [*keys, "day", *sums]])


def query_stats(impressions: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    daily = impressions.groupBy("query_id", "day").agg(
        F.count(F.lit(1)).alias("query_impressions"), F.sum(F.col("clicked").cast("long")).alias("query_clicks"),
        F.max("query_norm").alias("query_text"))
    cum = _cumulative(daily, ["query_id"], ["query_impressions", "query_clicks"])
    out = cum.select("query_id", _day_end(F.col("day")).alias("event_timestamp"), "query_text",
                     F.size(F.split("query_text", " ")).alias("query_num_tokens"), "query_impressions", "query_clicks",
                     _ratio("query_clicks", "query_impressions").alias("query_ctr"))
    return _conform(out, QUERIES)


def video_stats(impressions: DataFrame, videos: DataFrame) -> DataFrame:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    latest = Window.partitionBy("video_id").orderBy(F.desc("batch_id"), F.desc("source_file"), F.desc("line_number"))
    cat = (videos.withColumn("_rn", F.row_number().over(latest)).filter("_rn = 1")
           .select("video_id", "title", "description", "duration_s", "published_at"))
    daily = impressions.groupBy("video_id", "day").agg(
        F.count(F.lit(1)).alias("video_impressions"), F.sum(F.col("clicked").cast("long")).alias("video_clicks"),
        F.sum(F.col("position").cast("double")).alias("position_sum"))
    cum = _cumulative(daily, ["video_id"], ["video_impressions", "video_clicks", "position_sum"])
    active = cum.join(F.broadcast(cat), "video_id").withColumn("event_timestamp", _day_end(F.col("day")))
    first_day = daily.groupBy("video_id").agg(F.min("day").alias("first_day"))
    appears = F.when(F.col("first_day").isNull(), F.col("published_at")).otherwise(
        F.least(F.col("published_at"), F.to_timestamp(F.col("first_day"))))
    listed = (cat.join(first_day, "video_id", "left").withColumn("event_timestamp", appears)
              .withColumn("video_impressions", F.lit(0).cast("long")).withColumn("video_clicks", F.lit(0).cast("long"))
              .withColumn("position_sum", F.lit(0.0)))
    cols = ["video_id", "event_timestamp", "title", "description", "duration_s", "published_at", "video_impressions",
            "video_clicks", "position_sum"]
    both = active.select(*cols).unionByName(listed.select(*cols))
    age = (F.unix_micros("event_timestamp") - F.unix_micros("published_at")) / F.lit(float(MICROS_PER_DAY))
    out = (both.withColumn("video_age_days", F.greatest(age, F.lit(0.0)))
           .withColumn("video_ctr", _ratio("video_clicks", "video_impressions"))
           .withColumn("video_mean_position", _ratio("position_sum", "video_impressions")))
    return _conform(out, VIDEOS)


def pair_stats(impressions: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    daily = impressions.groupBy("query_id", "video_id", "day").agg(
        F.count(F.lit(1)).alias("pair_impressions"), F.sum(F.col("clicked").cast("long")).alias("pair_clicks"),
        F.sum(F.col("position").cast("double")).alias("position_sum"))
    cum = _cumulative(daily, ["query_id", "video_id"], ["pair_impressions", "pair_clicks", "position_sum"])
    out = cum.select("query_id", "video_id", _day_end(F.col("day")).alias("event_timestamp"), "pair_impressions",
                     "pair_clicks", _ratio("pair_clicks", "pair_impressions").alias("pair_ctr"),
                     _ratio("position_sum", "pair_impressions").alias("pair_mean_position"))
    return _conform(out, PAIRS)


def impression_labels(impressions: DataFrame, train: float, validation: float) -> DataFrame:
    from pyspark.sql import functions as F

    from components.etl.gold import split_col

    out = impressions.select(
        "event_id", "query_id", "video_id", F.col("ts").alias("event_timestamp"), F.col("query_norm").alias("query_text"),
        "position", F.col("clicked").cast("int").alias("label"),
        split_col(F.col("query_id"), train, validation).alias("split"))
    return _conform(out, IMPRESSIONS)


def build_gold(silver: dict[str, DataFrame], settings: Any) -> dict[str, DataFrame]:
    """The four gold tables from the silver search log and catalogue (`settings.etl` gives the split)."""
    from pyspark.sql import functions as F

    impressions = silver["search_log"].withColumn("day", F.to_date("ts"))
    cfg = settings.etl
    return {QUERIES: query_stats(impressions), VIDEOS: video_stats(impressions, silver["videos"]),
            PAIRS: pair_stats(impressions), IMPRESSIONS: impression_labels(impressions, cfg.train_share, cfg.validation_share)}
