"""Gradient-boosted tree families on LightGBM: the feature matrix, the tracked run, the packaged scorer.

A boosted family (LambdaMART for ranking, a binary click model in a project) is a `Boosting`:
its LightGBM objective and parameters and its validation metrics. Everything else is shared
with the neural family through the same interfaces: the training-set snapshot and its feature
service, the lexical features of `lexical.py`, MLflow lineage tags and streamed metrics, the
packaged pyfunc (`pyfunc_model.RankerModel` over a `TreeScorer`) and the validity gate.
Trees need no scaling: numeric features enter raw, nulls take the feature service's defaults.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from components.training.lexical import NAMES as LEXICAL_NAMES
from components.training.lexical import Lexical

if TYPE_CHECKING:
    from components.training.api import TrainResult

MODEL_FILE = "model.txt"
META_FILE = "ranker.json"  # the file pyfunc_model reads the family from


@dataclass
class TreeFeatures:
    """Model inputs in order: the feature service's numerics (nulls -> defaults), then lexical features."""

    features: list[str]
    defaults: dict[str, float]
    lexical: Lexical | None = None

    @property
    def names(self) -> list[str]:
        return [*self.features, *(LEXICAL_NAMES if self.lexical else ())]

    @classmethod
    def fit(cls, train: pd.DataFrame, features: list[str], defaults: dict[str, float], *, lexical: bool) -> TreeFeatures:
        """BM25 statistics from the train split's catalogue when `lexical`; nothing else is fitted."""
        return cls(list(features), {f: float(defaults.get(f, 0.0)) for f in features},
                   Lexical.fit(train) if lexical else None)

    def matrix(self, df: pd.DataFrame) -> np.ndarray:
        """float64 rows x names; a missing column is a KeyError naming it."""
        out = np.zeros((len(df), len(self.names)), dtype=np.float64)
        for j, name in enumerate(self.features):
            if name not in df.columns:
                raise KeyError(f"scoring frame has no numeric feature column {name!r} (expected {self.features})")
            out[:, j] = pd.to_numeric(df[name], errors="coerce").fillna(self.defaults[name]).to_numpy(np.float64)
        if self.lexical is not None:
            out[:, len(self.features):] = self.lexical.transform(df)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"features": self.features, "defaults": self.defaults,
                "lexical": self.lexical.to_dict() if self.lexical else None}

    @classmethod
    def from_dict(cls, meta: dict[str, Any]) -> TreeFeatures:
        lexical = Lexical.from_dict(meta["lexical"]) if meta.get("lexical") else None
        return cls(list(meta["features"]), {k: float(v) for k, v in meta["defaults"].items()}, lexical)


class TreeScorer:
    """A LightGBM booster and its feature preparation: `score(df)` is what the pyfunc serves."""

    def __init__(self, booster: Any, spec: TreeFeatures, meta: dict[str, Any] | None = None):
        self.booster, self.spec, self.meta = booster, spec, dict(meta or {})

    def score(self, df: pd.DataFrame, **_: Any) -> np.ndarray:
        """One float64 per row in `df`'s order: the ranking score, or the probability of a binary objective."""
        if len(df) == 0:
            return np.zeros(0, dtype=np.float64)
        return np.asarray(self.booster.predict(self.spec.matrix(df), num_threads=1), dtype=np.float64)

    def save(self, directory: str | Path) -> Path:
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(out / MODEL_FILE))
        meta = {**self.meta, **self.spec.to_dict()}
        (out / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
        return out

    @classmethod
    def load(cls, directory: str | Path) -> TreeScorer:
        import lightgbm as lgb

        src = Path(directory)
        meta = json.loads((src / META_FILE).read_text(encoding="utf-8"))
        return cls(lgb.Booster(model_file=str(src / MODEL_FILE)), TreeFeatures.from_dict(meta), meta)


def check_booster(local_path: str) -> tuple[bool, str]:
    """The packaged booster has trees and every leaf value is finite (read from LightGBM's text
    format: its JSON dump cannot even express a NaN leaf)."""
    files = sorted(Path(local_path).rglob(MODEL_FILE))
    if not files:
        return False, f"no LightGBM {MODEL_FILE} in the model artifact"
    bad, trees = [], 0
    for path in files:
        for block in path.read_text(encoding="utf-8").split("\nTree=")[1:]:
            trees += 1
            leaves = [line[len("leaf_value="):] for line in block.splitlines() if line.startswith("leaf_value=")]
            if not all(math.isfinite(float(v)) for line in leaves for v in line.split()):
                bad.append(f"tree {block.split(chr(10), 1)[0]}")
    if not trees:
        return False, "the booster has no trees"
    return (not bad), (f"non-finite leaf values in {bad[:5]}" if bad else f"{trees} trees, every leaf value finite")


@dataclass(frozen=True)
class Boosting:
    """What a boosted family chooses: its LightGBM objective and parameters, and how it is validated."""

    family: str
    model_kind: str
    lgb_params: Callable[[Any], dict[str, Any]]  # (family params) -> LightGBM parameters incl. objective
    validation_metrics: Callable[[pd.DataFrame, np.ndarray, Any], dict[str, float]]  # (frame, scores, cfg)
    grouped: bool = False  # rows of one query form a LightGBM group (ranking objectives)
    extra_meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Best:
    step: int = 0
    value: float = -math.inf
    bad_evals: int = 0
    last: int = 0
    stopped_early: bool = False


def _dataset(spec: TreeFeatures, frame: pd.DataFrame, grouped: bool):
    import lightgbm as lgb

    group = frame.groupby("query_id", sort=False).size().to_numpy() if grouped else None
    return lgb.Dataset(spec.matrix(frame), label=frame["label"].astype(float).to_numpy(), group=group,
                       feature_name=[n.replace(" ", "_") for n in spec.names], free_raw_data=False)


def _eval_callback(boosting: Boosting, spec: TreeFeatures, val: pd.DataFrame, cfg, every: int, rounds: int,
                   best: _Best, stream, callbacks) -> Callable[[Any], None]:
    """Every `every` rounds (and the last): validation metrics, best round, patience, callbacks."""
    import lightgbm as lgb

    from components.training.api import call_callbacks
    from components.training.metrics import metric_key

    x_val = spec.matrix(val)
    key = metric_key(cfg.metric)

    def callback(env) -> None:
        step = env.iteration + 1
        if step % every and step != rounds:
            return
        metrics = boosting.validation_metrics(val, env.model.predict(x_val, num_iteration=step), cfg)
        logs = {f"val_{k}": v for k, v in metrics.items()}
        if stream is not None:
            stream.add({**logs, "trees": float(step)}, step)
            stream.step_done()
        best.last = step
        value = metrics[key] if math.isfinite(metrics[key]) else -math.inf
        if value > best.value:
            best.step, best.value, best.bad_evals = step, value, 0
        else:
            best.bad_evals += 1
        call_callbacks(callbacks, "on_evaluate", step, logs)
        call_callbacks(callbacks, "on_step", step, rounds, {"trees": float(step)})
        if cfg.early_stopping_patience and best.bad_evals >= cfg.early_stopping_patience and step < rounds:
            best.stopped_early = True
            raise lgb.callback.EarlyStopException(best.step - 1, [])

    callback.order = 30  # after LightGBM's own callbacks
    return callback


def train_boosted(boosting: Boosting, settings, *, training_set: str | None = None,
                  params: dict[str, Any] | None = None, callbacks=(), resume: bool = False,
                  tags: dict[str, str] | None = None, validate: bool = True, log_model: bool = True,
                  nested: bool = False) -> TrainResult:
    """Train one boosted model in an MLflow run; same contract as `api.train`."""
    import lightgbm as lgb
    import mlflow

    from components.training.api import (
        ModelInvalid,
        TrainingError,
        TrainResult,
        _validate,
        call_callbacks,
        load_training_frame,
        merge_params,
    )
    from components.training.data import training_set_service
    from components.training.packaging import input_example, log_ranker
    from components.training.tracking import (
        MetricStream,
        ensure_experiment,
        flatten,
        lineage_tags,
        log_dataset,
    )

    if resume:
        raise TrainingError(f"the {boosting.family} family trains in one pass and keeps no checkpoints: nothing to resume")
    cfg = merge_params(settings.training, params)
    m = cfg.model
    snapshot, frame, features, defaults = load_training_frame(settings, cfg, training_set)
    service = training_set_service(snapshot.manifest, cfg.feature_service)  # what it was built for, not the profile's
    order = ["query_id", "video_id", *(["event_timestamp"] if "event_timestamp" in frame.columns else [])]
    frame = frame.sort_values(order, kind="stable").reset_index(drop=True)
    train, val = frame[frame["split"] == "train"], frame[frame["split"] == "validation"]
    spec = TreeFeatures.fit(train, features, defaults, lexical=m.lexical_features)
    rounds = min(m.n_estimators, cfg.max_steps or m.n_estimators)
    lgb_params = {**boosting.lgb_params(m), "seed": cfg.seed, "deterministic": True, "force_row_wise": True,
                  "num_threads": cfg.threads or 0, "verbose": -1}

    ensure_experiment(settings)
    run = mlflow.start_run(run_name=f"train-{snapshot.snapshot_id[:8]}", nested=nested,
                           log_system_metrics=cfg.system_metrics)
    run_id = run.info.run_id
    stream = MetricStream(run_id, settings.tracking_uri, cfg.log_flush_every)
    best = _Best()
    try:
        mlflow.set_tags(lineage_tags(snapshot, service, boosting.model_kind, tags))
        mlflow.log_params(flatten("", cfg.model_dump()) | {
            "n_train_rows": len(train), "n_validation_rows": len(val), "n_features": len(features),
            "n_model_inputs": len(spec.names), "lightgbm": lgb.__version__})
        log_dataset(snapshot, frame)
        evaluate = _eval_callback(boosting, spec, val, cfg, m.eval_every, rounds, best, stream, callbacks)
        booster = lgb.train(lgb_params, _dataset(spec, train, boosting.grouped), num_boost_round=rounds,
                            callbacks=[evaluate])
        trained = best.last
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best.step or -1))
        metrics = boosting.validation_metrics(val, booster.predict(spec.matrix(val)), cfg)
        stream.add({**metrics, "best_step": best.step, "stopped_early": float(best.stopped_early)}, trained)
        stream.close()
        meta = {"feature_service": service, "training_set": snapshot.ref, "family": boosting.family,
                "model_kind": boosting.model_kind, "trees": booster.num_trees(), **boosting.extra_meta}
        scorer = TreeScorer(booster, spec, meta)
        model_uri, validity = None, None
        if log_model:
            model_uri = log_ranker(scorer, input_example(val, features), {
                "features": features, "defaults": spec.defaults, "feature_service": service,
                "training_set": snapshot.ref, "text_columns": ["query_text", "title", "description"],
                "model_kind": boosting.model_kind, "family": boosting.family})
            mlflow.set_tag("rankops.model_uri", model_uri)
            if validate:
                validity = _validate(settings, model_uri, run_id)
        mlflow.end_run("FINISHED")
    except ModelInvalid:
        stream.close()
        mlflow.end_run("FAILED")
        raise
    except BaseException as exc:
        stopped = isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "TrialPruned"
        try:
            stream.close()
        finally:
            mlflow.end_run("KILLED" if stopped else "FAILED")
        raise
    result = TrainResult(run_id=run_id, model_uri=model_uri, metrics=metrics, tracking_uri=settings.tracking_uri,
                         training_set=snapshot.ref, steps=trained, stopped_early=best.stopped_early,
                         validity=validity, scorer=scorer)
    call_callbacks(callbacks, "on_train_end", result)
    return result

