"""The MLflow pyfunc of the ranker: what batch and online serving load.

Imports only mlflow and `components.training.model` (torch, transformers, tokenizers, numpy,
pandas): no training code path is needed to score.
"""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd

ARTIFACT = "ranker"


class RankerModel(mlflow.pyfunc.PythonModel):
    """predict(DataFrame[query_text, title, description, numeric features]) -> float scores."""

    def load_context(self, context) -> None:
        import torch

        from components.training.model import Scorer

        torch.set_num_threads(max(1, torch.get_num_threads()))
        self.scorer = Scorer.load(context.artifacts[ARTIFACT])
        self.batch_size = int(self.scorer.meta.get("score_batch_size", 256))

    def predict(self, context, model_input, params=None):
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        batch_size = int((params or {}).get("batch_size", self.batch_size))
        scores = self.scorer.score(frame, batch_size=batch_size)
        return np.asarray(scores, dtype=np.float64)
