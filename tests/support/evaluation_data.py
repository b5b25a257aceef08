"""Tiny reference scorers and training sets.

They smoke-test the evaluate → register → compare → promote chain without training a
network (tests, demos): a linear pyfunc over named columns plus token overlap, and a
training-set snapshot in the Feast layout whose `signal` column tracks the label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd  # at run time: MLflow resolves the scorer's `predict` hint when the class is defined

if TYPE_CHECKING:
    from components.common.config import Settings
    from components.common.snapshots import Snapshot

FEATURES = ["signal", "noise"]
WORDS = ["cat", "dog", "guitar", "piano", "chess", "soccer", "yoga", "pasta", "bread", "rocket", "ocean", "jazz"]


def _scorer_class():
    import mlflow.pyfunc

    from components.training.lexical import tokenize

    class LinearScorer(mlflow.pyfunc.PythonModel):
        """score = sum(weight * column) + overlap * |query tokens ∩ title/description tokens|."""

        def __init__(self, weights: dict[str, float], overlap: float = 0.0):
            self.weights, self.overlap = dict(weights), float(overlap)

        def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None):  # noqa: ARG002
            score = np.zeros(len(model_input))
            for col, w in self.weights.items():
                score += w * model_input[col].astype(float).to_numpy()
            if self.overlap:
                for i, (q, t, d) in enumerate(zip(model_input["query_text"], model_input["title"],
                                                   model_input["description"], strict=True)):
                    score[i] += self.overlap * len(set(tokenize(q)) & set(tokenize(f"{t} {d}")))
            return score

    return LinearScorer


def make_training_frame(n_queries: int = 24, n_candidates: int = 6, seed: int = 0) -> pd.DataFrame:
    """Queries with graded labels; `signal` = label + small noise, `noise` is unrelated."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    splits = ["train", "train", "test", "validation", "test", "train", "test"]
    for q in range(n_queries):
        words = [WORDS[(q + k) % len(WORDS)] for k in range(1 + q % 3)]
        for c in range(max(3, n_candidates - q % 4)):
            label = int(rng.integers(0, 4)) if c else 3
            vid = f"v{(q * 3 + c) % (n_queries * 2):03d}"
            title_words = words if rng.random() < 0.5 else [WORDS[(q + 5 + c) % len(WORDS)]]
            rows.append({
                "query_id": f"q{q:03d}", "video_id": vid,
                "event_timestamp": pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(minutes=q),
                "label": label, "split": splits[q % len(splits)],
                "query_text": " ".join(words), "title": " ".join(title_words) + f" clip {c}",
                "description": f"video {vid}", "signal": label + float(rng.normal(0, 0.3)),
                "noise": float(rng.normal(0, 1)),
            })
    return pd.DataFrame(rows)


def write_training_set(settings: Settings, frame: pd.DataFrame | None = None, service: str = "ranker_v1") -> Snapshot:
    """Publish `frame` as `features/training_set_<service>` with the Feast manifest extras."""
    from components.common.snapshots import SnapshotStore

    frame = make_training_frame() if frame is None else frame
    features = [c for c in FEATURES if c in frame.columns]
    extra = {"feature_service": service, "feature_refs": [f"fx:{f}" for f in features], "features": features,
             "text_columns": ["query_text", "title", "description"], "defaults": {f: 0.0 for f in features}}
    return SnapshotStore(settings.lakehouse).write(f"features/training_set_{service}", frame, extra=extra, publish=True)


def validation_ndcg(model, snapshot: Snapshot | None, features: list[str]) -> float:
    """The scorer's real NDCG@10 on the validation split (what a training run logs), not a made-up number."""
    from components.common.snapshots import SnapshotStore
    from components.training.metrics import ranking_metrics

    frame = SnapshotStore.read_pandas(snapshot) if snapshot is not None else make_training_frame()
    val = frame[frame["split"] == "validation"]
    inputs = val.reindex(columns=["query_text", "title", "description", *features], fill_value=0.0)
    scores = model.predict(None, inputs)
    return ranking_metrics(val["query_id"], val["video_id"], val["label"], scores, ("ndcg@10",))["ndcg_at_10"]


def log_scorer(
    settings: Settings, weights: dict[str, float], *, overlap: float = 0.0, snapshot: Snapshot | None = None,
    tags: dict[str, str] | None = None, params: dict[str, Any] | None = None,
) -> str:
    """Log a LinearScorer in an MLflow run tagged like a training run; return its model URI."""
    import os
    import tempfile

    import mlflow
    from mlflow.models import infer_signature

    from components.training.packaging import input_example
    from components.training.tracking import ensure_experiment

    ensure_experiment(settings)  # the profile's artifact location, not ./mlruns of the working directory
    run_tags = {"rankops.feature_service": settings.training.feature_service, "rankops.model_kind": "linear"}
    if snapshot is not None:
        run_tags.update({"rankops.training_set": snapshot.ref, "rankops.training_set_id": snapshot.snapshot_id})
        for name, ref in (snapshot.manifest.get("parents") or {}).items():
            run_tags[f"rankops.parent.{name}"] = str(ref)
    run_tags.update(tags or {})
    features = list((snapshot.manifest.get("extra") or {}).get("features") or FEATURES) if snapshot else list(weights)
    vector = {f: float(weights.get(f, 0.0)) for f in features}
    example = make_training_frame(4, 3)[["query_text", "title", "description", *FEATURES]].head(3)
    for f in features:
        example[f] = example[f] if f in example else 0.0
    example = input_example(example, features)  # as the packaged ranker's: features as doubles, so nulls fit
    model = _scorer_class()(vector, overlap)
    with mlflow.start_run(tags=run_tags) as run, tempfile.TemporaryDirectory() as tmp:
        from safetensors.numpy import save_file

        weights_path = os.path.join(tmp, "weights.safetensors")
        save_file({"weights": np.array(list(vector.values()) + [overlap], dtype=np.float32)}, weights_path)
        mlflow.log_params({**{f"w_{k}": v for k, v in vector.items()}, "overlap": overlap, **(params or {})})
        info = mlflow.pyfunc.log_model(
            name="model", python_model=model, pip_requirements=[], artifacts={"weights": weights_path},
            signature=infer_signature(example, model.predict(None, example)), input_example=example,
            metadata={"features": features, "defaults": {k: 0.0 for k in features}},
        )
        mlflow.log_metric("val_ndcg_at_10", validation_ndcg(model, snapshot, features))
    return f"runs:/{run.info.run_id}/model" if info.model_uri is None else info.model_uri
