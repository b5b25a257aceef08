"""Git lineage of the running code: commit, branch, dirty flag (from env in a container)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class GitInfo:
    sha: str
    branch: str
    dirty: bool


def _git(args: list[str], cwd: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@lru_cache(maxsize=8)
def git_info(cwd: str | None = None) -> GitInfo:
    """Commit, branch and dirty flag of the checkout at `cwd`.

    Images carry no .git: there the build sets RANKOPS_GIT_SHA / RANKOPS_GIT_BRANCH.
    """
    cwd = cwd or os.getcwd()
    try:
        sha = _git(["rev-parse", "HEAD"], cwd)
        branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd)
        dirty = bool(_git(["status", "--porcelain", "--untracked-files=no"], cwd))
        return GitInfo(sha=sha, branch=branch, dirty=dirty)
    except (OSError, subprocess.CalledProcessError):
        return GitInfo(
            sha=os.environ.get("RANKOPS_GIT_SHA", "unknown"),
            branch=os.environ.get("RANKOPS_GIT_BRANCH", "unknown"),
            dirty=False,
        )
