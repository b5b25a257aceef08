"""`rankops pipeline run end_to_end --local` (what `make run` does) on tiny data: every stage really runs.

Real KFP local runner, real Spark ETL, Feast, training, MLflow registry, comparison and the
promotion request when the challenger wins; asserts the registry and lineage afterwards.
"""

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support import small_run

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]

TASKS = ["compare-op", "etl-op", "evaluate-op", "features-apply-op", "generate-data-op", "materialize-op",
         "register-op", "train-op", "training-set-op", "validate-model-op"]


@pytest.fixture
def gitops_repo(tmp_path, monkeypatch):
    """A real git repo holding the manifests: registry write-back and promotion branches land here,
    never in the checkout running the tests."""
    import shutil
    import subprocess

    repo = tmp_path / "gitops"
    shutil.copytree(REPO / "manifests", repo / "manifests")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "-m", "manifests"], check=True)
    for section in ("REGISTRY", "PROMOTION"):
        monkeypatch.setenv(f"RANKOPS_{section}__GIT_REPO", str(repo))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.org")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.org")
    return repo


def test_end_to_end_runs_locally(rankops_home, gitops_repo, tmp_path):
    import subprocess

    from components.common.config import load_settings
    from pipelines.cli import build_app

    checkout_head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                                   text=True).stdout
    settings = load_settings("local")

    summary = tmp_path / "e2e.json"
    res = CliRunner().invoke(build_app(), [
        "pipeline", "run", "end_to_end", "--local", *small_run.DATA,
        "-p", f"params_json={json.dumps(small_run.STEPS)}", "--summary", str(summary)])
    assert res.exit_code == 0, res.output[-3000:]
    result = json.loads(summary.read_text())
    tasks = result["tasks"]
    # generator (seed 7) and CPU training are deterministic: on this data the model beats BM25, so the
    # promotion branch runs every time
    assert tasks["compare-op"]["parameters"]["Output"] is True
    assert sorted(tasks) == sorted([*TASKS, "promotion-request-op"])

    # the registered version is the challenger, with the lineage of this run's data
    from mlflow import MlflowClient

    version = tasks["register-op"]["parameters"]["Output"]
    assert version == "1"  # a fresh RANKOPS_HOME: first registration
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)
    mv = client.get_model_version_by_alias(settings.registry.model_name, "challenger")
    assert str(mv.version) == "1"
    training_set = tasks["training-set-op"]["artifacts"]["training_set"]["metadata"]
    model = tasks["train-op"]["artifacts"]["model"]["metadata"]
    assert model["training_set"] == training_set["ref"]
    gold = tasks["etl-op"]["artifacts"]["gold"]["metadata"]
    assert gold["published"] is True
    # the dashboard's documents: the version's model card and the gold snapshots' data sheets
    card = Path(tasks["register-op"]["artifacts"]["card"]["uri"]).read_text()
    assert card.startswith("# Model card: rankops-ranker v1\n") and "## Feature importance" in card
    sheets = Path(tasks["etl-op"]["artifacts"]["data_sheets"]["uri"]).read_text()
    assert sheets.startswith(f"# Data sheets of the gold snapshots (ETL run {gold['run_id']})")
    # no champion yet: the comparison is against BM25 and its verdict decides the request
    decision = tasks["compare-op"]["artifacts"]["decision"]["metadata"]
    assert (decision["promote"], decision["challenger_version"]) == (True, "1")
    assert decision["delta"] > 0 and decision["p_value"] < settings.evaluation.alpha
    # the promotion request: a branch in the GitOps repo pinning v1 in the prod overlay, announced at the end
    request_id = tasks["promotion-request-op"]["parameters"]["Output"]
    assert re.fullmatch(r"v1-\d{8}T\d{6}-[0-9a-f]{6}", request_id), request_id
    pin = subprocess.run(["git", "-C", str(gitops_repo), "show", f"promote/{request_id}:manifests/overlays/prod/model.env"],
                         capture_output=True, text=True, check=True).stdout
    assert pin.endswith("MODEL_VERSION=1\n")
    assert f"rankops promote approve {request_id}" in " ".join(res.output.split())
    assert "registered:    rankops-ranker version 1 (alias challenger)" in res.output
    # the write-back went to the GitOps repo of the test, the checkout running the tests is untouched
    log = subprocess.run(["git", "-C", str(gitops_repo), "log", "--format=%s"], capture_output=True,
                         text=True).stdout
    assert "registry: rankops-ranker v1" in log
    since = subprocess.run(["git", "-C", str(REPO), "log", "--format=%s", f"{checkout_head.strip()}..HEAD"],
                           capture_output=True, text=True).stdout
    assert "registry: rankops-ranker" not in since
