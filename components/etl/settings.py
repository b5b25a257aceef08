"""ETL section of the configuration: quality-gate thresholds."""

from pydantic import Field

from components.common.model import StrictModel


class EtlSettings(StrictModel):
    """Thresholds of the quality gate; a breach fails the run and publishes nothing."""

    max_quarantine_share: float = Field(0.25, ge=0, le=1, description="Largest share of bronze rows quarantined.")
    max_row_count_change: float = Field(
        10.0, ge=0, description="Largest relative change of a gold table's rows vs its previous snapshot."
    )
    max_field_chars: int = Field(100_000, gt=0, description="Longer raw fields are quarantined (field_too_long).")
