"""The local profile's GitOps sandbox: a clone under RANKOPS_HOME, never the user's checkout."""

import subprocess
from pathlib import Path

import pytest

from components.registry.gitops import Repo, local_checkout


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    monkeypatch.chdir(repo)
    return repo


def test_home_path_is_a_sandbox_clone_that_leaves_the_checkout_alone(project: Path, settings) -> None:
    path = local_checkout(settings, "{home}/gitops")
    assert path == str(settings.home / "gitops")
    assert git(Path(path), "remote") == "upstream"  # no `origin`: the write-back never pushes back
    before = git(project, "rev-parse", "main")
    Repo(path).commit_files("main", {"models/m.json": "{}\n"}, "registry: m v1")
    assert git(project, "rev-parse", "main") == before
    assert not (project / "models").exists()
    assert git(Path(path), "show", "main:models/m.json") == "{}"


def test_sandbox_fetches_new_commits_of_the_checkout(project: Path, settings) -> None:
    path = local_checkout(settings, "{home}/gitops")
    (project / "b.txt").write_text("b\n")
    git(project, "add", "b.txt")
    git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "two")
    new_sha = git(project, "rev-parse", "HEAD")
    local_checkout(settings, "{home}/gitops")
    assert git(Path(path), "cat-file", "-t", new_sha) == "commit"  # reproduce can check it out


def test_plain_paths_are_returned_as_is(project: Path, settings, tmp_path: Path) -> None:
    assert local_checkout(settings, str(tmp_path / "elsewhere")) == str(tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists()


def test_sandbox_of_a_feature_branch_checkout_has_the_main_promotion_needs(project: Path, settings) -> None:
    git(project, "checkout", "-q", "-b", "feature/x")
    (project / "f.txt").write_text("f\n")
    git(project, "add", "f.txt")
    git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "feature")
    path = Path(local_checkout(settings, "{home}/gitops"))
    assert git(path, "rev-parse", "main") == git(project, "rev-parse", "main")  # main, not the feature tip
    assert git(path, "symbolic-ref", "--short", "HEAD") == "feature/x"
    Repo(str(path)).commit_files("main", {"manifests/promotions/history.jsonl": "{}\n"}, "decision")
    local_checkout(settings, "{home}/gitops")  # later calls keep the sandbox's own main
    assert git(path, "show", "main:manifests/promotions/history.jsonl") == "{}"
