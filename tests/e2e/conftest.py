"""One real ELECTRA world per test session: gold in Feast, two trained cross-encoders in MLflow.

The gold tables carry the topic world of `tests.support.training_data` (queries and videos
of a topic use different synonyms; engagement follows the label), published on one day, so the
online store holds exactly the point-in-time values of the training set. Two ELECTRA models
are trained on it with the local profile: v1 stops after two optimiser steps (nearly untrained),
v2 trains briefly for real, so v2 beats v1 on the held-out queries every time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from components.common.config import load_settings

REPO = Path(__file__).resolve().parents[2]
DAY_END = datetime(2026, 1, 5, 23, 59, 59, 999999, tzinfo=UTC)
PARAMS = {"model": {"vocab_size": 400, "hidden_size": 32, "embedding_size": 32, "num_layers": 1, "num_heads": 2,
                    "intermediate_size": 64, "max_length": 32, "head_hidden": 16},
          "batch_size": 32, "learning_rate": 3e-3, "early_stopping_patience": 0, "system_metrics": False}
UNTRAINED = {**PARAMS, "max_steps": 2, "eval_every": 2, "checkpoint_every": 2}
TRAINED = {**PARAMS, "max_steps": 80, "eval_every": 40, "checkpoint_every": 40}


def topic_gold(n_queries: int = 96, per_query: int = 10, seed: int = 7) -> dict:
    """Gold tables (GOLD_SCHEMAS) of the sample topic world, ids as the ETL derives them."""
    from components.common.contract import GOLD_LABELS, GOLD_QUERY, GOLD_QUERY_VIDEO, GOLD_VIDEO
    from components.etl.normalize import query_id_of, video_id_of
    from tests.support.feature_data import gold_frame
    from tests.support.training_data import build_sample_training_set

    sample = build_sample_training_set(n_queries=n_queries, per_query=per_query, seed=seed)
    first = sample.groupby("query_text")["query_id"].transform("first")
    sample = sample[sample["query_id"] == first]  # a text asked twice is one query: keep its first list
    rng = np.random.default_rng(seed)
    queries, videos, pairs, labels = [], [], [], []
    for text, rows in sample.groupby("query_text", sort=True):
        qid = query_id_of(text)
        imp = int(rng.integers(20, 400))
        clicks = int(imp * float(rng.uniform(0.05, 0.4)))
        queries.append(dict(query_id=qid, event_timestamp=DAY_END, query_text=text, query_num_tokens=len(text.split()),
                            query_impressions=imp, query_clicks=clicks, query_ctr=clicks / imp, query_sessions=imp // 2))
        for r in rows.itertuples(index=False):
            vid = video_id_of(f"https://videos.example/{r.video_id}")
            v_imp = int(rng.integers(50, 500))
            videos.append(dict(video_id=vid, event_timestamp=DAY_END, canonical_url=f"videos.example/{r.video_id}",
                               title=r.title, description=r.description, channel=f"ch{len(videos) % 9}",
                               duration_s=float(rng.integers(30, 900)), video_age_days=float(rng.integers(1, 400)),
                               tag_count=int(rng.integers(0, 6)), video_impressions=v_imp,
                               video_clicks=round(v_imp * r.video_ctr), video_ctr=round(v_imp * r.video_ctr) / v_imp))
            if not np.isnan(r.qv_ctr):  # a pair without engagement has no row: Feast serves the defaults
                qv_imp = int(rng.integers(5, 60))
                qv_clicks = round(qv_imp * r.qv_ctr)
                pairs.append(dict(query_id=qid, video_id=vid, event_timestamp=DAY_END, qv_impressions=qv_imp,
                                  qv_clicks=qv_clicks, qv_ctr=qv_clicks / qv_imp, qv_mean_position=r.qv_mean_position,
                                  qv_mean_dwell_ms=1000.0 * r.label, qv_debiased_ctr=qv_clicks / qv_imp))
            labels.append(dict(query_id=qid, video_id=vid, event_timestamp=DAY_END + timedelta(hours=1),
                               query_text=text, label=r.label, split=r.split))
    return {GOLD_QUERY: gold_frame(GOLD_QUERY, queries), GOLD_VIDEO: gold_frame(GOLD_VIDEO, videos),
            GOLD_QUERY_VIDEO: gold_frame(GOLD_QUERY_VIDEO, pairs), GOLD_LABELS: gold_frame(GOLD_LABELS, labels)}


def gitops_repo(path: Path) -> Path:
    """A real git repo holding the project's manifests on `main`: the registry write-back and the
    promotion branches land here, never in the checkout running the tests."""
    shutil.copytree(REPO / "manifests", path / "manifests")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", "-C", str(path)]
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "manifests"], check=True)
    return path


class World:
    """The session's home, settings, training set and the two trained models' URIs."""

    def __init__(self, home: Path, overrides: dict[str, str], training_set, untrained: str, trained: str):
        self.home, self.overrides, self.training_set = home, overrides, training_set
        self.settings = load_settings("local", environ=self.env())
        self.untrained_uri, self.trained_uri = untrained, trained

    def env(self) -> dict[str, str]:
        """The environment of a `rankops` subprocess (or CLI call) working in this world."""
        env = {k: v for k, v in os.environ.items() if not (k.startswith("RANKOPS_") and "__" in k)}
        env.update({"RANKOPS_HOME": str(self.home), "RANKOPS_ENV": "local", "SPARK_LOCAL_IP": "127.0.0.1",
                    "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.org",
                    "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.org", **self.overrides})
        return env


@pytest.fixture(scope="session")
def electra_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Gold published, applied and materialised; training set built; both ELECTRA models trained."""
    from components.features.apply import run_apply
    from components.features.materialize import run_materialize
    from components.features.training_set import build_training_set
    from components.training.api import train
    from tests.support.feature_data import publish_gold

    root = tmp_path_factory.mktemp("electra")
    home, repo = root / "home", gitops_repo(root / "gitops")
    overrides = {"RANKOPS_REGISTRY__GIT_REPO": str(repo), "RANKOPS_PROMOTION__GIT_REPO": str(repo)}
    settings = load_settings("local", environ={"RANKOPS_HOME": str(home), **overrides})
    publish_gold(settings, topic_gold())
    run_apply(settings)
    run_materialize(settings)
    training_set = build_training_set(settings)
    # the validity gate runs once, where it matters: when the tests register the models
    untrained = train(settings, params=UNTRAINED, validate=False).model_uri
    trained = train(settings, params=TRAINED, validate=False).model_uri
    yield World(home, overrides, training_set, untrained, trained)
    from components.features.online import clear_online_cache

    clear_online_cache()
