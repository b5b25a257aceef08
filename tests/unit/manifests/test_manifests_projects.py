"""Other teams' projects ship manifests too: each overlay renders, validates against the Kubernetes
schema and keeps the same pod security as the platform's (the prod namespace enforces `restricted`)."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from tests.support.pod_security import restricted_violations

REPO = Path(__file__).resolve().parents[3]
K8S_VERSION = "1.32.0"
OVERLAYS = sorted(p for p in REPO.glob("projects/*/manifests/overlays/*") if (p / "kustomization.yaml").is_file())


def test_there_are_project_overlays_to_check():
    assert [str(p.relative_to(REPO)) for p in OVERLAYS] == ["projects/clicks/manifests/overlays/prod"]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: str(p.relative_to(REPO / "projects")))
def test_project_overlay_is_valid_and_admissible(overlay, k8s):
    docs = k8s.render(overlay)
    env = overlay.name
    assert {d["metadata"].get("namespace") for d in docs} == {f"rankops-{env}"}
    errors = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert errors == []
    problems = {where: restricted_violations(pod) for where, pod in k8s.pod_specs(docs)}
    assert {where: p for where, p in problems.items() if p} == {}
    images = [c["image"] for _, pod in k8s.pod_specs(docs) for c in pod["containers"]]
    assert images and all("@sha256:" in image for image in images), images  # by digest, as the platform's prod
