"""Log the trained ranker as an MLflow pyfunc with signature, input example and metadata."""

from __future__ import annotations

import tempfile
from typing import Any

import pandas as pd

from components.training.model import TEXT_COLUMNS, Scorer

MODEL_NAME = "model"
PIP_REQUIREMENTS = ["rankops==0.1.0"]


def input_example(frame: pd.DataFrame, features: list[str], rows: int = 5) -> pd.DataFrame:
    """A few real rows in the scoring schema (numeric columns as float64, nulls kept)."""
    example = frame[[*TEXT_COLUMNS, *features]].head(rows).reset_index(drop=True).copy()
    for col in TEXT_COLUMNS:
        example[col] = example[col].fillna("").astype(str)
    for col in features:
        example[col] = pd.to_numeric(example[col], errors="coerce").astype("float64")
    return example


def log_ranker(scorer: Scorer, example: pd.DataFrame, metadata: dict[str, Any]) -> str:
    """Log `scorer` under the active run; return the model URI."""
    import mlflow
    from mlflow.models import infer_signature

    from components.training.pyfunc_model import ARTIFACT, RankerModel

    signature = infer_signature(example, scorer.score(example).astype("float64"))
    with tempfile.TemporaryDirectory(prefix="rankops-model-") as tmp:
        scorer.save(tmp)
        info = mlflow.pyfunc.log_model(
            name=MODEL_NAME,
            python_model=RankerModel(),
            artifacts={ARTIFACT: tmp},
            signature=signature,
            input_example=example,
            pip_requirements=PIP_REQUIREMENTS,
            metadata=metadata,
        )
    return info.model_uri
