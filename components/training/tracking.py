"""MLflow plumbing for training: experiment, lineage tags, dataset input, streamed metrics.

Per-step metrics are buffered and written with `log_batch` on a background thread every
`flush_every` steps, so a slow tracking store never stalls the training loop (see
benchmarks/training.py for the measured overhead).
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

PIPELINE_RUN_ENV = ("RANKOPS_PIPELINE_RUN_ID", "KFP_RUN_ID", "KFP_POD_NAME")


def ensure_experiment(settings) -> str:
    """Point MLflow at the profile's tracking URI and make the experiment (with the profile's
    artifact location) the active one; return its id."""
    import mlflow

    from components.common.mlflow_client import use_mlflow

    use_mlflow(settings)
    name = settings.mlflow.experiment
    exp = mlflow.get_experiment_by_name(name)
    if exp is None:
        location = settings.mlflow.artifact_location
        if not re.match(r"^[A-Za-z][\w+.-]*:", location):  # a path, not a URI such as mlflow-artifacts:/
            location = settings.resolve(location)
            os.makedirs(location, exist_ok=True)
        experiment_id = mlflow.create_experiment(name, artifact_location=location)
    else:
        experiment_id = exp.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def pipeline_run_id() -> str | None:
    for name in PIPELINE_RUN_ENV:
        if os.environ.get(name):
            return os.environ[name]
    return None


def lineage_tags(snapshot, service: str, model_kind: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Git, data and pipeline lineage of a training run (what the registry copies onto a version)."""
    from components.common.gitinfo import git_info

    git = git_info()
    tags = {
        "rankops.git_sha": git.sha,
        "rankops.git_branch": git.branch,
        "rankops.git_dirty": str(git.dirty).lower(),
        "rankops.training_set": snapshot.ref,
        "rankops.training_set_id": snapshot.snapshot_id,
        "rankops.feature_service": service,
        "rankops.model_kind": model_kind,
        "mlflow.source.git.commit": git.sha,
    }
    for name, ref in sorted((snapshot.manifest.get("parents") or {}).items()):
        tags[f"rankops.parent.{name}"] = str(ref)
    run = pipeline_run_id()
    if run:
        tags["rankops.pipeline_run_id"] = run
    tags.update(extra or {})
    return tags


def log_dataset(snapshot, df, context: str = "training") -> None:
    """The training-set snapshot as an MLflow dataset input; its digest is the snapshot id."""
    import warnings

    import mlflow

    with warnings.catch_warnings():
        # MLflow registers its local-file source twice (schemes "" and "file") and warns that any local
        # path "can be interpreted in multiple ways"; both are the same class, so the warning says nothing
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
        # the dataset's schema only describes the training set (integer labels and counts are right there);
        # the hint about integer columns concerns a model signature, which packaging declares as doubles
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
        dataset = mlflow.data.from_pandas(df, source=snapshot.path, name=snapshot.ref, digest=snapshot.snapshot_id)
        mlflow.log_input(dataset, context=context)  # the schema is inferred here, lazily


def notebook_lineage(path: str) -> dict[str, str]:
    """Where a notebook stands in git: its path in the repository, the commit checked out, and whether
    the file is as committed ("committed"), changed ("modified"), not in git ("untracked") or outside a
    repository ("no git")."""
    import subprocess

    folder = os.path.dirname(path)

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", folder, *args], capture_output=True, text=True, check=True).stdout.strip()

    try:
        root, sha = git("rev-parse", "--show-toplevel"), git("rev-parse", "HEAD")
        status = git("status", "--porcelain", "--", path)
    except (OSError, subprocess.CalledProcessError):
        return {"path": os.path.basename(path), "git_commit": "unknown", "state": "no git"}
    state = "committed" if not status else "untracked" if status.startswith("??") else "modified"
    return {"path": os.path.relpath(path, root), "git_commit": sha, "state": state}


def log_notebook(settings, run_id: str, path: str) -> dict[str, str]:
    """Attach the notebook that made `run_id` to the run (artifact notebook/<file>) with its git commit,
    so the run links back to the code that produced it; returns the tags set."""
    from components.common.mlflow_client import use_mlflow

    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"notebook {path} does not exist: pass the path of the running notebook")
    where = notebook_lineage(path)
    client = use_mlflow(settings)
    client.log_artifact(run_id, path, artifact_path="notebook")
    tags = {"rankops.notebook": where["path"], "rankops.notebook_git_commit": where["git_commit"],
            "rankops.notebook_state": where["state"]}
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    return tags


def flatten(prefix: str, data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(f"{name}.", value))
        else:
            out[name] = value
    return out


class MetricStream:
    """Buffered, asynchronous `log_batch` of per-step metrics (ordering kept by one worker thread)."""

    MAX_BATCH = 1000  # MLflow's per-request metric limit

    def __init__(self, run_id: str, tracking_uri: str, flush_every: int = 25):
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri)
        self.run_id, self.flush_every = run_id, flush_every
        self.buffer: list[Any] = []
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlflow-metrics")
        self.pending: list[Future] = []
        self.steps_since_flush = 0
        self.closed = False

    def add(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.buffer.extend(Metric(k, float(v), now, step) for k, v in metrics.items())

    def step_done(self) -> None:
        self.steps_since_flush += 1
        if self.steps_since_flush >= self.flush_every:
            self.flush()

    def flush(self, wait: bool = False) -> None:
        self.steps_since_flush = 0
        batch, self.buffer = self.buffer, []
        for i in range(0, len(batch), self.MAX_BATCH):
            chunk = batch[i : i + self.MAX_BATCH]
            self.pending.append(self.pool.submit(self.client.log_batch, self.run_id, metrics=chunk))
        self.pending = [f for f in self.pending if not f.done() or f.exception() is not None]
        if wait:
            self.wait()

    def wait(self) -> None:
        """Block until every submitted write is done; re-raise the first failure."""
        pending, self.pending = self.pending, []
        for fut in pending:
            fut.result()

    def close(self) -> None:
        """Flush what is buffered and wait for it (metrics are never dropped silently); idempotent."""
        if self.closed:
            return
        self.closed = True
        self.flush()
        try:
            self.wait()
        finally:
            self.pool.shutdown(wait=True)
