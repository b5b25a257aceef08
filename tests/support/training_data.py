"""A small learnable training set in the Feast contract, for tests and demos of later stages.

Queries and videos of a topic use different synonyms, so relevance needs more than word
overlap; two numeric features correlate with the label, one has nulls. Use
`write_sample_training_set` + `TINY_PARAMS` to get a trained model in a few seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

TABLE = "features/training_set_{service}"
FEATURES = ["qv_ctr", "qv_mean_position", "video_ctr", "query_num_tokens"]
DEFAULTS = {"qv_ctr": 0.0, "qv_mean_position": 10.0, "video_ctr": 0.0, "query_num_tokens": 0.0}

# topic -> (query words, document synonyms, sub-topics)
TOPICS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "cooking": (["recipe", "cook", "bake"], ["kitchen", "chef", "dish", "meal"], ["pasta", "bread", "soup", "cake"]),
    "fitness": (["workout", "exercise", "gym"], ["training", "muscles", "cardio", "routine"], ["legs", "abs", "yoga", "run"]),
    "music": (["song", "music", "guitar"], ["melody", "chords", "band", "concert"], ["rock", "jazz", "piano", "blues"]),
    "travel": (["trip", "travel", "visit"], ["journey", "tour", "destination", "vlog"], ["paris", "tokyo", "alps", "beach"]),
    "coding": (["python", "code", "programming"], ["software", "developer", "tutorial", "script"], ["api", "games", "data", "web"]),
    "gardening": (["garden", "plants", "grow"], ["soil", "seeds", "flowers", "harvest"], ["tomato", "roses", "herbs", "trees"]),
    "cars": (["car", "drive", "engine"], ["vehicle", "motor", "road", "repair"], ["tesla", "diesel", "racing", "tyres"]),
    "science": (["physics", "science", "space"], ["universe", "experiment", "research", "lecture"], ["planets", "atoms", "light", "gravity"]),
}
FILLER = ["best", "easy", "how", "to", "new", "top", "guide", "full", "video", "part", "official", "review"]


def _video(rng: np.random.Generator, topic: str, sub: str) -> tuple[str, str]:
    _, syn, _ = TOPICS[topic]
    words = list(rng.choice(syn, size=2, replace=False))
    title = f"{sub} {words[0]} {rng.choice(FILLER)} {words[1]}"
    desc = " ".join([*rng.choice(syn, size=3), sub, *rng.choice(FILLER, size=3)])
    return title, desc


def build_sample_training_set(n_queries: int = 48, per_query: int = 10, seed: int = 7) -> pd.DataFrame:
    """Rows in the training-set contract; labels 3 = same sub-topic, 2 = same topic, 1/0 = others."""
    rng = np.random.default_rng(seed)
    names = sorted(TOPICS)
    rows: list[dict[str, Any]] = []
    base = pd.Timestamp("2026-01-05T00:00:00Z")
    for q in range(n_queries):
        topic = names[q % len(names)]
        qwords, _, subs = TOPICS[topic]
        sub = subs[(q // len(names)) % len(subs)]
        query = f"{rng.choice(qwords)} {sub}" + (f" {rng.choice(FILLER)}" if q % 3 == 0 else "")
        query_id = f"q{q:04d}"
        split = "train" if q % 6 < 4 else ("validation" if q % 6 == 4 else "test")
        for c in range(per_query):
            kind = rng.choice(4, p=[0.4, 0.2, 0.2, 0.2])
            if kind == 3:
                v_topic, v_sub = topic, sub
            elif kind == 2:
                v_topic, v_sub = topic, str(rng.choice([s for s in subs if s != sub]))
            else:
                v_topic = str(rng.choice([t for t in names if t != topic]))
                v_sub = str(rng.choice(TOPICS[v_topic][2]))
            label = int(kind) if kind >= 2 else int(rng.random() < 0.3)
            title, desc = _video(rng, v_topic, v_sub)
            ctr = float(np.clip(0.05 + 0.08 * label + rng.normal(0, 0.05), 0, 1))
            rows.append({
                "query_id": query_id,
                "video_id": f"v{q:04d}{c:02d}",
                "event_timestamp": base + pd.Timedelta(hours=q),
                "label": label,
                "split": split,
                "query_text": query,
                "title": title,
                "description": desc,
                "qv_ctr": None if rng.random() < 0.1 else ctr,
                "qv_mean_position": float(np.clip(8 - 1.5 * label + rng.normal(0, 2), 1, 20)),
                "video_ctr": float(np.clip(0.1 + rng.normal(0, 0.03), 0, 1)),
                "query_num_tokens": float(len(query.split())),
            })
    df = pd.DataFrame(rows)
    df["label"] = df["label"].astype("int64")
    df["qv_ctr"] = df["qv_ctr"].astype("float64")
    return df


def write_sample_training_set(settings, *, n_queries: int = 48, per_query: int = 10, seed: int = 7,
                              service: str | None = None, publish: bool = True):
    """Publish the sample as `features/training_set_<service>` (what `train` reads by default)."""
    from components.common.snapshots import SnapshotStore

    service = service or settings.training.feature_service
    df = build_sample_training_set(n_queries=n_queries, per_query=per_query, seed=seed)
    extra = {"feature_service": service, "feature_refs": [f"sample:{f}" for f in FEATURES],
             "features": list(FEATURES), "defaults": dict(DEFAULTS),
             "text_columns": ["query_text", "title", "description"]}
    return SnapshotStore(settings.lakehouse).write(TABLE.format(service=service), df,
                                                   parents={"sample": f"seed={seed}"}, extra=extra, publish=publish)


# Params for `train(..., params=TINY_PARAMS)`: a ~30k-parameter model trained in a few seconds.
TINY_PARAMS: dict[str, Any] = {
    "model": {"vocab_size": 300, "hidden_size": 32, "embedding_size": 32, "num_layers": 1, "num_heads": 2,
              "intermediate_size": 64, "max_length": 32, "head_hidden": 16},
    "max_steps": 40, "batch_size": 32, "learning_rate": 3e-3, "eval_every": 20, "checkpoint_every": 20,
    "early_stopping_patience": 0, "log_flush_every": 10, "system_metrics": False,
}


def train_tiny_model(settings, *, params: dict[str, Any] | None = None, validate: bool = False, **sample_kwargs):
    """Publish the sample training set and train a tiny model on it (a few seconds): for other stages' tests.

    Returns the `TrainResult` (`.model_uri` loads with `mlflow.pyfunc.load_model`).
    """
    from components.training.api import train

    write_sample_training_set(settings, **sample_kwargs)
    return train(settings, params={**TINY_PARAMS, **(params or {})}, validate=validate)
