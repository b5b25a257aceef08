"""The project's own settings section (`clicks:` in its profiles, RANKOPS_CLICKS__<KEY> variables)."""

from pydantic import Field, field_validator

from components.common.model import StrictModel


class ProjectSettings(StrictModel):
    """How the click model is judged: calibration bins, the baseline's smoothing, the position slices."""

    calibration_bins: int = Field(10, ge=2, description="Equal-width probability bins of the calibration table (ECE).")
    prior_smoothing: float = Field(20.0, ge=0, description="Pseudo-impressions pulling each position's CTR "
                                   "towards the overall CTR in the position-prior baseline.")
    position_slices: list[int] = Field(default_factory=lambda: [1, 2, 4],
                                       description="Lower positions of the slices; the last is open-ended.")

    @field_validator("position_slices")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if not value or value[0] != 1 or any(b <= a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError("must start at 1 and increase, e.g. [1, 2, 4]")
        return value
