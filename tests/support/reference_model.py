"""A tiny deterministic pyfunc ranker with the packaged model's contract.

Used by tests and benchmarks that exercise serving mechanics (registry aliases, reload, skew
guard, load test) without training ELECTRA: same input columns, same metadata keys.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import cloudpickle
import mlflow.pyfunc
import pandas as pd  # at run time: MLflow resolves `predict`'s hint when the class is defined

if TYPE_CHECKING:
    from components.common.config import Settings


class LinearTextRanker(mlflow.pyfunc.PythonModel):
    """score = w · numeric features + bonus × query-title token overlap (higher = more relevant)."""

    def __init__(self, features: list[str], weights: list[float], overlap_weight: float = 1.0):
        self.features = list(features)
        self.weights = list(weights)
        self.overlap_weight = overlap_weight

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None):
        import numpy as np

        x = model_input[self.features].to_numpy(dtype="float64")
        score = x @ np.asarray(self.weights, dtype="float64")
        queries = model_input["query_text"].astype(str).str.lower().str.split()
        titles = model_input["title"].astype(str).str.lower().str.split()
        overlap = np.array([len(set(q) & set(t)) for q, t in zip(queries, titles, strict=True)], dtype="float64")
        return score + self.overlap_weight * overlap


def log_reference_model(settings: Settings, features: list[str], *, weights: list[float] | None = None,
                        defaults: dict[str, float] | None = None, name: str | None = None,
                        alias: str | None = "champion") -> dict[str, str]:
    """Log + register a LinearTextRanker; move `alias` to it. Returns name, version, model_uri."""
    import mlflow

    from components.common.mlflow_client import use_mlflow
    from components.training.tracking import ensure_experiment

    client = use_mlflow(settings)
    name = name or settings.registry.model_name
    weights = weights or [1.0 / (i + 1) for i in range(len(features))]
    ensure_experiment(settings)  # the profile's artifact location, not ./mlruns of the working directory
    with mlflow.start_run(run_name="reference-ranker"):
        # pickled by value: a process that loads it (a served ranker, a KFP step) needs no tests/ on its path
        cloudpickle.register_pickle_by_value(sys.modules[__name__])
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=LinearTextRanker(features, weights),
            metadata={"features": list(features), "defaults": defaults or {f: 0.0 for f in features},
                      "text_columns": ["query_text", "title", "description"]},
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    if alias:
        client.set_registered_model_alias(name, alias, version)
    return {"name": name, "version": version, "model_uri": f"models:/{name}/{version}"}
