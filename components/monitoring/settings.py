"""Monitoring section of the configuration: drift and performance thresholds."""

from pydantic import Field

from components.common.model import StrictModel


class MonitoringSettings(StrictModel):
    """A breach of any threshold writes an alert and triggers retraining."""

    psi_threshold: float = Field(0.2, gt=0)
    ks_pvalue_threshold: float = Field(0.01, gt=0, lt=1)
