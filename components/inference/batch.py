"""Batch scoring: length-bucketed pandas scoring, and the Spark mapInPandas wrapper around it.

Sorting pairs by text length before cutting batches keeps dynamic padding short (measured 3-6x
on ELECTRA); the model is loaded once per Python worker and reused by every partition it serves.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from pyspark.sql import DataFrame

    from components.inference.model import Ranker

SCORE_COLUMN = "score"
_WORKER_MODELS: dict[str, Ranker] = {}


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


def _worker_ranker(model_uri: str, tracking_uri: str, bf16: bool = False) -> Ranker:
    """The ranker of this Python worker, loaded on first use (one load per executor worker)."""
    from components.inference.model import load_ranker

    key = f"{tracking_uri}|{model_uri}|{bf16}"
    if key not in _WORKER_MODELS:
        _WORKER_MODELS[key] = load_ranker(None, model_uri, tracking_uri=tracking_uri, bf16=bf16)
        torch = sys.modules.get("torch")
        if torch is not None:  # one Spark task = one core: more intra-op threads only oversubscribe
            torch.set_num_threads(1)
    return _WORKER_MODELS[key]


def score_spark(df: DataFrame, *, model_uri: str, tracking_uri: str, batch_size: int,
                bf16: bool = False) -> DataFrame:
    """`df` + a double `score` column, scored by mapInPandas; pass a pinned models:/NAME/V URI."""
    from pyspark.sql.types import DoubleType, StructField, StructType

    schema = StructType([*df.schema.fields, StructField(SCORE_COLUMN, DoubleType(), False)])

    def score_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        ranker = _worker_ranker(model_uri, tracking_uri, bf16)
        for pdf in batches:
            if len(pdf):
                yield score_pandas(ranker, pdf, batch_size=batch_size)

    return df.mapInPandas(score_partition, schema=schema)
