"""I/O of evaluation: load the training set and the model, score, write metrics.json + report.md.

What the metrics, the baseline and the report are comes from the evaluation task (`tasks.py`).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from components.evaluation.baseline import score_bm25
from components.evaluation.evaluate import combine, scored_rows
from components.evaluation.frames import feature_columns, load_training_set, model_input
from components.evaluation.tasks import evaluation_task

if TYPE_CHECKING:
    import pandas as pd

    from components.common.config import Settings
    from components.common.snapshots import Snapshot


class ScoringError(RuntimeError):
    """The model could not score the evaluation candidates (names the model and the problem)."""


def load_frame(settings: Settings, training_set: str | None, model_uri: str | None = None) -> tuple[Snapshot, pd.DataFrame]:
    """The evaluation frame (the task's view of a training set): the given one, else the model's own,
    else the latest."""
    from components.registry.lookup import training_set_of

    ref = training_set or (training_set_of(settings, model_uri) if model_uri else None)
    snap, frame = load_training_set(settings, ref)
    return snap, evaluation_task(settings).call("prepare", frame, settings)


def load_pyfunc(model_uri: str) -> Any:
    """The packaged model, for a step of the pipeline that trained it: MLflow's check of its
    requirements against this environment (0.3 s a load) is skipped, the environment is the trainer's."""
    import mlflow

    try:
        return mlflow.pyfunc.load_model(model_uri, suppress_warnings=True)
    except Exception as exc:  # noqa: BLE001 - any loader failure is the same user-facing problem
        raise ScoringError(f"cannot load model {model_uri}: {exc}") from exc


def score_model(model_uri: str, full: pd.DataFrame, snapshot_extra: dict[str, Any] | None,
                model: Any = None) -> np.ndarray:
    """Scores of the validation/test rows by the packaged pyfunc (NaN elsewhere); `model`: already loaded."""
    from components.registry.lookup import model_metadata

    model = model if model is not None else load_pyfunc(model_uri)
    meta = model_metadata(model)
    rows = scored_rows(full)
    features = feature_columns(full, snapshot_extra, meta)
    defaults = meta.get("defaults") or (snapshot_extra or {}).get("defaults")
    out = model.predict(model_input(full[rows], features, defaults))
    values = np.asarray(out.iloc[:, 0] if hasattr(out, "iloc") and getattr(out, "ndim", 1) == 2 else out, dtype=float)
    values = values.reshape(-1)
    if len(values) != int(rows.sum()):
        raise ScoringError(f"model {model_uri} returned {len(values)} scores for {int(rows.sum())} candidates")
    scores = np.full(len(full), np.nan)
    scores[rows] = values
    return scores


def score_baseline(full: pd.DataFrame) -> np.ndarray:
    rows = scored_rows(full)
    scores = np.full(len(full), np.nan)
    scores[rows] = score_bm25(full[rows].reset_index(drop=True))
    return scores


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:80] or "model"


def finite(data: Any) -> Any:
    """NaN/inf (an empty slice, a zero-variance effect) become null so the JSON stays standard."""
    if isinstance(data, float) and not np.isfinite(data):
        return None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    return data


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(finite(data), indent=2, sort_keys=True, default=str, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def run_evaluation(
    settings: Settings, model_uri: str, *, training_set: str | None = None, report_dir: str | Path | None = None
) -> dict[str, Any]:
    """Evaluate `model_uri` and the task's baseline (BM25 for ranking) on the test split; write
    metrics.json, per_query.json, report.md and report.html (for ranking, the same tables with the
    NDCG@k curve and the per-slice bars)."""
    from components.registry.lookup import use_mlflow

    use_mlflow(settings)
    task = evaluation_task(settings)
    base = task.baseline_name
    snap, full = load_frame(settings, training_set, model_uri)
    cfg = settings.evaluation
    model_scores = score_model(model_uri, full, snap.manifest.get("extra"))
    base_scores = task.call("baseline", full, settings)
    model_eval = task.call("evaluate", full, model_scores, settings)
    base_eval = task.call("evaluate", full, base_scores, settings)
    metrics = {
        **combine(model_eval, base_eval, base),
        **(task.call("extras", full, model_scores, base_scores, settings) if task.extras else {}),
        "model_uri": model_uri,
        "training_set": snap.ref,
        "primary_metric": cfg.primary_metric,
        "evaluated_at": datetime.now(UTC).isoformat(),
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = Path(report_dir) if report_dir else Path(settings.reports_dir) / "evaluation" / f"{slug(model_uri)}-{stamp}"
    write_json(out / "metrics.json", metrics)
    write_json(out / "per_query.json", {"model": model_eval["per_query"], base: base_eval["per_query"]})
    (out / "report.md").write_text(task.call("render", metrics), encoding="utf-8")
    (out / "report.html").write_text(task.call("render_html", metrics), encoding="utf-8")
    return {
        "model_uri": model_uri,
        "training_set": snap.ref,
        "report_dir": str(out),
        "metrics_path": str(out / "metrics.json"),
        "report_path": str(out / "report.md"),
        "html_path": str(out / "report.html"),
        "model": metrics["model"],
        base: metrics[base],
    }
