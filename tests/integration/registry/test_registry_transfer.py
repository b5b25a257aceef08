"""copy_version into another registry: a copy counts (and is reused) only once its landed weights are checked.

Dev's registry is the test's SQLite store and prod's another SQLite store with its own artifact
directory. The corruption is one flipped byte in what the copy uploads, the first time only.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

import components.registry.transfer as transfer
from components.promotion.settings import TargetRegistry
from components.registry.lookup import use_mlflow
from components.registry.register import register_model
from components.registry.transfer import TransferError, copy_version
from tests.support.evaluation_data import log_scorer, write_training_set

NAME = "rankops-ranker"


@pytest.fixture
def prod(tmp_path: Path, settings) -> MlflowClient:
    prod_dir = tmp_path / "prod-mlflow"
    prod_dir.mkdir()
    uri = f"sqlite:///{prod_dir}/mlflow.db"
    settings.promotion.target = TargetRegistry(tracking_uri=uri, artifact_location=str(prod_dir / "artifacts"))
    settings.registry.write_back = False
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture
def dev_version(settings) -> str:
    snap = write_training_set(settings)
    return register_model(settings, log_scorer(settings, {"signal": 1.0}, snapshot=snap))["version"]


def weights_file(client: MlflowClient, version: str) -> Path:
    """The version's one safetensors file, straight from the store's local artifact directory."""
    root = Path(client.get_model_version_download_uri(NAME, version).removeprefix("file://"))
    (path,) = sorted(root.rglob("*.safetensors"))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def corrupt_uploads(monkeypatch, tmp_path: Path, times: int = 1) -> list[str]:
    """The target client's next `times` uploads land with one byte of the weights flipped; returns their run ids."""
    real = transfer.target_client
    corrupted: list[str] = []

    def target_client(settings, environ=None):
        client = real(settings, environ)
        upload = client.log_artifacts

        def log_artifacts(run_id, local_dir, artifact_path=None):
            if len(corrupted) < times:
                bad = tmp_path / f"corrupt-{len(corrupted)}"
                shutil.copytree(local_dir, bad)
                (weights,) = sorted(bad.rglob("*.safetensors"))
                flip_last_byte(weights)
                corrupted.append(run_id)
                return upload(run_id, str(bad), artifact_path)
            return upload(run_id, local_dir, artifact_path)

        client.log_artifacts = log_artifacts
        return client

    monkeypatch.setattr(transfer, "target_client", target_client)
    return corrupted


def prod_versions(prod: MlflowClient) -> dict[str, dict[str, str]]:
    return {mv.version: dict(mv.tags or {}) for mv in prod.search_model_versions(f"name='{NAME}'")}


def test_a_corrupt_landing_is_never_reused_by_the_retry(settings, prod, dev_version, monkeypatch, tmp_path):
    dev = use_mlflow(settings)
    source_hash = sha256(weights_file(dev, dev_version))
    corrupted = corrupt_uploads(monkeypatch, tmp_path)

    with pytest.raises(TransferError, match="do not pin it"):
        copy_version(settings, dev, NAME, dev_version)
    assert len(corrupted) == 1
    bad = {v for v, tags in prod_versions(prod).items() if tags.get("rankops.source_version") == dev_version}

    retry = copy_version(settings, dev, NAME, dev_version)  # the KFP step's retry
    assert retry["copied"] is True and retry["version"] not in bad
    for v in bad & set(prod_versions(prod)):  # what is left of the bad copy does not claim the source's weights
        assert prod_versions(prod)[v].get("rankops.weights_sha256") is None
    assert sha256(weights_file(prod, retry["version"])) == source_hash  # the landed bytes are the source's
    assert prod.get_model_version(NAME, retry["version"]).tags["rankops.source_version"] == dev_version
    assert dev.get_model_version(NAME, dev_version).tags["rankops.copied_to"].endswith(f"#{retry['version']}")

    again = copy_version(settings, dev, NAME, dev_version)  # a checked copy is reused
    assert (again["version"], again["copied"]) == (retry["version"], False)


def test_a_copy_left_unverified_by_a_dead_process_is_not_reused(settings, prod, dev_version, monkeypatch):
    dev = use_mlflow(settings)
    source_hash = sha256(weights_file(dev, dev_version))

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt("the pod died before the check")

    with monkeypatch.context() as m:
        m.setattr(transfer, "version_weights", killed)
        with pytest.raises(KeyboardInterrupt):
            copy_version(settings, dev, NAME, dev_version)
    (unchecked,) = prod_versions(prod)  # the version was created, never checked

    retry = copy_version(settings, dev, NAME, dev_version)
    assert retry["copied"] is True and retry["version"] != unchecked
    assert sha256(weights_file(prod, retry["version"])) == source_hash


def test_a_reused_copy_is_checked_again(settings, prod, dev_version):
    """A copy whose weights in prod's store no longer match (or an older copy tagged before any check) is not reused."""
    dev = use_mlflow(settings)
    source_hash = sha256(weights_file(dev, dev_version))
    first = copy_version(settings, dev, NAME, dev_version)
    flip_last_byte(weights_file(prod, first["version"]))

    second = copy_version(settings, dev, NAME, dev_version)
    assert second["copied"] is True and second["version"] != first["version"]
    assert sha256(weights_file(prod, second["version"])) == source_hash
    assert prod.get_model_version(NAME, first["version"]).tags.get("rankops.copy_rejected")
