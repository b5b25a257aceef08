"""The cached bare clone of a GitOps URL: making it never moves branches; syncing forces them to the remote's."""

from __future__ import annotations

import subprocess
from pathlib import Path

from components.registry.gitops import Repo, cached_clone, sync_branches, synced_clone


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def commit_on(remote: Path, tmp_path: Path, name: str) -> str:
    work = tmp_path / f"work-{name}"
    if not work.exists():
        git(tmp_path, "clone", "-q", str(remote), str(work))
    (work / name).write_text(name)
    git(work, "add", name)
    git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", name)
    git(work, "push", "-q", "origin", "HEAD:main")
    return git(work, "rev-parse", "HEAD")


def test_cached_clone_leaves_branches_and_sync_forces_them(tmp_path: Path):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    first = commit_on(remote, tmp_path, "a")
    cache = tmp_path / "cache"
    repo = cached_clone(cache, str(remote))
    assert repo.tip("main") == first
    unpushed = repo.build_commit([first], {"b": "b"}, "unpushed")
    repo.move_branch("promote/x", unpushed, None, [])
    second = commit_on(remote, tmp_path, "c")

    again = cached_clone(cache, str(remote))  # another process opening the shared clone
    assert again == repo and again.tip("promote/x") == unpushed and again.tip("main") == first

    sync_branches(repo)  # the remote is truth: main follows it, a branch it lacks is pruned
    assert (repo.tip("main"), repo.tip("promote/x")) == (second, None)
    assert Repo(synced_clone(cache, str(remote)).path).tip("main") == second
