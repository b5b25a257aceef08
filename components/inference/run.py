"""`rankops score`: read pairs, attach features, score in Spark, write a versioned scored snapshot."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from components.common.spark import sql_conf

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from components.common.config import Settings
    from components.common.snapshots import Snapshot


class ScoringInputError(ValueError):
    """The input cannot be scored (missing table, columns or features); the message says which."""


def read_input(settings: Settings, spark: SparkSession, ref: str) -> tuple[DataFrame, dict[str, str], dict]:
    """(rows, parents, input manifest extra) of a snapshot ref (`table[@id]`) or a Parquet directory."""
    from components.common.snapshots import SnapshotNotFound, SnapshotStore

    if os.path.isdir(ref):
        return read_parquet(spark, ref), {"input_dir": os.path.abspath(ref)}, {}
    try:
        snap = SnapshotStore(settings.lakehouse).resolve(ref)
    except (SnapshotNotFound, ValueError) as exc:
        raise ScoringInputError(f"--input {ref}: {exc}") from None
    extra = dict(snap.manifest.get("extra") or {})
    return read_parquet(spark, snap.data_path), {snap.table: snap.snapshot_id}, extra


def nanosecond_timestamps(path: str) -> bool:
    """Whether the Parquet dir holds nanosecond timestamps (pandas writers), which Spark cannot read."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        schema = ds.dataset(path, format="parquet").schema
    except (OSError, pa.ArrowInvalid):
        return False  # Spark's own read then names the problem
    return any(pa.types.is_timestamp(f.type) and f.type.unit == "ns" for f in schema)


def read_parquet(spark: SparkSession, path: str) -> DataFrame:
    """Spark read of a Parquet dir; nanosecond timestamps (pandas writers) are cast to micros first.

    The schema is checked before Spark reads: letting Spark fail first printed a Java stack trace
    from the failed task even though the read then succeeded."""
    if not nanosecond_timestamps(path):
        return spark.read.parquet(path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    fields = [pa.field(f.name, pa.timestamp("us", tz=f.type.tz)) if pa.types.is_timestamp(f.type) else f
              for f in table.schema]
    # through pandas as before (same inferred Spark types), but shipped as Arrow: row-by-row pickling
    # took minutes at 200k pairs
    with sql_conf(spark, {"spark.sql.execution.arrow.pyspark.enabled": "true"}):
        return spark.createDataFrame(table.cast(pa.schema(fields)).to_pandas())


def attach_features(settings: Settings, spark: SparkSession, df: DataFrame, needed: list[str],
                    service: str) -> DataFrame:
    """Point-in-time features from the Feast offline store for rows that do not carry them yet.

    Same retrieval and default filling as the training set, so batch inputs see exactly what
    training saw for the same (query, video, timestamp).
    """
    missing = [c for c in needed if c not in df.columns]
    if not missing:
        return df
    keys = ["query_id", "video_id", "event_timestamp", "query_text"]
    lacking = [k for k in keys if k not in df.columns]
    if lacking:
        raise ScoringInputError(f"input lacks feature columns {missing} and the columns {lacking} "
                                "needed to fetch them from the Feast offline store")
    from components.features.definitions import feature_spec
    from components.features.feast_registry import ensure_registry
    from components.features.store_config import open_store
    from components.features.training_set import fill_defaults, retrieve_point_in_time

    store = open_store(settings)
    ensure_registry(settings, store)
    entity = df.toPandas()
    extra_cols = [c for c in entity.columns if c not in keys and c not in needed]
    raw = retrieve_point_in_time(store, entity, service)
    filled, _ = fill_defaults(raw, feature_spec(store, service))
    for col in extra_cols:  # labels, splits and other passthrough columns survive the join
        if col not in filled.columns:
            filled[col] = raw[col].to_numpy()
    return spark.createDataFrame(filled)


def scoring_frame(settings: Settings, df: DataFrame, partitions: int | None) -> DataFrame:
    """`df` cut into `partitions` (default: one per task slot, fewer for small inputs; see
    `scoring_partitions`), so every core scores and no task is a sliver."""
    from components.inference.batch import scoring_partitions

    if not partitions:
        slots = df.sparkSession.sparkContext.defaultParallelism
        partitions = scoring_partitions(df.count(), slots, settings.serving.batch_min_partition_rows)
    current = df.rdd.getNumPartitions()
    if partitions > current:
        return df.repartition(partitions)
    return df.coalesce(partitions) if partitions < current else df


def run_batch_scoring(settings: Settings, *, model_uri: str, input_ref: str, out_table: str | None = None,
                      spark: SparkSession | None = None, batch_size: int | None = None,
                      partitions: int | None = None) -> dict[str, Any]:
    """Score every (query, candidate) pair of `input_ref` with `model_uri`; returns the summary.

    The summary's `profile` splits the time: driver phases (`load_s`, `read_s`, `write_s`: the
    action that scores and writes) and the tasks' sums (see `components.inference.batch.new_profile`).
    """
    from components.common.snapshots import SnapshotStore
    from components.common.spark import get_spark
    from components.inference.batch import profile_accumulator, profile_summary, score_spark
    from components.inference.model import load_ranker, pinned_uri

    started = time.perf_counter()
    spark = spark or get_spark(settings)
    uri = pinned_uri(settings, model_uri)  # the alias may move mid-job: score with one version
    ranker = load_ranker(settings, uri)
    loaded = time.perf_counter()
    df, parents, in_extra = read_input(settings, spark, input_ref)
    service = str(in_extra.get("feature_service") or settings.serving.feature_service)
    df = scoring_frame(settings, attach_features(settings, spark, df, ranker.columns, service), partitions)
    profile = profile_accumulator(spark)
    threads = int(spark.conf.get("spark.task.cpus", "1"))
    scored = score_spark(df, model_uri=uri, tracking_uri=settings.tracking_uri, threads=threads, profile=profile,
                         batch_size=batch_size or settings.serving.batch_size, bf16=ranker.bf16)
    table = out_table or settings.serving.scored_table
    extra = {"model_uri": uri, "requested_model_uri": model_uri, "model_name": ranker.name,
             "model_version": ranker.version, "feature_service": service, "features": ranker.features,
             "text_columns": list(ranker.text_columns), "bf16": ranker.bf16, "input": input_ref, "input_snapshots": parents}
    read = time.perf_counter()
    write_started_at = time.time()
    arrow = {"spark.sql.execution.arrow.maxRecordsPerBatch": str(settings.serving.batch_arrow_records)}
    with sql_conf(spark, arrow):  # the snapshot is written, then hashed from the files: scored once
        snap: Snapshot = SnapshotStore(settings.lakehouse).write(table, scored, parents=parents, extra=extra,
                                                                 publish=True)
    done = time.perf_counter()
    seconds = done - started
    tasks = profile_summary(profile.value)
    first_batch_at = tasks.pop("first_batch_at")
    timing = {"load_s": round(loaded - started, 3), "read_s": round(read - loaded, 3),
              "write_s": round(done - read, 3), "partitions": df.rdd.getNumPartitions(),
              "first_batch_after_s": round(first_batch_at - write_started_at, 3) if first_batch_at else None, **tasks}
    return {"snapshot": snap.ref, "snapshot_id": snap.snapshot_id, "path": snap.path, "rows": snap.row_count,
            "model_uri": uri, "model_version": ranker.version, "feature_service": service,
            "input_snapshots": parents, "seconds": round(seconds, 2),
            "pairs_per_s": round(snap.row_count / seconds, 1) if seconds else None, "profile": timing}
