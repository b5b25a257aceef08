"""The copy into prod's registry when prod's tracking server wants its own credentials.

A real `mlflow server` (artifact proxy) behind a basic-auth gate stands for prod; dev's registry
is SQLite with dev's own MLflow credentials set process-wide, as the pipeline pods have them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from components.promotion.settings import TargetRegistry
from components.registry.lookup import use_mlflow
from components.registry.register import register_model
from components.registry.transfer import TransferError, copy_version, target_client, version_weights
from tests.support.evaluation_data import log_scorer, write_training_set
from tests.support.mlflow_server import BasicAuthGate, mlflow_server

pytestmark = pytest.mark.slow  # an MLflow server start (~5-10 s) and a model copy through it

NAME = "rankops-ranker"
PASSWORD = "s3cr:t/@?"  # characters a URI's user info must escape


@pytest.fixture
def prod(tmp_path: Path, settings, monkeypatch):
    with mlflow_server(tmp_path / "prod-mlflow") as (url, _), BasicAuthGate(url, "prod-ci", PASSWORD) as gate:
        settings.promotion.target = TargetRegistry(tracking_uri=gate.url)
        settings.registry.write_back = False
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "dev-ci")  # this environment's own server's pair
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "dev-password")
        for name in ("TARGET_MLFLOW_TRACKING_USERNAME", "TARGET_MLFLOW_TRACKING_PASSWORD"):
            monkeypatch.delenv(name, raising=False)
        yield gate


def test_the_target_gets_its_own_credentials_and_never_this_environments(settings, prod, monkeypatch):
    snap = write_training_set(settings)
    version = register_model(settings, log_scorer(settings, {"signal": 1.0}, snapshot=snap))["version"]
    source_weights = version_weights(use_mlflow(settings), NAME, version)

    with pytest.raises(MlflowException, match="401"):  # without its own pair, MLflow sends dev's
        copy_version(settings, use_mlflow(settings), NAME, version)
    assert set(prod.users) == {"dev-ci"}

    monkeypatch.setenv("TARGET_MLFLOW_TRACKING_USERNAME", "prod-ci")
    with pytest.raises(TransferError, match=r"\$TARGET_MLFLOW_TRACKING_PASSWORD is empty while "
                                            r"\$TARGET_MLFLOW_TRACKING_USERNAME is set; set both or neither"):
        target_client(settings)
    monkeypatch.setenv("TARGET_MLFLOW_TRACKING_PASSWORD", PASSWORD)
    prod.users.clear()
    copied = copy_version(settings, use_mlflow(settings), NAME, version)
    assert (copied["version"], copied["copied"], copied["target_registry"]) == ("1", True, prod.url)
    assert set(prod.users) == {"prod-ci"} and len(prod.users) > 5  # every call, artifacts included
    target = target_client(settings)
    assert version_weights(target, NAME, "1") == source_weights == copied["weights_sha256"]
    tags = target.get_model_version(NAME, "1").tags
    assert (tags["rankops.source_version"], tags["rankops.weights_sha256"]) == (version, source_weights)
    assert PASSWORD not in str(tags) and "prod-ci" not in str(tags)  # the tags name the server, not the pair
    assert hashlib.sha256(PASSWORD.encode()).hexdigest() not in str(copied)


def test_cli_errors_mask_credentials_in_urls(capsys):
    from pipelines.cli.context import fail

    fail("API request to http://prod-ci:s3cr%3At@mlflow.rankops-prod:5000/api/2.0/x failed; "
         "git push https://x-access-token:ghs_abc@github.com/r/r.git refused")
    err = " ".join(capsys.readouterr().err.split())
    assert err == ("error: API request to http://***@mlflow.rankops-prod:5000/api/2.0/x failed; "
                   "git push https://***@github.com/r/r.git refused")
