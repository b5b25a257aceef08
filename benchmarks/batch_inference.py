"""Batch scoring throughput: `rankops score` through Spark vs the bare pyfunc, side by side in one run.

    .venv/bin/python benchmarks/batch_inference.py                 # 200k pairs (8000 queries x 25)
    .venv/bin/python benchmarks/batch_inference.py --queries 200   # 5k pairs, quick look

Trains the tiny ELECTRA on a sample training set, registers it, then scores the same snapshot:
  bare   mlflow.pyfunc.load_model(uri).predict(whole frame), one process, no Spark, with the faster
         of torch's default threads and one thread; measured before and after the Spark runs, the
         faster of the two is the reference
  cold   run_batch_scoring in a fresh session: Python worker start-up and model load included
         (the JVM start is printed on its own, and a rate with it)
  warm   run_batch_scoring again in the same session (workers and their cached model reused)
Prints the split (Spark start-up, Python worker start-up, model load per worker, Arrow transfer,
features, tokenise, lexical, forward, snapshot write), the load average, whether the Spark scores
equal the bare ones, and "met"/"NOT met" against the targets (warm >= 0.5x bare, cold >= 0.3x).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARM_TARGET, COLD_TARGET = 0.5, 0.3
SAMPLE = 20_000  # rows for choosing the bare model's threads and for its phase split


def bare_split(ranker, frame) -> dict[str, float]:
    """Seconds of each phase of the bare model over `frame`: features, tokenise, lexical, forward (ELECTRA)."""
    from components.training.model import encode_frame, score_encoded

    scorer = ranker.pyfunc.unwrap_python_model().scorer
    t0 = time.perf_counter()
    model_input = ranker.frame(frame)
    t1 = time.perf_counter()
    ids, types = encode_frame(scorer.tokenizer, model_input)
    t2 = time.perf_counter()
    lexical = scorer.spec.lexical
    if lexical is not None:
        lexical.transform(model_input)
    t3 = time.perf_counter()
    feats = scorer.spec.transform(model_input)  # numeric + lexical again: the numeric part is this minus lexical
    t4 = time.perf_counter()
    score_encoded(scorer.model, ids, types, feats, batch_size=int(scorer.meta.get("score_batch_size", 256)),
                  pad_id=scorer.pad_id)
    t5 = time.perf_counter()
    return {"features_s": round(t1 - t0 + max(0.0, (t4 - t3) - (t3 - t2)), 3), "tokenise_s": round(t2 - t1, 3),
            "lexical_s": round(t3 - t2, 3), "forward_s": round(t5 - t4, 3)}


def pick_threads(ranker, sample) -> int:
    """torch threads that score `sample` fastest here (default vs 1): the bare reference gets its best.

    Left at that for the bare runs; Spark tasks set their own (spark.task.cpus) in their workers.
    """
    import torch

    timings = {}
    for threads in sorted({torch.get_num_threads(), 1}, reverse=True):
        torch.set_num_threads(threads)
        timings[threads] = time_bare(ranker, sample)[0]
    best = min(timings, key=timings.get)
    torch.set_num_threads(best)
    return best


def time_bare(ranker, model_input) -> tuple[float, object]:
    import numpy as np

    t = time.perf_counter()
    scores = np.asarray(ranker.pyfunc.predict(model_input), dtype=float)
    return time.perf_counter() - t, scores


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def verdict(ratio: float, target: float) -> str:
    return "met" if ratio >= target else "NOT met"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=8000)
    ap.add_argument("--per-query", type=int, default=25)
    ap.add_argument("--batch-size", type=int, default=None, help="pairs per model call (default: the profile's)")
    ap.add_argument("--repeat", type=int, default=2, help="warm runs after the cold one")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--out")
    args = ap.parse_args()

    import mlflow
    import numpy as np
    import torch
    from mlflow import MlflowClient

    from components.common.config import load_settings
    from components.common.mlflow_client import use_mlflow
    from components.common.snapshots import SnapshotStore
    from components.common.spark import get_spark
    from components.inference.model import load_ranker
    from components.inference.run import run_batch_scoring
    from tests.support.training_data import train_tiny_model

    figures: dict = {"load_avg_start": load()}
    with tempfile.TemporaryDirectory(prefix="rankops-batch-bench-") as tmp:
        settings = load_settings("local", environ={"RANKOPS_HOME": tmp, "RANKOPS_SPARK__MASTER": args.master})
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
        figures["load_avg_bare_before"] = load()
        figures["bare_threads"] = bare_threads = pick_threads(ranker, model_input.head(SAMPLE))
        bare_before_s, bare = time_bare(ranker, model_input)
        figures["bare_split_s"] = bare_split(ranker, frame.head(SAMPLE))

        t = time.perf_counter()
        spark = get_spark(settings)
        spark.range(1).count()
        figures["spark_startup_s"] = round(time.perf_counter() - t, 2)
        runs = []
        for i in range(1 + args.repeat):
            figures[f"load_avg_run{i}"] = load()
            summary = run_batch_scoring(settings, model_uri=uri, input_ref=snap.ref, spark=spark,
                                        batch_size=args.batch_size)
            runs.append(summary)
        scored = SnapshotStore.read_pandas(lake.resolve(runs[-1]["snapshot"]))
        spark.stop()
        figures["load_avg_bare_after"] = load()
        torch.set_num_threads(bare_threads)  # the session's model loads in this process may have changed it
        bare_after_s, bare_again = time_bare(ranker, model_input)

    merged = frame[["query_id", "video_id"]].assign(bare=bare).merge(scored[["query_id", "video_id", "score"]])
    bare_rate = n / min(bare_before_s, bare_after_s)
    cold, warm = runs[0], runs[1:]
    warm_rate = max(r["pairs_per_s"] for r in warm) if warm else float("nan")
    figures.update({
        "pairs": n, "master": args.master, "batch_size": args.batch_size or settings.serving.batch_size,
        "bare_pairs_per_s": [round(n / bare_before_s, 1), round(n / bare_after_s, 1)],
        "cold_pairs_per_s": cold["pairs_per_s"],
        "cold_with_spark_startup_pairs_per_s": round(n / (cold["seconds"] + figures["spark_startup_s"]), 1),
        "warm_pairs_per_s": [r["pairs_per_s"] for r in warm],
        "cold_ratio": round(cold["pairs_per_s"] / bare_rate, 3),
        "warm_ratio": round(warm_rate / bare_rate, 3) if warm else None,
        "spark_profiles": [r["profile"] for r in runs],
        "snapshot_ids": [r["snapshot_id"] for r in runs],
        "rows_compared": len(merged),
        "scores_equal_bare": int((merged["bare"] == merged["score"]).sum()),
        "max_abs_diff_spark_vs_bare": float(np.abs(merged["bare"] - merged["score"]).max()),
        "bare_repeatable": bool(np.array_equal(bare, bare_again)),
    })
    figures["cold_verdict"] = verdict(figures["cold_ratio"], COLD_TARGET)
    figures["warm_verdict"] = verdict(figures["warm_ratio"] or 0.0, WARM_TARGET)
    print(json.dumps(figures, indent=2))
    print_table(figures)
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def print_table(f: dict) -> None:
    """The split, one line per phase: Spark figures are task sums (divide by the slots for wall time)."""
    cold, warm = f["spark_profiles"][0], f["spark_profiles"][-1]
    rows = [("Spark start-up (JVM, session)", f["spark_startup_s"], "-"),
            ("driver: registry + model metadata", cold["load_s"], warm["load_s"]),
            ("driver: read input, partition", cold["read_s"], warm["read_s"]),
            ("Python worker start-up (write start -> last task's first batch)", cold["first_batch_after_s"],
             warm["first_batch_after_s"]),
            ("model load per worker (mean, new workers only)",
             round(cold["model_load_s"] / max(1, cold["model_loads"]), 3),
             round(warm["model_load_s"] / max(1, warm["model_loads"]), 3)),
            ("Arrow transfer in + out (task sum)", round(cold["arrow_in_s"] + cold["arrow_out_s"], 3),
             round(warm["arrow_in_s"] + warm["arrow_out_s"], 3)),
            ("features + tokenise + lexical + forward (task sum)", cold["score_s"], warm["score_s"]),
            ("score, write, hash: the write action (wall)", cold["write_s"], warm["write_s"]),
            ("snapshot write + hash beyond the slowest task (wall)", round(cold["write_s"] - cold["task_max_s"], 3),
             round(warm["write_s"] - warm["task_max_s"], 3))]
    print(f"\n{f['pairs']} pairs, {f['master']}, batch_size {f['batch_size']}, partitions {warm['partitions']}; "
          f"load average {f['load_avg_start']} at start, {f['load_avg_run0']} before cold")
    print(f"{'phase':<66} {'cold s':>8} {'warm s':>8}")
    for label, c, w in rows:
        print(f"{label:<66} {c!s:>8} {w!s:>8}")
    split = f["bare_split_s"]
    print(f"bare model split (one process, {f['bare_threads']} torch thread(s), first {SAMPLE} pairs): features {split['features_s']} s, tokenise {split['tokenise_s']} s, "
          f"lexical {split['lexical_s']} s, forward {split['forward_s']} s")
    print(f"bare {f['bare_pairs_per_s']} pairs/s (before, after); Spark cold {f['cold_pairs_per_s']} "
          f"({f['cold_with_spark_startup_pairs_per_s']} with JVM start), warm {f['warm_pairs_per_s']}")
    print(f"scores equal to bare: {f['scores_equal_bare']}/{f['rows_compared']} (max |diff| "
          f"{f['max_abs_diff_spark_vs_bare']:.3g}); same snapshot every run: {len(set(f['snapshot_ids'])) == 1}")
    print(f"warm {f['warm_ratio']}x bare (target >= {WARM_TARGET}): {f['warm_verdict']}; "
          f"cold {f['cold_ratio']}x bare (target >= {COLD_TARGET}): {f['cold_verdict']}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
