"""The GitOps repository the promotion tests open requests against: a real git repo in a temp dir."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.forge_hub import forge_hub

NAME = "rankops-ranker"


@pytest.fixture
def gitops(tmp_path: Path, settings) -> Path:
    """A prod overlay pinning version 0 of the model, committed on main; requests open against it."""
    repo = tmp_path / "gitops"
    (repo / "manifests/overlays/prod").mkdir(parents=True)
    (repo / "manifests/overlays/prod/model.env").write_text(f"MODEL_NAME={NAME}\nMODEL_VERSION=0\n")
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "i"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    settings.promotion.git_repo = str(repo)
    settings.registry.write_back = False
    return repo


@pytest.fixture
def hub(tmp_path: Path, settings, monkeypatch):
    """Forge mode: the GitOps remote on the GitHub stand-in (tests/support/forge_hub.py)."""
    with forge_hub(tmp_path, settings, monkeypatch) as stand_in:
        yield stand_in
