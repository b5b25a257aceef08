"""Training section of the configuration: the model family and its parameters, and the loop.

Defaults are the tiny CPU model of the `local` profile; cluster profiles override the
`training:` section (ELECTRA-small or a pretrained checkpoint, bf16 on GPU). `model.family`
chooses the family (`components/training/families.py`); `model` is then validated by that
family's parameter model, so a key of another family is an error naming it.
"""

from typing import Any, Literal

from pydantic import Field, SerializeAsAny, field_validator

from components.common.model import StrictModel
from components.training.families import FamilyParams, family_params


class ElectraParams(FamilyParams):
    """ELECTRA encoder size (ignored where `checkpoint` is set) and the fusion head."""

    family: Literal["electra"] = "electra"

    vocab_size: int = Field(3000, gt=100, description="WordPiece vocabulary trained from the corpus.")
    hidden_size: int = Field(64, gt=0)
    embedding_size: int = Field(64, gt=0)
    num_layers: int = Field(2, gt=0)
    num_heads: int = Field(2, gt=0)
    intermediate_size: int = Field(128, gt=0)
    max_length: int = Field(96, gt=8, description="Tokens of [CLS] query [SEP] title + description [SEP].")
    dropout: float = Field(0.1, ge=0, lt=1)
    head_hidden: int = Field(64, gt=0, description="Width of the MLP that fuses pooled text and numeric features.")
    lexical_features: bool = Field(True, description="Add BM25 and query-term coverage of title/description to the head.")


ModelSettings = ElectraParams  # the name before model families


class TrainingSettings(StrictModel):
    """Defaults are the tiny CPU model of the local profile. The loop knobs below serve every
    family that trains in steps; a family documents which of them it reads."""

    feature_service: str = "ranker_v1"
    seed: int = 13
    checkpoint: str | None = Field(None, description="Path of a pretrained ELECTRA checkpoint; None trains from scratch.")
    model: SerializeAsAny[FamilyParams] = Field(default_factory=ElectraParams,
                                                description="The family (model.family) and its parameters.")
    loss: Literal["pointwise", "pairwise", "listwise"] = "pointwise"
    learning_rate: float = Field(2e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.06, ge=0, lt=1)
    batch_size: int = Field(64, gt=0, description="Rows per optimiser micro-batch (whole queries are kept together).")
    grad_accumulation: int = Field(1, gt=0)
    max_grad_norm: float = Field(1.0, gt=0)
    epochs: int = Field(6, gt=0)
    max_steps: int | None = Field(None, gt=0, description="Stop after this many optimiser steps (overrides epochs).")
    eval_every: int = Field(50, gt=0, description="Optimiser steps between validation passes.")
    eval_batch_size: int = Field(256, gt=0)
    early_stopping_patience: int = Field(4, ge=0, description="Evaluations without improvement before stopping; 0 = off.")
    metric: str = Field("ndcg@10", description="Validation metric (ranx name) for early stopping, tuning and best model.")
    checkpoint_every: int = Field(50, gt=0, description="Optimiser steps between resumable checkpoints.")
    keep_checkpoints: int = Field(2, gt=0)
    checkpoint_dir: str = "checkpoints/training"
    log_every: int = Field(1, gt=0, description="Steps between training-metric samples.")
    log_flush_every: int = Field(25, gt=0, description="Steps between batched MLflow writes (done off the training thread).")
    system_metrics: bool = True
    system_metrics_interval_s: float = Field(10.0, gt=0)
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="auto = bf16 autocast on CUDA, fp32 on CPU.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(None, gt=0, description="torch intra-op threads on CPU; None = torch default.")
    latency_budget_ms: float = Field(1000.0, gt=0, description="Validity check: max ms (best of 5) to score one batch of `latency_batch` pairs.")
    latency_batch: int = Field(64, gt=0)
    tune_trials: int = Field(8, gt=0)
    tune_max_steps: int = Field(120, gt=0, description="Optimiser steps per Optuna trial.")

    @field_validator("model", mode="before")
    @classmethod
    def _family_params(cls, value: Any) -> Any:
        return family_params(value)

class TrainJobSettings(StrictModel):
    """Multi-node DDP in the cluster as a Kubeflow Trainer TrainJob (trainer.kubeflow.org/v1alpha1).

    With `enabled`, the training step creates the TrainJob, follows it and fails with its reason,
    instead of training in its own pod (which then asks for no GPU: pipelines/submit.py follow_trainjob).
    The TrainingRuntime it names (manifests/components/training) holds what a TrainJob cannot set: the
    restart policy and the pod security.
    """

    enabled: bool = False
    runtime: str = "rankops-torch-ddp"
    workers: int = Field(2, ge=1, description="Nodes (pods); one torchrun agent each.")
    gpus_per_worker: int = Field(1, ge=0, description="nvidia.com/gpu per pod, and torchrun processes per pod.")
    cpu: str = "8"
    memory: str = "32Gi"
    node_selector: dict[str, str] = Field(default_factory=lambda: {"nvidia.com/gpu.present": "true"})
    gpu_taint: str = "nvidia.com/gpu"
    shared_pvc: str = Field("rankops-lakehouse", description="ReadWriteMany claim holding RANKOPS_HOME (checkpoints).")
    shared_mount: str = "/mnt/lakehouse"
    models_pvc: str | None = Field("rankops-models", description="Pretrained checkpoints (training.checkpoint), read-only.")
    models_mount: str = "/mnt/models"
    deadline_s: int = Field(86400, gt=0, description="activeDeadlineSeconds of the TrainJob.")
    poll_interval_s: float = Field(15.0, gt=0)
