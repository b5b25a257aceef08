"""The CI scripts: image pins by digest (rendered with real kustomize) and the promotion gate (real git)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPTS = REPO / ".github" / "scripts"
SHA = "0123456789abcdef0123456789abcdef01234567"
DIGEST = "sha256:" + "a1" * 32
GPU_DIGEST = "sha256:" + "b2" * 32


def run_script(name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True, text=True,
                          cwd=cwd, check=False)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_pin_images_moves_pods_and_pipeline_submissions_to_one_digest(tmp_path, env, k8s):
    shutil.copytree(k8s.manifests, tmp_path / "manifests")
    overlay = tmp_path / "manifests" / "overlays" / env
    res = run_script("pin_images.py", str(overlay), "--tag", SHA, "--image-digest", DIGEST,
                     "--gpu-image-digest", GPU_DIGEST)
    assert res.returncode == 0, res.stderr
    docs = k8s.render(overlay)
    ours = {c["image"] for _, pod in k8s.pod_specs(docs) for c in pod.get("initContainers", []) + pod["containers"]
            if c["image"].startswith("ghcr.io/rankops/")}
    assert ours == {f"ghcr.io/rankops/rankops:{SHA}@{DIGEST}"}
    runtime = k8s.find(docs, "ConfigMap", "rankops-runtime-")["data"]
    assert runtime["RANKOPS_KFP__IMAGE"] == f"ghcr.io/rankops/rankops:{SHA}@{DIGEST}"
    assert runtime["RANKOPS_KFP__GPU_IMAGE"] == f"ghcr.io/rankops/rankops-gpu:{SHA}@{GPU_DIGEST}"
    # nothing else in the overlay moved
    before = (k8s.manifests / "overlays" / env / "kustomization.yaml").read_text().splitlines()
    after = (overlay / "kustomization.yaml").read_text().splitlines()
    assert len(before) == len(after)
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 4  # newTag, digest, two literals


def test_pin_images_refuses_a_tag_for_a_digest_and_names_what_is_missing(tmp_path, k8s):
    shutil.copytree(k8s.manifests / "overlays" / "prod", tmp_path / "prod")
    res = run_script("pin_images.py", str(tmp_path / "prod"), "--tag", SHA, "--image-digest", "0.1.0",
                     "--gpu-image-digest", GPU_DIGEST)
    assert res.returncode == 1
    assert "--image-digest '0.1.0': expected sha256:<64 hex>" in res.stderr
    kustomization = tmp_path / "prod" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("RANKOPS_KFP__GPU_IMAGE", "RANKOPS_GPU"))
    res = run_script("pin_images.py", str(tmp_path / "prod"), "--tag", SHA, "--image-digest", DIGEST,
                     "--gpu-image-digest", GPU_DIGEST)
    assert res.returncode == 1 and "not found or repeated: RANKOPS_KFP__GPU_IMAGE" in res.stderr
    assert "RANKOPS_GPU=ghcr.io/rankops/rankops-gpu:0.1.0@sha256:" in kustomization.read_text()  # untouched


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def gitops(tmp_path) -> Path:
    """A repository with the prod overlay on `main` and a branch `pr` checked out."""
    repo = tmp_path / "repo"
    overlay = repo / "manifests" / "overlays" / "prod"
    overlay.mkdir(parents=True)
    (overlay / "model.env").write_text("MODEL_NAME=rankops-ranker\nMODEL_VERSION=1\n")
    (overlay / "kustomization.yaml").write_text("namespace: rankops-prod\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "pr")
    return repo


def commit(repo: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (repo / path).write_text(text)
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qam", "change")


def test_a_pure_promotion_passes(gitops):
    commit(gitops, {"manifests/overlays/prod/model.env": "MODEL_NAME=rankops-ranker\nMODEL_VERSION=7\n"})
    res = run_script("check_prod_change.py", "main", cwd=gitops)
    assert (res.returncode, res.stdout) == (0, "")


def test_a_promotion_that_also_changes_the_overlay_fails(gitops):
    commit(gitops, {"manifests/overlays/prod/model.env": "MODEL_NAME=rankops-ranker\nMODEL_VERSION=7\n",
                    "manifests/overlays/prod/kustomization.yaml": "namespace: rankops-dev\n"})
    res = run_script("check_prod_change.py", "main", cwd=gitops)
    assert res.returncode == 1
    assert res.stdout.splitlines() == [
        "::error::manifests/overlays/prod/kustomization.yaml: a promotion changes only "
        "manifests/overlays/prod/model.env; put other prod overlay changes in their own pull request"]


def test_a_malformed_pin_fails(gitops):
    commit(gitops, {"manifests/overlays/prod/model.env": "MODEL_NAME=rankops-ranker\nMODEL_VERSION=latest\n"})
    res = run_script("check_prod_change.py", "main", cwd=gitops)
    assert res.returncode == 1
    assert "must be exactly MODEL_NAME=rankops-ranker and MODEL_VERSION=<n> (two lines)" in res.stdout
    assert "'MODEL_NAME=rankops-ranker\\nMODEL_VERSION=latest\\n'" in res.stdout
