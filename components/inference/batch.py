"""Batch scoring: length-bucketed pandas scoring, and the Spark mapInPandas wrapper around it.

Sorting pairs by text length before cutting batches keeps dynamic padding short (measured 3-6x
on ELECTRA). In Spark the model is loaded once per Python worker (a module-level cache keyed by
model URI; workers are reused across tasks and jobs) and each Arrow batch goes to the model in
a few large calls, so what is left on top of the bare model is Arrow transfer and the snapshot.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from pyspark import Accumulator
    from pyspark.sql import DataFrame

    from components.inference.model import Ranker

SCORE_COLUMN = "score"
_WORKER_MODELS: dict[str, Ranker] = {}
_WORKER_SEEN: list[bool] = []  # non-empty once this Python worker has run a scoring task


def text_lengths(df: pd.DataFrame, text_columns: tuple[str, ...]) -> np.ndarray:
    """Characters of text per row: the proxy for token count used to bucket batches."""
    import numpy as np

    total = np.zeros(len(df), dtype="int64")
    for col in text_columns:
        if col in df.columns:
            total += df[col].fillna("").astype(str).str.len().to_numpy(dtype="int64")
    return total


def score_bucketed(predict: Callable[[pd.DataFrame], np.ndarray], df: pd.DataFrame, *, batch_size: int,
                   text_columns: tuple[str, ...]) -> np.ndarray:
    """Scores for `df` rows in input order, predicted in batches of similar text length."""
    import numpy as np

    if batch_size <= 0:
        raise ValueError(f"batch_size must be > 0, got {batch_size}")
    scores = np.empty(len(df), dtype="float64")
    order = np.argsort(text_lengths(df, text_columns), kind="stable")
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        scores[idx] = np.asarray(predict(df.iloc[idx].reset_index(drop=True)), dtype="float64").reshape(-1)
    return scores


def score_pandas(ranker: Ranker, df: pd.DataFrame, *, batch_size: int) -> pd.DataFrame:
    """`df` with a `score` column added (input order kept)."""
    out = df.copy()
    out[SCORE_COLUMN] = score_bucketed(ranker.predict, df, batch_size=batch_size, text_columns=ranker.text_columns)
    return out


def scoring_partitions(rows: int, slots: int, min_rows: int) -> int:
    """Partitions to score `rows` pairs on `slots` task slots: one per slot, fewer when each would
    get under `min_rows` (a task pays a model-cache lookup and an Arrow round trip)."""
    if slots <= 0 or min_rows <= 0:
        raise ValueError(f"slots and min_rows must be > 0, got {slots} and {min_rows}")
    return max(1, min(slots, math.ceil(rows / min_rows)))


def _worker_ranker(model_uri: str, tracking_uri: str, bf16: bool, threads: int) -> tuple[Ranker, float]:
    """(the ranker of this Python worker, seconds spent loading it now: 0 when cached).

    The worker's torch and tokenizer threads are capped at the task's `threads` cores.
    """
    key = f"{tracking_uri}|{model_uri}|{bf16}"
    if key in _WORKER_MODELS:
        return _WORKER_MODELS[key], 0.0
    started = time.perf_counter()
    if threads == 1:  # the Rust tokenizer's pool would otherwise take every core of the machine
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from components.inference.model import load_ranker

    ranker = load_ranker(None, model_uri, tracking_uri=tracking_uri, bf16=bf16)
    torch = sys.modules.get("torch")
    if torch is not None:  # a task owns `threads` cores: more intra-op threads only oversubscribe
        torch.set_num_threads(threads)
    _WORKER_MODELS[key] = ranker
    return ranker, time.perf_counter() - started


def _first_task_of_worker() -> bool:
    """True once per Python worker. Module-level on purpose: cloudpickle copies the globals a nested
    function names into each task, so only module functions see the worker's own state."""
    if _WORKER_SEEN:
        return False
    _WORKER_SEEN.append(True)
    return True


def new_profile() -> dict[str, float]:
    """An empty scoring profile: seconds per phase summed over tasks, counts, and `*_at` wall clocks (max)."""
    return {"tasks": 0.0, "rows": 0.0, "new_workers": 0.0, "model_loads": 0.0, "model_load_s": 0.0,
            "arrow_in_s": 0.0, "arrow_out_s": 0.0, "score_s": 0.0, "task_s": 0.0, "task_max_s": 0.0,
            "first_batch_at": 0.0}


def merge_profiles(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    """Sums, except wall clocks (`*_at`) and maxima (`*_max_s`), which keep the larger."""
    return {k: max(a.get(k, 0.0), b.get(k, 0.0)) if k.endswith(("_at", "_max_s")) else a.get(k, 0.0) + b.get(k, 0.0)
            for k in {*a, *b}}


def profile_accumulator(spark) -> Accumulator:
    """A Spark accumulator that the scoring tasks add their profile to (read it after the action)."""
    from pyspark.accumulators import AccumulatorParam

    class ProfileParam(AccumulatorParam):
        def zero(self, value):
            return new_profile()

        def addInPlace(self, value1, value2):
            return merge_profiles(value1, value2)

    return spark.sparkContext.accumulator(new_profile(), ProfileParam())


def score_spark(df: DataFrame, *, model_uri: str, tracking_uri: str, batch_size: int, bf16: bool = False,
                threads: int = 1, profile: Accumulator | None = None) -> DataFrame:
    """`df` + a double `score` column, scored by mapInPandas; pass a pinned models:/NAME/V URI.

    `threads` is torch's intra-op threads per task (its share of cores); `profile`, if given,
    receives each task's phase times (see `new_profile`).
    """
    from pyspark.sql.types import DoubleType, StructField, StructType

    schema = StructType([*df.schema.fields, StructField(SCORE_COLUMN, DoubleType(), False)])

    def score_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        entered = time.perf_counter()
        stats = new_profile()
        stats["tasks"] = 1.0
        stats["new_workers"] = float(_first_task_of_worker())
        ranker, load_s = _worker_ranker(model_uri, tracking_uri, bf16, threads)
        stats["model_loads"], stats["model_load_s"] = float(load_s > 0), load_s
        it = iter(batches)
        while True:
            t0 = time.perf_counter()
            pdf = next(it, None)
            t1 = time.perf_counter()
            stats["arrow_in_s"] += t1 - t0
            if pdf is None:
                break
            if not stats["first_batch_at"]:
                stats["first_batch_at"] = time.time()
            if not len(pdf):
                continue
            out = score_pandas(ranker, pdf, batch_size=batch_size)
            t2 = time.perf_counter()
            stats["score_s"] += t2 - t1
            stats["rows"] += len(pdf)
            yield out
            stats["arrow_out_s"] += time.perf_counter() - t2
        stats["task_s"] = stats["task_max_s"] = time.perf_counter() - entered
        if profile is not None:
            profile.add(stats)

    return df.mapInPandas(score_partition, schema=schema)


def profile_summary(profile: dict[str, Any]) -> dict[str, float]:
    """The accumulator's raw sums as rounded figures for the run summary."""
    return {k: round(float(v), 3) for k, v in sorted(profile.items())}
