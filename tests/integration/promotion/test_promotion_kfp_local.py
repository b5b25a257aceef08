"""compare_op -> promotion_request_op on the real KFP local runner; evaluate/register I/O in-process."""

import json
import re
import subprocess
from pathlib import Path

import pytest
from kfp import dsl

from components.evaluation.component import compare_op
from components.evaluation.kfp_io import run_evaluate_op
from components.promotion.component import promotion_request_op
from components.registry.kfp_io import run_register_op
from pipelines.local import run_local
from tests.support.evaluation_data import log_scorer, write_training_set


def git_repo(path: Path) -> Path:
    (path / "manifests/overlays/prod").mkdir(parents=True)
    (path / "manifests/overlays/prod/model.env").write_text("MODEL_NAME=rankops-ranker\nMODEL_VERSION=0\n")
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "i"]):
        subprocess.run(["git", *args], cwd=path, check=True)
    return path


@pytest.mark.slow
def test_component_io_and_local_pipeline(settings, tmp_path: Path, monkeypatch):
    repo = git_repo(tmp_path / "gitops")
    monkeypatch.setenv("RANKOPS_PROMOTION__GIT_REPO", str(repo))  # the steps are subprocesses: settings via env
    monkeypatch.setenv("RANKOPS_REGISTRY__WRITE_BACK", "false")
    snap = write_training_set(settings)
    uri = log_scorer(settings, {"signal": 1.0}, snapshot=snap)

    model = dsl.Model(uri=str(tmp_path / "model"), metadata={"model_uri": uri})
    data = dsl.Dataset(uri=snap.path, metadata={"ref": snap.ref})
    metrics, report = dsl.Metrics(uri=str(tmp_path / "m" / "metrics")), dsl.Markdown(uri=str(tmp_path / "m" / "report"))
    classification = dsl.ClassificationMetrics(uri=str(tmp_path / "m" / "classification"))
    result = run_evaluate_op(model, data, metrics, report, classification, env="local")
    m = result["model"]
    assert classification.metadata["confusionMatrix"]["rows"] == [
        {"row": [m["tn"], m["fp"]]}, {"row": [m["fn"], m["tp"]]}]
    assert m["tp"] + m["fp"] + m["fn"] + m["tn"] == m["candidates"]
    assert metrics.metadata["ndcg@10"] == result["model"]["ndcg@10"]
    assert metrics.metadata["bm25_ndcg@10"] == result["bm25"]["ndcg@10"]
    assert Path(report.path).read_text().startswith(f"# Evaluation of `{uri}`")
    version = run_register_op(model, env="local", pipeline_run="local-run-1")
    assert version == "1"

    @dsl.pipeline(name="rankops-compare-request-test")
    def flow(env: str = "local", version: str = "1"):
        cmp = compare_op(version=version, env=env)
        with dsl.If(cmp.outputs["Output"] == True):  # noqa: E712 (KFP condition): must resolve under kfp.local
            promotion_request_op(version=version, decision=cmp.outputs["decision"], env=env)

    out = run_local("rankops-compare-request-test", settings, pipeline_func=flow)
    branches = subprocess.run(["git", "branch", "--list", "promote/*"], cwd=repo, capture_output=True, text=True).stdout
    assert re.fullmatch(r"promote/v1-\d{8}T\d{6}-[0-9a-f]{6}", branches.strip()), branches  # exactly one request
    request_id = branches.strip().removeprefix("promote/")
    assert out["tasks"]["promotion-request-op"]["parameters"] == {"Output": request_id}  # the dsl.If branch ran
    decision = json.loads(subprocess.run(
        ["git", "show", f"promote/{request_id}:manifests/promotions/requests/{request_id}/decision.json"],
        cwd=repo, capture_output=True, text=True, check=True).stdout)
    assert (decision["promote"], decision["reference"], decision["challenger_version"]) == (True, "bm25", "1")
