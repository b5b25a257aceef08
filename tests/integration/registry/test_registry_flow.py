"""register (validity gate, lineage tags, challenger alias, git write-back + push) and lineage."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from components.common.snapshots import SnapshotStore
from components.registry.lineage import lineage
from components.registry.lookup import alias_version, use_mlflow
from components.registry.register import register_model
from components.registry.validity import InvalidModel
from pipelines.cli import build_app
from tests.support.evaluation_data import log_scorer, make_training_frame, write_training_set


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def code_repo(tmp_path: Path, settings) -> tuple[Path, Path]:
    """A code checkout on branch feature/x with a bare origin; main is elsewhere."""
    remote, repo = tmp_path / "origin.git", tmp_path / "code"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    (repo / "README.md").write_text("code\n")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    git(repo, "branch", "feature/x")
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main", "feature/x")
    settings.registry.git_repo = str(repo)
    return repo, remote


def lineage_chain(settings) -> str:
    """bronze -> silver -> gold -> training set snapshots linked by manifest parents."""
    store = SnapshotStore(settings.lakehouse)
    bronze = store.write("bronze/search_log", pd.DataFrame({"raw": ["a", "b"]}), publish=True)
    silver = store.write("silver/search_log", pd.DataFrame({"q": ["a"]}), parents={"bronze": bronze.ref}, publish=True)
    gold = store.write("gold/query_video", pd.DataFrame({"q": ["a"], "n": [1]}), parents={"silver": silver.ref},
                       publish=True)  # ETL names parents by ref; Feast below by {table: snapshot_id}
    extra = {"feature_service": "ranker_v1", "features": ["signal", "noise"],
             "defaults": {"signal": 0.0, "noise": 0.0}}
    snap = store.write("features/training_set_ranker_v1", make_training_frame(seed=3),
                       parents={"gold/query_video": gold.snapshot_id, "sample": "seed=3"},
                       extra=extra, publish=True)
    return snap, [bronze.ref, silver.ref, gold.ref, snap.ref]


def test_register_tags_alias_writeback_and_lineage(settings, code_repo):
    repo, remote = code_repo
    snap, chain = lineage_chain(settings)
    tags = {"rankops.git_sha": "0123abcd", "rankops.git_branch": "feature/x", "rankops.git_dirty": "false"}
    uri = log_scorer(settings, {"signal": 1.0}, snapshot=snap, tags=tags, params={"lr": 0.01})
    out = register_model(settings, uri, pipeline_run="kfp-run-42")
    assert (out["name"], out["version"], out["alias"], out["reused"]) == ("rankops-ranker", "1", "challenger", False)
    client = use_mlflow(settings)
    assert alias_version(client, "rankops-ranker", "challenger") == "1"
    vtags = client.get_model_version("rankops-ranker", "1").tags
    assert vtags["rankops.git_sha"] == "0123abcd" and vtags["rankops.git_branch"] == "feature/x"
    assert vtags["rankops.git_dirty"] == "false" and vtags["rankops.feature_service"] == "ranker_v1"
    assert vtags["rankops.pipeline_run_id"] == "kfp-run-42" and vtags["rankops.training_run_id"] == out["run_id"]
    assert json.loads(vtags["rankops.data_snapshots"]) == {
        "bronze/search_log": chain[0].split("@")[1], "silver/search_log": chain[1].split("@")[1],
        "gold/query_video": chain[2].split("@")[1], "features/training_set_ranker_v1": snap.snapshot_id}

    # write-back: a commit on the source branch (not main, not the worktree), pushed to origin
    wb = out["writeback"]
    assert (wb["branch"], wb["path"], wb["changed"], wb["pushed"]) == ("feature/x", "models/rankops-ranker.json", True, True)
    record = json.loads(git(repo, "show", "feature/x:models/rankops-ranker.json"))
    assert (record["version"], record["run_id"], record["git_sha"]) == ("1", out["run_id"], "0123abcd")
    assert record["data_snapshots"]["features/training_set_ranker_v1"] == snap.snapshot_id
    # the run's validation NDCG@10 of score = signal, recomputed with scikit-learn (no ties: signal is noisy)
    from sklearn.metrics import ndcg_score

    val = make_training_frame(seed=3).query("split == 'validation'")
    expected = np.mean([ndcg_score([g["label"]], [g["signal"]], k=10) for _, g in val.groupby("query_id")
                        if g["label"].max() > 0])
    assert record["metrics"] == {"val_ndcg_at_10": pytest.approx(expected)}
    assert git(remote, "rev-parse", "feature/x") == wb["commit"] == vtags["rankops.writeback_commit"]
    assert git(repo, "log", "--format=%s", "-1", "main") == "init" and not (repo / "models").exists()

    # rerun: same version, no new commit
    again = register_model(settings, uri)
    assert (again["version"], again["reused"], again["writeback"]["changed"]) == ("1", True, False)

    info = lineage(settings, "challenger")
    assert [s["ref"] for s in info["snapshots"]] == chain
    assert info["git"] == {"sha": "0123abcd", "branch": "feature/x", "dirty": "false"}
    assert info["params"]["lr"] == "0.01" and info["pipeline_run"] == "kfp-run-42"
    assert info["aliases"] == ["challenger"] and info["feature_service"] == "ranker_v1"

    result = CliRunner().invoke(build_app(), ["lineage", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["snapshots"][0]["table"] == "bronze/search_log"


def test_invalid_model_is_not_registered(settings, code_repo, tmp_path):
    snap = write_training_set(settings)
    uri = log_scorer(settings, {"signal": float("nan")}, snapshot=snap)
    with pytest.raises(InvalidModel, match="failed validity checks"):
        register_model(settings, uri)
    assert use_mlflow(settings).search_model_versions("name='rankops-ranker'") == []
    summary = tmp_path / "s.json"
    result = CliRunner().invoke(build_app(), ["register", "--model", uri, "--summary", str(summary)])
    assert result.exit_code == 1 and "failed validity checks" in result.output and not summary.exists()


def test_writeback_through_git_url_without_a_checkout(settings, code_repo, tmp_path):
    repo, remote = code_repo
    settings.registry.git_repo = str(tmp_path / "no-checkout-here")
    settings.registry.git_url = str(remote)
    snap = write_training_set(settings)
    uri = log_scorer(settings, {"signal": 1.0}, snapshot=snap, tags={"rankops.git_branch": "feature/x"})
    wb = register_model(settings, uri)["writeback"]
    assert (wb["branch"], wb["changed"], wb["pushed"]) == ("feature/x", True, True)
    assert git(remote, "rev-parse", "feature/x") == wb["commit"]
    assert json.loads(git(remote, "show", "feature/x:models/rankops-ranker.json"))["version"] == "1"
    assert git(repo, "rev-parse", "feature/x") != wb["commit"]  # the local checkout was not involved
