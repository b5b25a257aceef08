"""The MLflow pyfunc of every model family: what batch and online serving load.

The artifact folder holds the family's scorer and its `ranker.json` metadata, whose `family`
says which family's `load_scorer` reads it (electra when absent: models packaged before
families). Only the family's scoring module is imported: no training code path is needed to score.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

ARTIFACT = "ranker"
META = "ranker.json"


def load_packaged_scorer(directory: str):
    """The scorer saved in `directory` by its family's scorer `save`."""
    from components.training.families import family_of_metadata

    meta = json.loads((Path(directory) / META).read_text(encoding="utf-8"))
    return family_of_metadata(meta).call("load_scorer", directory)


class RankerModel(mlflow.pyfunc.PythonModel):
    """predict(DataFrame[query_text, title, description, numeric features]) -> float scores."""

    def load_context(self, context) -> None:
        self.scorer = load_packaged_scorer(context.artifacts[ARTIFACT])
        self.batch_size = int(self.scorer.meta.get("score_batch_size", 256))

    def predict(self, context, model_input: pd.DataFrame, params=None):  # a DataFrame hint: MLflow validates by the logged signature
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        batch_size = int((params or {}).get("batch_size", self.batch_size))
        scores = self.scorer.score(frame, batch_size=batch_size)
        return np.asarray(scores, dtype=np.float64)
