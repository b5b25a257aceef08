"""A GitOps remote on a (stand-in) GitHub for the forge-mode promotion tests: a bare repository whose main
holds CODEOWNERS and the prod pin 0, served by tests/support/github_standin.py, and settings pointed at it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from components.registry.settings import ForgeSettings
from tests.support.github_standin import GitHubStandIn

PIN = "manifests/overlays/prod/model.env"
TOKEN = "ghs_standin_token"
REPOSITORY = "rankops/gitops"
CODEOWNERS = """*                          @rankops/platform
/manifests/overlays/prod/  @rankops/data-experts
/manifests/promotions/     @rankops/data-experts
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@contextmanager
def forge_hub(tmp_path: Path, settings, monkeypatch) -> Iterator[GitHubStandIn]:
    """The bare remote served by the stand-in, with `settings` (and RANKOPS_* for CLI calls) in forge mode."""
    seed, remote = tmp_path / "seed", tmp_path / "gitops.git"
    (seed / ".github").mkdir(parents=True)
    (seed / ".github/CODEOWNERS").write_text(CODEOWNERS)
    (seed / "manifests/overlays/prod").mkdir(parents=True)
    (seed / PIN).write_text("MODEL_NAME=rankops-ranker\nMODEL_VERSION=0\n")
    git(tmp_path, "init", "-q", "-b", "main", str(seed))
    git(seed, "add", ".")
    git(seed, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(remote))
    with GitHubStandIn(remote, REPOSITORY, TOKEN, collaborators={"dora", "pat"},
                       teams={"@rankops/data-experts": {"dora"}, "@rankops/platform": {"pat"}}) as stand_in:
        settings.promotion.git_url = str(remote)
        settings.promotion.forge = ForgeSettings(kind="github", api_url=stand_in.api_url, repository=REPOSITORY,
                                                 labels=["promotion"], team_reviewers=["data-experts"])
        settings.registry.write_back = False
        monkeypatch.setenv("GIT_TOKEN", TOKEN)
        for key, value in {"PROMOTION__GIT_URL": str(remote), "PROMOTION__FORGE__KIND": "github",
                           "PROMOTION__FORGE__API_URL": stand_in.api_url, "PROMOTION__FORGE__REPOSITORY": REPOSITORY,
                           "REGISTRY__WRITE_BACK": "false"}.items():
            monkeypatch.setenv(f"RANKOPS_{key}", value)  # CLI calls load their own settings
        yield stand_in
