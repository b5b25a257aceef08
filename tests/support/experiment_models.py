"""Challenger stand-ins for the experiment tests: a model that fails on some queries, one that is slow.

Both have the packaged model's contract (features / defaults / text_columns metadata) and pass the
ranker's warm-up, so they load as a challenger and misbehave only on live traffic.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import cloudpickle
import mlflow.pyfunc
import pandas as pd  # at run time: MLflow resolves `predict`'s hint when the class is defined

if TYPE_CHECKING:
    from components.common.config import Settings


class MisbehavingRanker(mlflow.pyfunc.PythonModel):
    """Raises on queries containing `fail_word`, sleeps `sleep_s` on those containing `slow_word`, scores
    NaN on those containing "nan"."""

    def __init__(self, fail_word: str = "boom", slow_word: str = "sloth", sleep_s: float = 0.5):
        self.fail_word, self.slow_word, self.sleep_s = fail_word, slow_word, sleep_s

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None):
        import numpy as np

        query = str(model_input["query_text"].iloc[0]) if len(model_input) else ""
        if self.fail_word in query:
            raise RuntimeError("challenger exploded")
        if "nan" in query.split():
            return np.full(len(model_input), np.nan)
        if self.slow_word in query:
            time.sleep(self.sleep_s)
        return -np.arange(len(model_input), dtype="float64")  # keeps the candidates' input order


def log_misbehaving_model(settings: Settings, features: list[str]) -> str:
    """Register a MisbehavingRanker as a new version of the serving model (no alias); returns the version."""
    import mlflow

    from components.training.tracking import ensure_experiment

    ensure_experiment(settings)  # the profile's artifact location, not ./mlruns of the working directory
    with mlflow.start_run(run_name="misbehaving-challenger"):
        cloudpickle.register_pickle_by_value(sys.modules[__name__])
        info = mlflow.pyfunc.log_model(
            name="model", python_model=MisbehavingRanker(),
            metadata={"features": list(features), "defaults": {f: 0.0 for f in features},
                      "text_columns": ["query_text", "title", "description"]},
            registered_model_name=settings.registry.model_name)
    return str(info.registered_model_version)
