"""Monitoring section of the configuration: drift and performance thresholds."""

from pydantic import Field

from components.common.model import StrictModel


class MonitoringSettings(StrictModel):
    """A breach of any threshold writes an alert and triggers retraining."""

    psi_threshold: float = Field(0.2, gt=0)
    ks_pvalue_threshold: float = Field(0.01, gt=0, lt=1)
    categorical_pvalue_threshold: float = Field(0.01, gt=0, lt=1)
    score_psi_threshold: float = Field(0.2, gt=0)
    drift_share_threshold: float = Field(0.3, gt=0, le=1, description="Breach when this share of features drift.")
    min_rows: int = Field(50, ge=1, description="Fewer current rows than this is a data-quality breach.")
    max_null_share: float = Field(0.05, ge=0, le=1)
    support_pvalue_threshold: float = Field(0.001, gt=0, lt=1, description=(
        "A feature without a contract domain breaches when more current values fall outside the reference's "
        "observed [min, max] than chance allows (one-sided binomial p below this)."))
    ndcg_k: int = Field(10, gt=0)
    ctr_k: int = Field(3, gt=0)
    min_ndcg: float = Field(0.0, ge=0, le=1, description="Absolute floor for NDCG@k on fresh labels.")
    max_ndcg_drop: float = Field(0.1, ge=0, le=1, description="Breach when NDCG@k falls this much below reference.")
    max_ctr_drop: float = Field(0.5, ge=0, le=1, description="Relative CTR@k drop that counts as a breach.")
    retrain_pipeline: str = Field("training", description="Pipeline started on a breach (pipelines/compiled/<name>.yaml).")
    trigger_mode: str = Field("auto", pattern="^(auto|local|kfp|none)$",
                              description="auto: KFP when kfp.host is set, else a local training run.")
