"""checkov over the rendered overlays, the Argo CD apps and the Dockerfiles: zero failed checks.

checkov pins packages that break the project venv, so it lives in its own tool venv
`.venv-tools` (created by `make tools`). One checkov run covers both frameworks (start-up is
most of its cost).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # ~10-20 s: checkov start-up on 2 shared cores

REPO = Path(__file__).resolve().parents[3]
CHECKOV = REPO / ".venv-tools" / "bin" / "checkov"


@pytest.fixture(scope="module")
def checkov(rendered_text) -> dict[str, dict]:
    """framework -> {passed, failed, skipped} of one checkov run over rendered YAML + Dockerfiles."""
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make tools` (creates .venv-tools with checkov==3.3.30)")
    for name in ("Dockerfile", "Dockerfile.gpu"):
        shutil.copy(REPO / "docker" / name, rendered_text / name)
    proc = subprocess.run(
        [str(CHECKOV), "-d", str(rendered_text), "--framework", "kubernetes", "dockerfile",
         "--skip-download", "-o", "json"],
        capture_output=True, text=True, check=False, timeout=300,
    )
    assert proc.stdout.strip(), f"checkov printed nothing:\n{proc.stderr[-2000:]}"
    report = json.loads(proc.stdout)
    out = {}
    for rep in report if isinstance(report, list) else [report]:
        res = rep["results"]
        out[rep["check_type"]] = {
            "passed": len(res["passed_checks"]),
            "scanned": {(c["file_path"], c["resource"]) for kind in ("passed_checks", "failed_checks", "skipped_checks")
                        for c in res[kind]},
            "failed": [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in res["failed_checks"]],
            "skipped": res["skipped_checks"],
        }
    return out


def test_rendered_manifests_pass_checkov(checkov, rendered):
    result = checkov["kubernetes"]
    assert result["failed"] == []
    # every workload of the three overlays was really scanned (checkov has no checks for Argo CD's CRDs)
    workloads = {(f"/{env}.yaml", f"{d['kind']}.{d['metadata']['namespace']}.{d['metadata']['name']}")
                 for env, docs in rendered.items() for d in docs
                 if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")}
    rankers = {(f"/{env}.yaml", f"Deployment.rankops-{env}.ranker") for env in ("dev", "staging", "prod")}
    assert rankers <= workloads <= result["scanned"]
    assert {f for f, _ in result["scanned"]} == {"/dev.yaml", "/staging.yaml", "/prod.yaml"}
    # Every skip names its reason inline (checkov.io/skipN: CHECK=why).
    unjustified = [s["check_id"] for s in result["skipped"]
                   if len(s["check_result"].get("suppress_comment") or "") < 30]
    assert unjustified == []
    # CKV_K8S_43 (image digests) is never skipped: every overlay pins images by digest
    assert {s["check_id"] for s in result["skipped"]} == {"CKV_K8S_35"}


def test_dockerfiles_pass_checkov(checkov):
    result = checkov["dockerfile"]
    assert result["failed"] == []
    # checkov cannot see through `FROM ${BASE_IMAGE}`; test_docker_images.py checks the default is pinned
    assert {s["check_id"] for s in result["skipped"]} == {"CKV_DOCKER_7"}
    assert {f for f, _ in result["scanned"]} == {"/Dockerfile", "/Dockerfile.gpu"}  # both images were scanned
