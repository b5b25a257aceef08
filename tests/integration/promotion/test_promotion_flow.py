"""Promotion through a real GitOps repo (tmp git) and a real MLflow registry (SQLite)."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from components.evaluation.compare_run import run_compare
from components.promotion.decisions import approve_request, history, reject_request, rollback
from components.promotion.records import read_pin
from components.promotion.request import request_promotion
from components.promotion.state import PromotionConflict, PromotionError
from components.registry.gitops import Repo
from components.registry.lookup import alias_version, use_mlflow
from components.registry.register import register_model
from pipelines.cli import build_app
from tests.support.evaluation_data import log_scorer, write_training_set

PIN = "manifests/overlays/prod/model.env"
HISTORY = "manifests/promotions/history.jsonl"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def gitops(tmp_path: Path, settings, monkeypatch):
    """A GitOps repo with main holding the prod overlay pin (MODEL_VERSION=0), checked out."""
    repo = tmp_path / "gitops"
    (repo / "manifests/overlays/prod").mkdir(parents=True)
    (repo / PIN).write_text("MODEL_NAME=rankops-ranker\nMODEL_VERSION=0\n")
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    settings.promotion.git_repo = str(repo)
    settings.registry.write_back = False
    monkeypatch.setenv("RANKOPS_PROMOTION__GIT_REPO", str(repo))  # for CLI calls, which load their own settings
    monkeypatch.setenv("RANKOPS_REGISTRY__WRITE_BACK", "false")
    return repo


def pin_on_main(repo: Path) -> str | None:
    return read_pin(git(repo, "show", f"main:{PIN}"))


def register_scorers(settings, *weights: dict[str, float]) -> list[str]:
    snap = write_training_set(settings)
    return [register_model(settings, log_scorer(settings, w, snapshot=snap))["version"] for w in weights]


def compared(settings, version: str) -> dict:
    """A real comparison of `version` (vs the champion, else BM25), recorded as an MLflow run."""
    return run_compare(settings, version)


def test_request_approve_reject_rollback_history(settings, gitops):
    v1, v2, v3 = register_scorers(settings, {"signal": 1.0}, {"signal": 1.0, "noise": 0.05}, {"noise": 1.0})
    client = use_mlflow(settings)

    # first request: the real compare (vs BM25, no champion yet) and staging checks
    req1 = request_promotion(settings, v1, by="alice")
    assert req1["decision"]["promote"] is True and req1["decision"]["reference"] == "bm25"
    assert req1["decision"]["p_value"] < settings.evaluation.alpha
    assert req1["staging"]["passed"] is True and req1["staging"]["queries"] == 10
    assert req1["champion_seen"] is None and req1["pin_seen"] == "0"
    # the request is a branch: prod pin changed there only
    assert read_pin(git(gitops, "show", f"{req1['branch']}:{PIN}")) == "1"
    assert pin_on_main(gitops) == "0" and alias_version(client, "rankops-ranker", "champion") is None

    entry = approve_request(settings, req1["request_id"], by="bob", note="looks good")
    assert (entry["from_version"], entry["to_version"], entry["by"]) == (None, "1", "bob")
    assert pin_on_main(gitops) == "1" and (gitops / PIN).read_text().endswith("MODEL_VERSION=1\n")  # worktree synced
    assert alias_version(client, "rankops-ranker", "champion") == "1"
    assert client.get_model_version("rankops-ranker", "1").tags["rankops.approved_by"] == "bob"
    assert git(gitops, "rev-list", "--parents", "-n1", "main").count(" ") == 2  # merge of the request branch
    with pytest.raises(PromotionError, match="already approved by bob"):
        approve_request(settings, req1["request_id"], by="bob")

    # a weaker challenger: compare says keep, the request is refused unless forced; then rejected
    with pytest.raises(PromotionError, match="verdict is 'keep'"):
        request_promotion(settings, v3, by="alice")
    req3 = request_promotion(settings, v3, by="alice", force=True)
    assert req3["forced"] is True
    rej = reject_request(settings, req3["request_id"], by="carol", note="worse on tail queries")
    assert rej["action"] == "reject" and pin_on_main(gitops) == "1"
    assert alias_version(client, "rankops-ranker", "champion") == "1"

    # v2 barely differs from v1: its real decision says keep; a file edited to say promote is caught by its hash
    report, summary = gitops.parent / "c2", gitops.parent / "request.json"
    res = CliRunner().invoke(build_app(), ["compare", "--challenger", v2, "--report", str(report)])
    assert res.exit_code == 0, res.output
    decision = json.loads((report / "decision.json").read_text())
    assert decision["promote"] is False and decision["champion_version"] == "1"
    res = CliRunner().invoke(build_app(), ["promote", "request", v2, "--decision", str(report / "decision.json")])
    assert res.exit_code == 1 and "verdict is 'keep'" in res.output
    (report / "edited.json").write_text(json.dumps({**decision, "promote": True, "verdict": "promote"}))
    res = CliRunner().invoke(build_app(), ["promote", "request", v2, "--decision", str(report / "edited.json")])
    assert res.exit_code == 1 and "report hash mismatch" in res.output
    res = CliRunner().invoke(build_app(), ["promote", "request", v2, "--decision", str(report / "edited.json"),
                                           "--by", "alice", "--force", "--summary", str(summary)])
    assert res.exit_code == 0, res.output
    assert "FORCED" in res.output and "local mode (no forge)" in res.output
    req2 = json.loads(summary.read_text())
    assert req2["request_id"].startswith(f"v{v2}-") and req2["champion_seen"] == "1" and req2["forced"] is True
    recorded = json.loads(git(gitops, "show", f"{req2['branch']}:manifests/promotions/requests/{req2['request_id']}"
                                              "/request.json"))
    assert recorded["forced"] is True and any("report hash mismatch" in p for p in recorded["evidence"]["problems"])
    res = CliRunner().invoke(build_app(), ["promote", "approve", req2["request_id"], "--by", "dave", "--note", "ok"])
    assert res.exit_code == 0 and "champion v1 -> v2 by dave" in res.output
    assert pin_on_main(gitops) == "2" and alias_version(client, "rankops-ranker", "champion") == "2"

    back = rollback(settings, by="erin", note="latency regression")
    assert (back["from_version"], back["to_version"]) == ("2", "1")
    assert pin_on_main(gitops) == "1" and alias_version(client, "rankops-ranker", "champion") == "1"

    trail = history(settings)
    assert [(e["seq"], e["action"], e["from_version"], e["to_version"], e["by"]) for e in trail] == [
        (4, "rollback", "2", "1", "erin"),
        (3, "approve", "1", "2", "dave"),
        (2, "reject", "1", "3", "carol"),
        (1, "approve", None, "1", "bob"),
    ]
    # append-only: every earlier main commit's history is a prefix of the next one
    texts = [subprocess.run(["git", "show", f"{c}:{HISTORY}"], cwd=gitops, capture_output=True, text=True).stdout
             for c in git(gitops, "rev-list", "--first-parent", "--reverse", "main").split()]
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False))
    assert json.loads((gitops / HISTORY).read_text().splitlines()[0])["decision"]["reference"] == "bm25"

    app, runner = build_app(), CliRunner()
    res = runner.invoke(app, ["promote", "history", "--json"])
    assert res.exit_code == 0 and json.loads(res.output) == trail
    res = runner.invoke(app, ["promote", "history"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "rollback" in res.output and "erin" in res.output
    res = runner.invoke(app, ["promote", "approve", req2["request_id"], "--by", "zed"])
    assert res.exit_code == 1 and "already approved by dave" in res.output
    res = runner.invoke(app, ["promote", "rollback", "--to", "99"])
    assert res.exit_code == 1 and "no version or alias '99'" in res.output
    res = runner.invoke(app, ["promote", "status"])
    assert res.exit_code == 0 and "champion alias 1, prod pin 1" in res.output


def test_concurrent_approvals_exactly_one_wins(settings, gitops):
    v1, v2 = register_scorers(settings, {"signal": 1.0}, {"signal": 1.0, "noise": 0.05})
    reqs = [request_promotion(settings, v, decision=compared(settings, v), by="alice")["request_id"] for v in (v1, v2)]
    results: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def approve(rid: str) -> None:
        barrier.wait()
        try:
            results[rid] = approve_request(settings, rid, by="bob")
        except PromotionConflict as exc:
            results[rid] = exc

    threads = [threading.Thread(target=approve, args=(r,)) for r in reqs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in reqs if isinstance(results[r], dict)]
    losers = [r for r in reqs if isinstance(results[r], PromotionConflict)]
    assert len(winners) == 1 and len(losers) == 1
    assert "another promotion won" in str(results[losers[0]])
    won = results[winners[0]]["to_version"]
    assert pin_on_main(gitops) == won
    assert alias_version(use_mlflow(settings), "rankops-ranker", "champion") == won
    assert [e["request_id"] for e in history(settings)] == [winners[0]]


def test_injected_failure_leaves_no_half_promotion(settings, gitops, monkeypatch):
    v1, v2 = register_scorers(settings, {"signal": 1.0}, {"signal": 1.0, "noise": 0.05})
    rid = request_promotion(settings, v1, decision=compared(settings, v1), by="alice")["request_id"]
    main_before = git(gitops, "rev-parse", "main")
    real_move = Repo.move_branch

    def failing_move(self, branch, new, old, paths):
        if branch == "main":
            raise OSError("disk full (injected)")
        return real_move(self, branch, new, old, paths)

    monkeypatch.setattr(Repo, "move_branch", failing_move)
    with pytest.raises(OSError, match="injected"):
        approve_request(settings, rid, by="bob")
    client = use_mlflow(settings)
    assert alias_version(client, "rankops-ranker", "champion") is None
    assert "rankops.approved_by" not in client.get_model_version("rankops-ranker", v1).tags
    assert git(gitops, "rev-parse", "main") == main_before and pin_on_main(gitops) == "0"
    assert history(settings) == []
    monkeypatch.setattr(Repo, "move_branch", real_move)
    assert approve_request(settings, rid, by="bob")["to_version"] == v1  # the same request still goes through
    assert pin_on_main(gitops) == v1

    # a process killed between the alias move and the git commit leaves the alias ahead of the pin:
    # git is the source of truth, the next decision repairs the alias before its optimistic check
    rid2 = request_promotion(settings, v2, by="alice", force=True)["request_id"]  # vs champion v1: keep
    client.set_registered_model_alias("rankops-ranker", "champion", v2)
    entry = approve_request(settings, rid2, by="bob")
    assert (entry["from_version"], entry["to_version"]) == (v1, v2)
    assert pin_on_main(gitops) == v2 and alias_version(client, "rankops-ranker", "champion") == v2


def test_remote_gitops_repo_through_git_url(settings, gitops, tmp_path):
    """Cluster pods have no checkout: a bare clone of git_url is synced, branches and main are pushed."""
    remote = tmp_path / "gitops-remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(gitops), str(remote))
    settings.promotion.git_url = str(remote)
    (v1,) = register_scorers(settings, {"signal": 1.0})
    req = request_promotion(settings, v1, by="pipeline")
    assert req["pushed"] is True
    assert read_pin(git(remote, "show", f"{req['branch']}:{PIN}")) == v1 and pin_on_main(remote) == "0"
    approve_request(settings, req["request_id"], by="bob")
    assert pin_on_main(remote) == v1
    assert [e["to_version"] for e in history(settings)] == [v1]
    assert pin_on_main(gitops) == "0"  # the local checkout is not the GitOps repo here


def test_rejected_push_undoes_alias_main_and_worktree(settings, gitops, tmp_path):
    """Someone else pushed to the GitOps remote first: the approve is undone everywhere, the checkout stays clean."""
    remote = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(gitops), str(remote))
    git(gitops, "remote", "add", "origin", str(remote))
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    (other / "README").write_text("someone else\n")
    git(other, "add", "README")
    git(other, "-c", "user.name=o", "-c", "user.email=o@o", "commit", "-qm", "other change")
    git(other, "push", "-q", "origin", "main")
    (v1,) = register_scorers(settings, {"signal": 1.0})
    rid = request_promotion(settings, v1, by="alice")["request_id"]
    before = git(gitops, "rev-parse", "main")
    with pytest.raises(PromotionError, match="git failed, nothing was changed"):
        approve_request(settings, rid, by="bob")
    assert git(gitops, "rev-parse", "main") == before and git(gitops, "status", "--porcelain") == ""
    assert alias_version(use_mlflow(settings), "rankops-ranker", "champion") is None
    assert pin_on_main(gitops) == "0" and history(settings) == []
