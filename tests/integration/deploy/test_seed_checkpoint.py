"""The seed-checkpoint Job's command, run as written in the rendered prod overlay against a real
MLflow server (artifact proxy on loopback): the checkpoint arrives whole, once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.mlflow_server import mlflow_server as running_mlflow

pytestmark = pytest.mark.slow  # an MLflow server start (~5-10 s)

REPO = Path(__file__).resolve().parents[3]
KUBECTL = REPO / ".venv-tools" / "bin" / "kubectl"


def seed_container() -> dict:
    kubectl = str(KUBECTL) if KUBECTL.exists() else shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is needed to render manifests/: run `make tools`")
    out = subprocess.run([kubectl, "kustomize", str(REPO / "manifests/overlays/prod")], capture_output=True,
                         text=True, check=True).stdout
    job = next(d for d in yaml.safe_load_all(out) if d and d["kind"] == "Job" and d["metadata"]["name"] == "seed-checkpoint")
    return job["spec"]["template"]["spec"]["containers"][0]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """(url, artifacts root) of `mlflow server --serve-artifacts` on 127.0.0.1, stopped at the end."""
    with running_mlflow(tmp_path_factory.mktemp("mlflow")) as server:
        yield server


def run_seed(container: dict, url: str, models: Path) -> subprocess.CompletedProcess:
    env = {e["name"]: e["value"] for e in container["env"]}
    env.update(MLFLOW_TRACKING_URI=url, MODELS_DIR=str(models), HOME=str(models.parent),
               PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return subprocess.run([*container["command"], *container["args"]], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_seed_job_copies_the_checkpoint_once_and_whole(mlflow_server, tmp_path):
    url, artifacts = mlflow_server
    container = seed_container()
    name = {e["name"]: e["value"] for e in container["env"]}["CHECKPOINT_NAME"]
    source = artifacts / "checkpoints" / name
    source.mkdir(parents=True)
    files = {"config.json": '{"model_type": "electra"}', "tokenizer.json": "{}", "model.safetensors": "w" * 4096}
    for file, text in files.items():
        (source / file).write_text(text)
    models = tmp_path / "models"
    models.mkdir()

    first = run_seed(container, url, models)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == f"checkpoint seeded: {models / name}"
    assert {p.name: p.read_text() for p in (models / name).iterdir()} == files
    assert sorted(p.name for p in models.iterdir()) == [name]  # no leftovers

    (source / "config.json").write_text('{"model_type": "changed"}')
    again = run_seed(container, url, models)
    assert (again.returncode, again.stdout.strip()) == (0, f"checkpoint present: {models / name}")
    assert (models / name / "config.json").read_text() == files["config.json"]


def test_an_incomplete_checkpoint_is_never_put_in_place(mlflow_server, tmp_path):
    url, artifacts = mlflow_server
    container = {**seed_container()}
    container["env"] = [e if e["name"] != "CHECKPOINT_NAME" else {"name": "CHECKPOINT_NAME", "value": "partial"}
                        for e in container["env"]]
    container["env"] = [e if e["name"] != "CHECKPOINT_URI" else
                        {"name": "CHECKPOINT_URI", "value": "mlflow-artifacts:/checkpoints/partial"}
                        for e in container["env"]]
    (artifacts / "checkpoints" / "partial").mkdir(parents=True)
    (artifacts / "checkpoints" / "partial" / "tokenizer.json").write_text("{}")  # no config.json
    models = tmp_path / "models"
    models.mkdir()
    res = run_seed(container, url, models)
    assert res.returncode != 0
    assert list(models.iterdir()) == []  # neither the checkpoint nor the half-downloaded copy
