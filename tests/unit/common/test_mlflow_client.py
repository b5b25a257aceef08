"""One helper points MLflow at a store; nothing else in the package sets MLflow's process-wide URIs."""

import re
from pathlib import Path

import mlflow

from components.common.mlflow_client import use_mlflow

ROOT = Path(__file__).resolve().parents[3]


def test_use_mlflow_points_tracking_and_registry_at_the_same_store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = use_mlflow(uri)
    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (uri, uri)
    client.create_registered_model("m")  # the registry is really the given store
    assert [m.name for m in mlflow.MlflowClient(uri, uri).search_registered_models()] == ["m"]


def test_nothing_else_sets_mlflows_uris():
    pattern = re.compile(r"set_(tracking|registry)_uri\(")
    offenders = [str(p.relative_to(ROOT)) for folder in ("components", "pipelines")
                 for p in (ROOT / folder).rglob("*.py")
                 if pattern.search(p.read_text(encoding="utf-8")) and p.name != "mlflow_client.py"]
    assert offenders == []
