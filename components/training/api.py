"""`train(settings, ...)`: the one entry point of the CLI, the KFP component, tuning and notebooks.

It hands over to the family `training.model.family` names (`families.py`); what every family
shares lives here: params merging, the training-set snapshot, the validity gate, the result.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

from components.training.settings import TrainingSettings

log = logging.getLogger(__name__)


class TrainingError(RuntimeError):
    """An expected failure (bad input, nothing to resume, invalid model); the message says what."""


class ModelInvalid(TrainingError):
    """The trained model failed a validity check; `report` holds every check."""

    def __init__(self, message: str, report: dict[str, Any], run_id: str):
        super().__init__(message)
        self.report, self.run_id = report, run_id


@dataclass
class TrainResult:
    run_id: str
    model_uri: str | None
    metrics: dict[str, float]
    tracking_uri: str
    training_set: str
    steps: int = 0
    stopped_early: bool = False
    validity: dict[str, Any] | None = None
    scorer: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "model_uri": self.model_uri, "metrics": self.metrics,
                "tracking_uri": self.tracking_uri, "training_set": self.training_set, "steps": self.steps,
                "stopped_early": self.stopped_early, "validity_passed": (self.validity or {}).get("passed")}


def call_callbacks(callbacks, hook: str, *args: Any) -> None:
    """Call `hook` on every callback that has it (on_step, on_evaluate, on_checkpoint, on_train_end)."""
    for cb in callbacks:
        fn = getattr(cb, hook, None)
        if fn is not None:
            fn(*args)


def merge_params(base: TrainingSettings, params: dict[str, Any] | None) -> TrainingSettings:
    """Overlay `params` (flat, dotted `model.x` keys, or nested) on the profile's training section.

    Switching `model.family` starts the model section from the new family's defaults.
    """
    data = base.model_dump()
    params = dict(params or {})
    family = params.pop("model.family", None) or (params.get("model") or {}).get("family")
    if family is not None and family != data["model"].get("family"):
        data["model"] = {"family": family}
    for key, value in params.items():
        node, parts = data, key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
            node[parts[-1]].update(value)
        else:
            node[parts[-1]] = value
    try:
        return TrainingSettings.model_validate(data)
    except Exception as exc:
        raise TrainingError(f"invalid training params: {exc}") from None


def params_digest(cfg: TrainingSettings) -> str:
    return hashlib.sha256(json.dumps(cfg.model_dump(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def train(settings, *, training_set: str | None = None, params: dict[str, Any] | None = None, callbacks=(),
          resume: bool = False, tags: dict[str, str] | None = None, validate: bool = True,
          log_model: bool = True, nested: bool = False) -> TrainResult:
    """Train the configured family on a training-set snapshot, tracked in MLflow; return run, model URI, metrics.

    `resume=True` continues the last interrupted run (of the family that wrote the checkpoint).
    A model that fails `validity.check_model` ends the run FAILED and raises ModelInvalid.
    """
    from components.training.families import get_family

    name = _resumed_family(settings) if resume else merge_params(settings.training, params).model.family
    try:
        family = get_family(name)
    except ValueError as exc:
        raise TrainingError(str(exc)) from None
    return family.call("train", settings, training_set=training_set, params=params, callbacks=callbacks,
                       resume=resume, tags=tags, validate=validate, log_model=log_model, nested=nested)


def _resumed_family(settings) -> str:
    """The family of the run `--resume` would continue (its checkpoint record), else the configured one."""
    from components.training.checkpoint import CheckpointManager

    last = CheckpointManager(settings.resolve(settings.training.checkpoint_dir)).last_info()
    model = ((last or {}).get("params") or {}).get("model") or {}
    return str(model.get("family") or ("electra" if last else settings.training.model.family))


def load_training_frame(settings, cfg: TrainingSettings, training_set: str | None):
    """(snapshot, frame, numeric features, defaults) of the training set, checked against the contract."""
    from components.common.snapshots import SnapshotStore
    from components.training.data import training_frame_meta, validate_frame

    store = SnapshotStore(settings.lakehouse)
    snapshot = store.resolve(training_set or f"features/training_set_{cfg.feature_service}")
    frame = store.read_pandas(snapshot)
    features, defaults = training_frame_meta(snapshot.manifest)
    validate_frame(frame, features, f"training set {snapshot.ref} ({snapshot.data_path})")
    return snapshot, frame, features, defaults


def _validate(settings, model_uri: str, run_id: str) -> dict[str, Any]:
    import mlflow

    from components.training.validity import check_model

    report = check_model(settings, model_uri).to_dict()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "validity.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2, sort_keys=True)
        mlflow.log_artifact(path)
    mlflow.set_tag("rankops.validity", "passed" if report["passed"] else "failed")
    if not report["passed"]:
        failed = [c["name"] for c in report["checks"] if not c["passed"]]
        raise ModelInvalid(f"model {model_uri} failed validity checks: {', '.join(failed)}", report, run_id)
    return report
