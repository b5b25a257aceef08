"""What the containerised tests share: whether podman is here, the podman CLI with the repository's
containers.conf, and `make images`' build of the project image (once per test session, conftest)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REQUIRE_ENV = "RANKOPS_REQUIRE_CONTAINERS"  # =1 in .ci/run: a missing engine fails instead of skipping


def containers_missing() -> str | None:
    """Why the containerised tests cannot run here, or None when podman and buildah are installed."""
    if shutil.which("podman") and shutil.which("buildah"):
        return None
    return "podman/buildah not installed: run `make container-tools` (the containerised tests need them)"


def containers_required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def containers_or_skip() -> None:
    """Skip (or fail where RANKOPS_REQUIRE_CONTAINERS=1, as in .ci/run) without podman."""
    message = containers_missing()
    if message is None:
        return
    if containers_required():
        pytest.fail(message)
    pytest.skip(message)


def podman(*args: str) -> str:
    env = {**os.environ, "CONTAINERS_CONF": str(REPO / "docker" / "containers.conf")}
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=True, env=env).stdout.strip()


def build_image(image: str) -> str:
    """`make images`' CPU build (cached layers: seconds when nothing changed); the image id, sha256:..."""
    containers_or_skip()
    proc = subprocess.run([str(REPO / "docker" / "build-image.sh")], capture_output=True, text=True, cwd=REPO,
                          timeout=3600)
    assert proc.returncode == 0, f"build-image.sh exited {proc.returncode}\n{proc.stdout[-1000:]}{proc.stderr[-3000:]}"
    built = proc.stdout.strip().splitlines()[-1]
    assert built == podman("image", "inspect", "--format", "{{.Id}}", image)
    return f"sha256:{built}"
