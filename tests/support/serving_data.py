"""Tiny synthetic serving fixtures: feature tables, a training-set-shaped frame, a registered model.

Shared by the tests and the benchmarks so both exercise the ranker on the same shapes as the
real pipeline (ids from components.etl.normalize, the training set's columns and metadata).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.etl.normalize import query_id_of, video_id_of

if TYPE_CHECKING:
    import pandas as pd

    from components.common.config import Settings

FEATURES = ["query_num_tokens", "query_ctr", "video_ctr", "duration_s", "qv_ctr"]
WORDS = ["cat", "dog", "piano", "guitar", "recipe", "pasta", "travel", "tokyo", "lesson", "funny",
         "news", "football", "goal", "science", "space", "rocket", "jazz", "drums", "yoga", "garden"]


def make_tables(n_queries: int = 20, n_videos: int = 200, seed: int = 0) -> dict[str, pd.DataFrame]:
    """queries, videos, pairs (query x video features) and a training-set-shaped frame with labels."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    ts = pd.Timestamp("2026-11-01", tz="UTC")
    qtext = [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 4)), replace=False)) for _ in range(n_queries)]
    qtext = list(dict.fromkeys(qtext))
    queries = pd.DataFrame({"query_id": [query_id_of(q) for q in qtext], "query_text": qtext})
    queries["query_num_tokens"] = queries["query_text"].str.split().str.len().astype("float64")
    queries["query_ctr"] = rng.uniform(0, 0.5, len(queries)).round(4)
    urls = [f"https://www.example.com/watch?v=vid{i:05d}" for i in range(n_videos)]
    titles = [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 6)), replace=False)) for _ in range(n_videos)]
    videos = pd.DataFrame({
        "video_id": [video_id_of(u) for u in urls],
        "title": titles,
        "description": [f"{t} " * int(rng.integers(1, 6)) for t in titles],
        "video_ctr": rng.uniform(0, 0.3, n_videos).round(4),
        "duration_s": rng.integers(30, 1200, n_videos).astype("float64"),
    })
    rows = []
    for q in queries.itertuples():
        for v in videos.sample(n=min(10, n_videos), random_state=int(rng.integers(0, 2**31))).itertuples():
            overlap = len(set(q.query_text.split()) & set(v.title.split()))
            rows.append({"query_id": q.query_id, "video_id": v.video_id, "qv_ctr": round(float(rng.uniform(0, 1)), 4),
                         "label": int(min(3, overlap + (rng.uniform() < 0.2)))})
    pairs = pd.DataFrame(rows)
    train = pairs.merge(queries, on="query_id").merge(videos, on="video_id")
    train["event_timestamp"] = ts
    train["split"] = "train"
    cols = ["query_id", "video_id", "event_timestamp", "label", "split", "query_text", "title", "description", *FEATURES]
    return {"queries": queries, "videos": videos, "pairs": pairs[["query_id", "video_id", "qv_ctr"]],
            "training_set": train[cols].sort_values(["query_id", "video_id"]).reset_index(drop=True)}


def frame_source(tables: dict[str, pd.DataFrame]):
    """A FrameFeatures online source over `make_tables` output."""
    from components.inference.features import FrameFeatures

    return FrameFeatures(tables["queries"], tables["videos"], tables["pairs"], features=FEATURES)


def write_training_set(settings: Settings, tables: dict[str, pd.DataFrame], service: str = "ranker_v1"):
    """The frame as a `features/training_set_<service>` snapshot with the Feast stage's manifest keys."""
    from components.common.snapshots import SnapshotStore

    extra = {"feature_service": service, "feature_refs": [], "features": FEATURES,
             "text_columns": ["query_text", "title", "description"], "defaults": {f: 0.0 for f in FEATURES}}
    return SnapshotStore(settings.lakehouse).write(f"features/training_set_{service}", tables["training_set"],
                                                   extra=extra, publish=True)
