"""Simulated users for online experiments: a world with true grades, the two rankers, the server, the clicks.

The world is `serving_data.make_tables` (graded query-video labels); the champion is BM25 packaged as
a model, the challenger the project's ELECTRA trained on the world's labels. Each simulated query
sends the query's labelled candidates to a running ranker over HTTP, reads the served order and
clicks with the generator's click model (`components.datagen.clicks`) over the true grades. Offline
helpers run the same click model on team-draft interleavings and A/B arms without a server, for the
many seeded repeats.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cloudpickle
import mlflow.pyfunc
import pandas as pd  # at run time: MLflow resolves `predict`'s hint when the class is defined

from components.datagen.clicks import simulate_clicks

if TYPE_CHECKING:
    from components.common.config import Settings

ROOT = Path(__file__).resolve().parents[2]


class Bm25Ranker(mlflow.pyfunc.PythonModel):
    """BM25 (the evaluation stage's baseline) packaged as a model: IDF over each request's candidates."""

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None):
        from components.evaluation.baseline import score_bm25

        frame = model_input.copy()
        frame["video_id"] = [f"row{i}" for i in range(len(frame))]  # score_bm25 dedups on video_id
        return score_bm25(frame)


# The local profile's ELECTRA as it is (model section untouched); only the loop is set: a fixed number of
# epochs, one torch thread (two oversubscribe a shared 2-core box), no checkpoints or system-metrics sampler
ELECTRA_LOOP: dict[str, Any] = {"epochs": 8, "eval_every": 25, "checkpoint_every": 10_000, "early_stopping_patience": 0,
                                "threads": 1, "system_metrics": False}
WORLD = {"n_queries": 120, "n_videos": 300, "seed": 0}  # the integration test's and the benchmark's world


def register_pyfunc(settings: Settings, model: mlflow.pyfunc.PythonModel, features: list[str],
                    alias: str | None) -> str:
    """Log + register `model` (BM25 here) as the next version of the serving model; returns the version."""
    import mlflow

    from components.common.mlflow_client import use_mlflow
    from components.training.tracking import ensure_experiment

    client = use_mlflow(settings)
    name = settings.registry.model_name
    ensure_experiment(settings)  # the profile's artifact location, not ./mlruns of the working directory
    with mlflow.start_run(run_name=type(model).__name__):
        cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the server needs no tests/ on its path
        info = mlflow.pyfunc.log_model(
            name="model", python_model=model, registered_model_name=name,
            metadata={"features": list(features), "defaults": {f: 0.0 for f in features},
                      "text_columns": ["query_text", "title", "description"]})
    version = str(info.registered_model_version)
    if alias:
        client.set_registered_model_alias(name, alias, version)
    return version


def split_by_query(train: pd.DataFrame, every: int = 4) -> pd.DataFrame:
    """Every `every`-th query (by id) in the validation split, the others in train."""
    queries = sorted(train["query_id"].unique())
    role = {q: "validation" if i % every == 0 else "train" for i, q in enumerate(queries)}
    return train.assign(split=train["query_id"].map(role))


def train_electra(settings: Settings, world: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The project's ELECTRA cross-encoder trained on the world's graded labels and registered.

    The real path: the training set published as a snapshot, `components.training.api.train` (tokenizer
    trained from the data, numeric + lexical features, tracked in MLflow), `register_model` (validity
    checks, lineage tags, model card; it moves `challenger`). Returns version, run id, metrics, steps.
    """
    from components.registry.register import register_model
    from components.training.api import train
    from tests.support import serving_data

    tables = {**world["tables"], "training_set": split_by_query(world["tables"]["training_set"])}
    snap = serving_data.write_training_set(settings, tables)
    result = train(settings, training_set=snap.ref, params={**ELECTRA_LOOP, **(params or {})}, validate=False)
    version = register_model(settings, result.model_uri)["version"]
    return {"version": version, "run_id": result.run_id, "metrics": result.metrics, "steps": result.steps}


def start_server(home: Path, tables_dir: Path, port: int, environ: dict[str, str]) -> subprocess.Popen:
    """`python -m tests.support.experiment_server` on 127.0.0.1:port (a real uvicorn process)."""
    env = {**os.environ, "RANKOPS_HOME": str(home), "RANKOPS_ENV": "local", **environ}
    log = (home / "server.log").open("w")
    return subprocess.Popen([sys.executable, "-m", "tests.support.experiment_server", str(tables_dir), str(port)],
                            env=env, cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT)


def wait_live(url: str, proc: subprocess.Popen, timeout: float = 120) -> dict:
    """Wait until the ranker is ready and its experiment is live; returns /experiment."""
    import httpx

    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                status = httpx.get(f"{url}/experiment", timeout=2).json()
                if status["active"]:
                    return status
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"experiment not live after {timeout} s: {status}")


def send_traffic(url: str, queries: list[str], candidates: dict[str, list[str]], grades: dict[tuple[str, str], int],
                 n: int, seed: int, clicks_path: Path) -> int:
    """`n` simulated queries (a new session each); clicks appended to `clicks_path`. Returns the clicks."""
    import httpx

    rng = random.Random(seed)
    total = 0
    clicks_path.parent.mkdir(parents=True, exist_ok=True)
    with httpx.Client(base_url=url, timeout=30) as client, clicks_path.open("a") as out:
        for i in range(n):
            query = rng.choice(queries)
            resp = client.post("/rerank", json={"query": query, "candidates": candidates[query],
                                                "session_id": f"sim-{seed}-{i}"},
                               headers={"x-request-id": f"sim-{seed}-{i}"})  # reproducible team draws
            resp.raise_for_status()
            body = resp.json()
            served = [r["video_id"] for r in body["results"]]
            for pos in simulate_clicks([grades[(query, v)] for v in served], rng):
                out.write(json.dumps({"request_id": body["request_id"], "video_id": served[pos - 1],
                                      "position": pos, "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
                          + "\n")
                total += 1
    return total


def make_world(n_queries: int = 40, n_videos: int = 200, seed: int = 0) -> dict[str, Any]:
    """`serving_data` tables whose query-video CTR carries the graded label (as logged clicks would), plus
    per query its labelled candidates and the true grades the simulated users click by."""
    import numpy as np

    from tests.support import serving_data

    tables = serving_data.make_tables(n_queries=n_queries, n_videos=n_videos, seed=seed)
    rng = np.random.default_rng(seed + 1)
    train = tables["training_set"]
    train["qv_ctr"] = np.clip(0.05 + 0.2 * train["label"] + rng.normal(0, 0.08, len(train)), 0, 1).round(4)
    pairs = tables["pairs"].drop(columns="qv_ctr").merge(train[["query_id", "video_id", "qv_ctr"]],
                                                          on=["query_id", "video_id"])
    tables["pairs"] = pairs
    candidates = {q: list(g["video_id"]) for q, g in train.groupby("query_text")}
    grades = {(q, v): int(lab) for q, v, lab in zip(train["query_text"], train["video_id"], train["label"], strict=True)}
    return {"tables": tables, "candidates": candidates, "grades": grades, "queries": sorted(candidates)}


def save_tables(tables: dict[str, pd.DataFrame], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("queries", "videos", "pairs"):
        tables[name].to_parquet(directory / f"{name}.parquet", index=False)
    return directory


def offline_interleaving(rank_a: dict[str, list[str]], rank_b: dict[str, list[str]],
                         grades: dict[tuple[str, str], int], n: int, seed: int) -> list[str]:
    """Outcomes of `n` simulated interleaved queries, without a server (same click model and team draft)."""
    from components.inference.experiments import credit, team_draft

    rng = random.Random(seed)
    queries = sorted(rank_a)
    outcomes = []
    for i in range(n):
        query = rng.choice(queries)
        ids, teams = team_draft(rank_a[query], rank_b[query], random.Random(f"{seed}-{i}"))
        outcomes.append(credit(teams, simulate_clicks([grades[(query, v)] for v in ids], rng)))
    return outcomes


def offline_ab(rank_a: dict[str, list[str]], rank_b: dict[str, list[str]], grades: dict[tuple[str, str], int],
               n: int, seed: int, share: float = 0.5) -> list[dict[str, Any]]:
    """`n` simulated A/B impressions (rows with `arm`, `request_id`) and their clicks, without a server."""
    from components.inference.experiments import CHALLENGER, assign_arm

    rng = random.Random(seed)
    queries = sorted(rank_a)
    rows = []
    for i in range(n):
        query = rng.choice(queries)
        arm = assign_arm("offline", f"{seed}-{i}", share)
        ids = rank_b[query] if arm == CHALLENGER else rank_a[query]
        rows.append({"request_id": f"{seed}-{i}", "arm": arm, "fallback": False,
                     "clicks": simulate_clicks([grades[(query, v)] for v in ids], rng)})
    return rows


def rankings(settings: Settings, uri: str, world: dict[str, Any]) -> dict[str, list[str]]:
    """Each query's candidates in the order the model at `uri` ranks them (offline, same features)."""
    import numpy as np

    from components.inference.model import load_ranker
    from tests.support.serving_data import frame_source

    ranker = load_ranker(settings, uri)
    source = frame_source(world["tables"])
    out = {}
    for query, ids in world["candidates"].items():
        scores = ranker.predict(source.lookup(query, ids))
        out[query] = [ids[i] for i in np.argsort(-scores, kind="stable")]
    return out
