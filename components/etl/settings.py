"""ETL section of the configuration: quality-gate thresholds and feature definitions."""

from pydantic import Field, model_validator

from components.common.model import StrictModel


class EtlSettings(StrictModel):
    """Thresholds of the quality gate; a breach fails the run and publishes nothing."""

    contract: str = Field("search", description="Data contract (components/etl/contracts.py): raw kinds, rules, gold.")
    max_quarantine_share: float = Field(0.25, ge=0, le=1, description="Largest share of bronze rows quarantined.")
    max_row_count_change: float = Field(
        10.0, ge=0, description="Largest relative change of a gold table's rows vs its previous snapshot."
    )
    max_field_chars: int = Field(100_000, gt=0, description="Longer raw fields are quarantined (field_too_long).")
    max_null_share: float = Field(
        0.0, ge=0, le=1, description="Largest share of NULLs in a required silver/gold column (0 = none allowed)."
    )
    examination_eta: float = Field(
        1.0, gt=0, description="Position bias of the debiased CTR: P(examined | position p) = p ** -eta."
    )
    train_share: float = Field(0.8, gt=0, lt=1, description="Share of queries in the train split.")
    validation_share: float = Field(0.1, ge=0, lt=1, description="Share of queries in the validation split.")
    staging: str = Field("_staging", description="Scratch folder under the lakehouse for one run's intermediates.")
    collect_impressions: bool = Field(False, description="etl_op with an input_dir first moves the ranker's closed "
                                      "impression files (serving.impression_log_dir) into it (components/etl/collect.py).")

    @model_validator(mode="after")
    def _shares_fit(self) -> "EtlSettings":
        if self.train_share + self.validation_share >= 1:
            raise ValueError("train_share + validation_share must leave a test share (< 1)")
        return self
