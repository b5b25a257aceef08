"""Batch scoring throughput: Spark mapInPandas (`rankops score`) vs a bare pyfunc predict, same data.

    .venv/bin/python benchmarks/batch_inference.py --queries 400 --per-query 25

Trains the tiny ELECTRA on a sample training set (a few seconds), registers it as champion, then
scores the same training-set snapshot three ways and prints pairs/s:
  bare      mlflow.pyfunc.load_model(uri).predict(whole frame)          (one process, no Spark)
  bucketed  the same model through components.inference.batch.score_pandas (length buckets)
  spark     run_batch_scoring: mapInPandas, model loaded once per Python worker, snapshot written
The Spark figure includes the snapshot write; `--repeat` > 1 shows the warm-worker rate.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--per-query", type=int, default=25)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out")
    args = ap.parse_args()

    import mlflow
    import numpy as np
    from mlflow import MlflowClient

    from components.common.config import load_settings
    from components.common.mlflow_client import use_mlflow
    from components.common.snapshots import SnapshotStore
    from components.common.spark import get_spark
    from components.inference.batch import score_pandas
    from components.inference.model import load_ranker
    from components.inference.run import run_batch_scoring
    from tests.support.training_data import train_tiny_model

    with tempfile.TemporaryDirectory(prefix="rankops-batch-bench-") as tmp:
        settings = load_settings("local", environ={"RANKOPS_HOME": tmp, "RANKOPS_SPARK__MASTER": "local[2]"})
        result = train_tiny_model(settings, n_queries=args.queries, per_query=args.per_query)
        use_mlflow(settings)
        name = settings.registry.model_name
        version = mlflow.register_model(result.model_uri, name).version
        MlflowClient(settings.tracking_uri, settings.tracking_uri).set_registered_model_alias(name, "champion", version)
        uri = f"models:/{name}/{version}"
        lake = SnapshotStore(settings.lakehouse)
        snap = lake.latest(f"features/training_set_{settings.training.feature_service}")
        frame = SnapshotStore.read_pandas(snap)
        n = len(frame)
        ranker = load_ranker(settings, uri)
        model_input = ranker.frame(frame)
        ranker.pyfunc.predict(model_input.head(64))  # warm-up

        t = time.perf_counter()
        bare = np.asarray(ranker.pyfunc.predict(model_input), dtype=float)
        bare_s = time.perf_counter() - t
        t = time.perf_counter()
        bucketed = score_pandas(ranker, frame, batch_size=args.batch_size)["score"].to_numpy()
        bucket_s = time.perf_counter() - t

        spark = get_spark(settings)
        spark_runs = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            summary = run_batch_scoring(settings, model_uri=uri, input_ref=snap.ref, spark=spark,
                                        batch_size=args.batch_size)
            spark_runs.append(time.perf_counter() - t)
        scored = SnapshotStore.read_pandas(lake.resolve(summary["snapshot"]))
        merged = frame[["query_id", "video_id"]].assign(bare=bare).merge(scored[["query_id", "video_id", "score"]])
        spark.stop()
    figures = {
        "pairs": n, "batch_size": args.batch_size, "cores": 2,
        "bare_pairs_per_s": round(n / bare_s, 1), "bucketed_pairs_per_s": round(n / bucket_s, 1),
        "spark_pairs_per_s": [round(n / s, 1) for s in spark_runs],
        "max_abs_diff_spark_vs_bare": float(np.abs(merged["bare"] - merged["score"]).max()),
        "max_abs_diff_bucketed_vs_bare": float(np.abs(bucketed - bare).max()),
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
