"""Batch scoring: length bucketing keeps input order; Spark scores equal bare pyfunc scores."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from components.common.snapshots import SnapshotStore
from components.inference.batch import merge_profiles, score_bucketed, scoring_partitions
from components.inference.model import load_ranker
from components.inference.run import ScoringInputError, nanosecond_timestamps, read_parquet, run_batch_scoring
from tests.support import serving_data as sample


def test_bucketing_batches_by_length_and_restores_order():
    df = pd.DataFrame({"query_text": ["aaaa", "a", "aaa", "aa", "aaaaa"], "title": [""] * 5, "description": [""] * 5})
    calls = []

    def predict(batch: pd.DataFrame) -> np.ndarray:
        calls.append(batch["query_text"].tolist())
        return batch["query_text"].str.len().to_numpy(dtype=float)

    scores = score_bucketed(predict, df, batch_size=2, text_columns=("query_text", "title", "description"))
    assert scores.tolist() == [4.0, 1.0, 3.0, 2.0, 5.0]
    assert calls == [["a", "aa"], ["aaa", "aaaa"], ["aaaaa"]]
    with pytest.raises(ValueError, match="batch_size"):
        score_bucketed(predict, df, batch_size=0, text_columns=("query_text",))


def test_scoring_partitions_one_per_slot_fewer_for_small_inputs():
    assert scoring_partitions(200_000, 2, 10_000) == 2  # big input: every slot busy
    assert scoring_partitions(5_000, 2, 10_000) == 1  # two tasks of 2,500 would each pay a round trip
    assert scoring_partitions(15_000, 4, 10_000) == 2  # ceil(15k / 10k)
    assert scoring_partitions(0, 2, 10_000) == 1
    with pytest.raises(ValueError, match="slots and min_rows"):
        scoring_partitions(10, 0, 10_000)


def test_profiles_sum_phases_and_keep_latest_clock():
    a = {"tasks": 1.0, "score_s": 0.5, "task_max_s": 2.0, "first_batch_at": 100.0}
    b = {"tasks": 1.0, "score_s": 0.25, "task_max_s": 3.0, "first_batch_at": 90.0}
    assert merge_profiles(a, b) == {"tasks": 2.0, "score_s": 0.75, "task_max_s": 3.0, "first_batch_at": 100.0}


@pytest.mark.slow  # the first mapInPandas starts Spark's Python workers (import mlflow + load) ~20-80 s
def test_spark_scoring_writes_versioned_snapshot_equal_to_bare_predict(serving_env, spark):
    settings, tables, info = serving_env
    train = sample.write_training_set(settings, tables)
    n = len(tables["training_set"])
    # default partitioning: the sample is far under batch_min_partition_rows, so one task, one model load
    first = run_batch_scoring(settings, model_uri="models:/rankops-ranker@champion", input_ref=train.ref,
                              spark=spark, batch_size=7)
    assert first["profile"]["partitions"] == 1 and first["profile"]["tasks"] == 1 and first["profile"]["rows"] == n
    assert first["profile"]["model_loads"] <= 1  # 0 when a worker of an earlier test already holds the model
    # Spark hands a task to any idle Python worker (local[2] keeps up to two; an idle one may be
    # replaced by a new one), so a warm run loads the model only in a worker that has not held it:
    # a new worker or the one other idle worker. A per-run or per-task load would exceed that
    warm = [run_batch_scoring(settings, model_uri="models:/rankops-ranker/1", input_ref=train.ref, spark=spark,
                              batch_size=7) for _ in range(2)]
    assert sum(w["profile"]["model_loads"] for w in warm) <= 1 + sum(w["profile"]["new_workers"] for w in warm)
    assert {w["snapshot_id"] for w in warm} == {first["snapshot_id"]}
    summary = run_batch_scoring(settings, model_uri="models:/rankops-ranker@champion", input_ref=train.ref,
                                spark=spark, batch_size=7, partitions=3)
    assert summary["profile"]["partitions"] == 3 and summary["profile"]["rows"] == n
    assert summary["profile"]["model_loads"] <= 2  # one per Python worker at most (local[2]), never per task
    snap = SnapshotStore(settings.lakehouse).resolve(summary["snapshot"])
    assert snap.table == "inference/scored" and summary["rows"] == len(tables["training_set"])
    extra = snap.manifest["extra"]
    assert extra["model_uri"] == "models:/rankops-ranker/1" and extra["model_version"] == "1"
    assert extra["feature_service"] == "ranker_v1" and extra["features"] == sample.FEATURES
    assert snap.manifest["parents"] == {train.table: train.snapshot_id}
    scored = SnapshotStore.read_pandas(snap).sort_values(["query_id", "video_id"]).reset_index(drop=True)
    bare = load_ranker(settings, "models:/rankops-ranker/1").predict(tables["training_set"])
    # the reference model is numpy arithmetic: the last bit depends on the rows per call (and so on
    # the partitioning; ELECTRA's scores are bit-equal, see benchmarks/batch_inference.py)
    np.testing.assert_allclose(scored["score"].to_numpy(), bare, rtol=0, atol=1e-9)
    # the snapshot is the input's rows and columns untouched plus the score: the same content written
    # by a plain join has the same hash (a lost, duplicated or altered row or column would change it)
    source = spark.read.parquet(train.data_path)
    expected = source.join(spark.createDataFrame(scored[["query_id", "video_id", "score"]]),
                           ["query_id", "video_id"]).select(*source.columns, "score")
    reference = SnapshotStore(settings.lakehouse).write("check/expected_scored", expected)
    assert reference.manifest["content_hash"] == snap.manifest["content_hash"] and reference.row_count == n


def test_score_cli_reports_missing_input_cleanly(serving_env, spark):
    settings, _, _ = serving_env
    # the whole message: the flag, the table and where it was looked for (not just the echoed name)
    expected = f"--input features/nope: table 'features/nope' has no published snapshot under {settings.lakehouse} "
    with pytest.raises(ScoringInputError, match=re.escape(expected)):
        run_batch_scoring(settings, model_uri="models:/rankops-ranker/1", input_ref="features/nope", spark=spark)


def test_score_command_end_to_end(serving_env, spark, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipelines.cli import build_app

    settings, tables, _ = serving_env
    sample.write_training_set(settings, tables)
    monkeypatch.setenv("RANKOPS_HOME", str(settings.home))
    out = tmp_path / "summary.json"
    res = CliRunner().invoke(build_app(), ["score", "--model", "models:/rankops-ranker@champion",
                                           "--summary", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads(out.read_text())
    assert summary["rows"] == len(tables["training_set"]) and summary["model_version"] == "1"
    bad = CliRunner().invoke(build_app(), ["score", "--model", "models:/rankops-ranker@nope"])
    assert bad.exit_code == 1 and "not in the registry" in bad.output


def test_pandas_nanosecond_timestamps_are_read_without_a_failed_spark_task(spark, tmp_path):
    frame = pd.DataFrame({"query_id": ["q1", "q2"], "ts": pd.to_datetime(["2026-01-01 10:00:00.123456",
                                                                          "2026-01-02 11:30:00.000001"], utc=True)})
    pandas_dir, spark_dir = tmp_path / "pandas", tmp_path / "spark"
    pandas_dir.mkdir()
    frame.to_parquet(pandas_dir / "part-0.parquet")  # pandas writes TIMESTAMP(NANOS)
    spark.createDataFrame(frame).write.parquet(str(spark_dir))  # Spark writes micros
    assert nanosecond_timestamps(str(pandas_dir)) and not nanosecond_timestamps(str(spark_dir))
    sc = spark.sparkContext
    sc.setJobGroup("nanosecond-read", "read_parquet of a pandas-written dir")
    try:
        for path in (pandas_dir, spark_dir):
            got = read_parquet(spark, str(path)).toPandas().sort_values("query_id").reset_index(drop=True)
            assert got["query_id"].tolist() == ["q1", "q2"]
            assert pd.to_datetime(got["ts"], utc=True).tolist() == frame["ts"].tolist()  # microseconds kept
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    tracker = sc.statusTracker()
    jobs = [tracker.getJobInfo(j) for j in tracker.getJobIdsForGroup("nanosecond-read")]
    assert jobs and all(j.status != "FAILED" for j in jobs)  # Spark was never sent at the nanoseconds


def test_registry_uri_parsing():
    from components.inference.model import parse_registry_uri

    assert parse_registry_uri("models:/rankops-ranker@champion") == ("rankops-ranker", None, "champion")
    assert parse_registry_uri("models:/rankops-ranker/7") == ("rankops-ranker", "7", None)
    assert parse_registry_uri("models:/m-611b731b18544eb0") == (None, None, None)  # MLflow 3 logged model
    assert parse_registry_uri("runs:/abc/model") == (None, None, None)
