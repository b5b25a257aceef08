"""Training section of the configuration: model size and optimisation."""

from pydantic import Field

from components.common.model import StrictModel


class TrainingSettings(StrictModel):
    """Defaults are the tiny CPU model of the local profile."""

    feature_service: str = "ranker_v1"
    seed: int = 13
    checkpoint: str | None = Field(None, description="Path of a pretrained ELECTRA checkpoint; None trains from scratch.")
