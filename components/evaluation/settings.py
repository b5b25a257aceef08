"""Evaluation and comparison section of the configuration."""

from pydantic import Field

from components.common.model import StrictModel


class EvaluationSettings(StrictModel):
    """Ranking cut-offs and the champion/challenger decision rule."""

    primary_metric: str = "ndcg@10"
    min_delta: float = Field(0.0, ge=0)
    alpha: float = Field(0.05, gt=0, lt=1)
