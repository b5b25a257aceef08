"""Validity checks a model must pass before it may be registered.

`check_model(settings, model_uri)` loads the packaged model back the way serving does and
checks: finite parameters (the family's own check), finite and deterministic outputs, a signature equal to the feature
service's columns, and batch latency within `training.latency_budget_ms`. The registry and
evaluation stages call it too; it never raises for a bad model, it reports.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

TEXT_COLUMNS = ["query_text", "title", "description"]


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class ValidityReport:
    model_uri: str
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def add(self, name: str, passed: bool, detail: str) -> bool:
        self.checks.append(Check(name, bool(passed), detail))
        return bool(passed)

    def to_dict(self) -> dict[str, Any]:
        return {"model_uri": self.model_uri, "passed": self.passed,
                "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidityReport:
        return cls(data["model_uri"], [Check(c["name"], bool(c["passed"]), c.get("detail", "")) for c in data["checks"]])

    def write(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, indent=2, sort_keys=True)


def expected_features(settings, fallback: list[str], service: str | None = None) -> tuple[list[str], str]:
    """The feature service's numeric features in model order (from its latest training set).

    `service`: the one the model records it was trained with; the profile's only when it records none."""
    from components.common.snapshots import SnapshotNotFound, SnapshotStore

    table = f"features/training_set_{service or settings.training.feature_service}"
    try:
        snap = SnapshotStore(settings.lakehouse).latest(table)
    except SnapshotNotFound:
        return fallback, "model metadata (no published training set)"
    return list((snap.manifest.get("extra") or {}).get("features") or fallback), snap.ref


def probe_frame(example: pd.DataFrame | None, features: list[str], rows: int) -> pd.DataFrame:
    """`rows` scoring rows: the model's input example repeated (or a synthetic row)."""
    if example is None or len(example) == 0:
        example = pd.DataFrame([{"query_text": "probe query", "title": "probe title", "description": "probe text",
                                 **{f: 0.0 for f in features}}])
    reps = int(np.ceil(rows / len(example)))
    return pd.concat([example] * reps, ignore_index=True).head(rows)


def check_weights(local_path: str, meta: dict[str, Any] | None = None) -> tuple[bool, str]:
    """The model family's own check of its packaged parameters (finite weights, finite leaf values)."""
    from components.training.families import family_of_metadata

    try:
        family = family_of_metadata(meta or {})
    except ValueError as exc:
        return False, str(exc)
    return family.call("check_artifact", local_path)


def check_model(settings, model_uri: str) -> ValidityReport:
    """Run every check on `model_uri`; a check that cannot run counts as failed."""
    import mlflow
    from mlflow.models import Model

    from components.common.mlflow_client import use_mlflow

    use_mlflow(settings)
    cfg = settings.training
    report = ValidityReport(model_uri)
    try:
        local = mlflow.artifacts.download_artifacts(model_uri)
        pyfunc = mlflow.pyfunc.load_model(local)
    except Exception as exc:  # a model that does not load is the first thing to report
        report.add("loads", False, f"{type(exc).__name__}: {exc}")
        return report
    report.add("loads", True, f"loaded from {model_uri}")
    meta = pyfunc.metadata.metadata or {}
    report.add("weights_finite", *check_weights(local, meta))

    features = list(meta.get("features") or [])
    signature = pyfunc.metadata.signature
    sig_cols = signature.inputs.input_names() if signature is not None else []
    want, source = expected_features(settings, features, meta.get("feature_service"))
    expected = TEXT_COLUMNS + want
    ok = sig_cols == expected and features == want
    report.add("signature", ok, f"signature {sig_cols} vs {expected} from {source}; metadata features {features}")

    try:
        example = Model.load(local).load_input_example(local)
        frame = probe_frame(example if isinstance(example, pd.DataFrame) else None, features, cfg.latency_batch)
        first = np.asarray(pyfunc.predict(frame), dtype=np.float64)
        second = np.asarray(pyfunc.predict(frame), dtype=np.float64)
    except Exception as exc:
        report.add("predicts", False, f"{type(exc).__name__}: {exc} {traceback.format_exc(limit=2)}")
        return report
    finite = first.shape == (len(frame),) and bool(np.isfinite(first).all())
    report.add("outputs_finite", finite, f"{len(first)} scores, shape {first.shape}, finite={finite}")
    report.add("deterministic", bool(np.array_equal(first, second, equal_nan=True)),
               f"max abs difference between two identical calls {float(np.max(np.abs(first - second))):.3g}")
    times = []
    for _ in range(5):  # best of 5: the model's cost, not a neighbour's CPU burst
        t0 = time.perf_counter()
        pyfunc.predict(frame)
        times.append((time.perf_counter() - t0) * 1000)
    best = float(np.min(times))
    report.add("latency", best <= cfg.latency_budget_ms,
               f"best of 5: {best:.1f} ms for {len(frame)} rows (budget {cfg.latency_budget_ms:.0f} ms)")
    return report


VALIDITY_RECORD = "validity.json"  # what the training run logs, next to its model


def recorded_report(settings, model_uri: str, run_id: str | None) -> dict[str, Any] | None:
    """The passed report the training run logged for exactly `model_uri`, else None.

    A training run checks its model once; the validate and register steps carry that result
    forward instead of loading and probing the same immutable artifact twice more.
    """
    import tempfile

    import mlflow
    from mlflow.exceptions import MlflowException

    from components.common.mlflow_client import use_mlflow

    if not run_id:
        return None
    client = use_mlflow(settings)
    try:
        if client.get_run(run_id).data.tags.get("rankops.validity") != "passed":
            return None
        with tempfile.TemporaryDirectory() as tmp:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=VALIDITY_RECORD, dst_path=tmp)
            with open(path, encoding="utf-8") as fh:
                report = json.load(fh)
    except (MlflowException, OSError, ValueError):
        return None
    if report.get("model_uri") != model_uri or report.get("passed") is not True:
        return None
    return report
