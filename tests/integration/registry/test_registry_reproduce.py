"""`reproduce`: re-train a registered version from its commit (tmp worktree) and snapshot; weights identical."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from components.registry.register import register_model
from components.registry.reproduce import train_in_checkout
from pipelines.cli import build_app
from tests.support.training_data import TINY_PARAMS, write_sample_training_set

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_reproduce_gives_identical_weights(settings, tmp_path: Path, monkeypatch):
    clone = tmp_path / "code"
    subprocess.run(["git", "clone", "-q", "--shared", str(ROOT), str(clone)], check=True)
    for key, value in {"GIT_REPO": str(clone), "WRITE_BACK": "false"}.items():  # the CLI loads its own settings
        monkeypatch.setenv(f"RANKOPS_REGISTRY__{key}", value)
        setattr(settings.registry, key.lower(), value if key == "GIT_REPO" else False)
    snap = write_sample_training_set(settings, n_queries=24, per_query=6)
    params = {**TINY_PARAMS, "max_steps": 8, "eval_every": 4, "checkpoint_every": 4, "threads": 1}
    flat = {f"model.{k}": v for k, v in params.pop("model").items()} | params
    original = train_in_checkout(settings, str(clone), training_set=snap.ref, params=flat)
    version = register_model(settings, original["model_uri"])["version"]

    summary = tmp_path / "repro.json"
    result = CliRunner().invoke(build_app(), ["reproduce", version, "--summary", str(summary)])
    assert result.exit_code == 0, result.output
    import json

    out = json.loads(summary.read_text())
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True).stdout.strip()
    assert (out["identical"], out["max_abs_diff"], out["git_sha"]) == (True, 0.0, head)
    assert out["tensors"] > 5 and out["run_id"] != out["original_run_id"] and out["training_set"] == snap.ref
    assert not (clone.parent / "rankops-reproduce").exists()
    assert subprocess.run(["git", "worktree", "list"], cwd=clone, capture_output=True, text=True).stdout.count("\n") == 1


# a few small trees on a tiny sample: LightGBM's own parameters, none of them the family's defaults
LAMBDAMART = {"model.family": "lambdamart", "model.n_estimators": 12, "model.num_leaves": 5,
              "model.min_data_in_leaf": 3, "model.learning_rate": 0.3, "model.eval_every": 4,
              "system_metrics": False, "threads": 1}


def booster_text(model_uri: str) -> bytes:
    """The package's one LightGBM model.txt, read straight from its artifacts."""
    import mlflow

    (path,) = sorted(Path(mlflow.artifacts.download_artifacts(model_uri)).rglob("model.txt"))
    return path.read_bytes()


@pytest.mark.slow
def test_reproduce_rebuilds_a_lambdamart_version_with_its_own_parameters(settings, tmp_path: Path, monkeypatch):
    import json

    from mlflow.tracking import MlflowClient

    clone = tmp_path / "code"
    subprocess.run(["git", "clone", "-q", "--shared", str(ROOT), str(clone)], check=True)
    for key, value in {"GIT_REPO": str(clone), "WRITE_BACK": "false"}.items():
        monkeypatch.setenv(f"RANKOPS_REGISTRY__{key}", value)
        setattr(settings.registry, key.lower(), value if key == "GIT_REPO" else False)
    snap = write_sample_training_set(settings, n_queries=24, per_query=6)
    original = train_in_checkout(settings, str(clone), training_set=snap.ref, params=LAMBDAMART)
    version = register_model(settings, original["model_uri"])["version"]
    client = MlflowClient(settings.tracking_uri)
    params = client.get_run(original["run_id"]).data.params  # the family's parameters trained it, not its defaults
    assert (params["model.family"], params["model.num_leaves"], params["model.n_estimators"],
            params["model.learning_rate"], params["model.min_data_in_leaf"]) == ("lambdamart", "5", "12", "0.3", "3")

    summary = tmp_path / "repro.json"
    result = CliRunner().invoke(build_app(), ["reproduce", version, "--summary", str(summary)])
    assert result.exit_code == 0, result.output
    out = json.loads(summary.read_text())
    assert (out["identical"], out["tensors"], out["training_set"]) == (True, 1, snap.ref)
    params = client.get_run(out["run_id"]).data.params
    assert (params["model.family"], params["model.num_leaves"], params["model.n_estimators"],
            params["model.learning_rate"], params["model.min_data_in_leaf"]) == ("lambdamart", "5", "12", "0.3", "3")
    rebuilt, registered = booster_text(out["model_uri"]), booster_text(f"models:/rankops-ranker/{version}")
    assert rebuilt == registered and b"[num_leaves: 5]" in rebuilt and b"[learning_rate: 0.3]" in rebuilt
