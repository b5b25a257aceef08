"""Two processes on one RANKOPS_HOME share the bare clone of `promotion.git_url` (pipeline steps share the
lakehouse home). Another process syncing that clone (a forced, pruning fetch of every branch) must not
undo what this one has done locally but not pushed yet: a new request branch, or main just moved by a
decision.

The other process is played, at the exact moment between the local ref update and the push, by a second
`repo_of` on the same cache with a short lock timeout (the promotion lock is a flock: a second lock on the
file contends within one process as it does across processes). Real git: a bare "remote" in a tmp dir.
"""

from __future__ import annotations

from pathlib import Path

from components.promotion.decisions import approve_request, history
from components.promotion.records import read_pin
from components.promotion.request import request_promotion
from components.promotion.state import PromotionConflict, repo_of
from components.registry.gitops import Repo
from components.registry.lookup import alias_version, use_mlflow
from tests.integration.promotion.test_promotion_forge import register, remote_pin
from tests.support.forge_hub import PIN, git


def other_process_syncs_before(monkeypatch, settings, ref_prefix: str) -> list[str]:
    """Before this process's first push to a ref starting with `ref_prefix`, another process on the same home
    syncs the clone; what it got ("fetched", or "waited" when it found the promotion lock held) is recorded."""
    other = settings.model_copy(deep=True)
    other.promotion.lock_timeout_s = 0.2
    seen: list[str] = []
    real_push = Repo.push

    def push(self, remote: str, refspec: str) -> None:
        if refspec.split(":")[-1].startswith(ref_prefix) and not seen:
            try:
                repo_of(other)
                seen.append("fetched")
            except PromotionConflict:
                seen.append("waited")
        real_push(self, remote, refspec)

    monkeypatch.setattr(Repo, "push", push)
    return seen


def pin_on_main(remote: Path) -> str | None:
    return read_pin(git(remote, "show", f"main:{PIN}"))


def bare_remote(settings, gitops: Path, tmp_path: Path) -> Path:
    remote = tmp_path / "gitops-remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(gitops), str(remote))
    settings.promotion.git_url = str(remote)
    return remote


def test_local_request_branch_survives_another_process_sync(settings, gitops, tmp_path, monkeypatch):
    """Local mode with git_url: the request branch is pushed even when a sync pruned its local ref meanwhile."""
    remote = bare_remote(settings, gitops, tmp_path)
    (v1,) = register(settings, {"signal": 1.0})
    seen = other_process_syncs_before(monkeypatch, settings, "refs/heads/promote/")
    req = request_promotion(settings, v1, by="pipeline")
    assert seen == ["fetched"] and req["pushed"] is True  # nothing held the lock: the sync pruned the branch
    assert pin_on_main(remote) == "0" and git(remote, "rev-parse", req["branch"]) == req["commit"]
    approve_request(settings, req["request_id"], by="bob")
    assert pin_on_main(remote) == v1


def test_local_approve_push_is_not_undone_by_another_process_sync(settings, gitops, tmp_path, monkeypatch):
    """Local mode with git_url: a sync between the decision's move of main and its push cannot reset main
    (which made the push a no-op: alias moved, neither main recording the pin)."""
    remote = bare_remote(settings, gitops, tmp_path)
    (v1,) = register(settings, {"signal": 1.0})
    rid = request_promotion(settings, v1, by="pipeline")["request_id"]
    seen = other_process_syncs_before(monkeypatch, settings, "refs/heads/main")
    entry = approve_request(settings, rid, by="bob")
    assert alias_version(use_mlflow(settings), "rankops-ranker", "champion") == v1
    assert (pin_on_main(remote), git(remote, "rev-parse", "main")) == (v1, entry["commit"])
    assert seen == ["waited"]  # the other process's sync waited for the decision holding the lock
    assert [e["to_version"] for e in history(settings)] == [v1]


def test_forge_request_branch_survives_another_process_sync(settings, hub, monkeypatch):
    """Forge mode: a sync by another process between the branch's creation and its push prunes the local
    ref; the branch is still pushed and its pull request opened."""
    (v1,) = register(settings, {"signal": 1.0})
    seen = other_process_syncs_before(monkeypatch, settings, "refs/heads/promote/")
    req = request_promotion(settings, v1, by="pipeline")
    assert seen == ["fetched"]
    assert (req["pushed"], req["pull_request"]["state"]) == (True, "open")
    assert remote_pin(hub, req["branch"]) == v1 and remote_pin(hub) == "0"
