"""CI/CD: workflows pin third-party actions by commit, PR checks mirror .ci/run, prod needs data experts."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
WORKFLOWS = REPO / ".github" / "workflows"


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the `on:` key as a boolean
    return workflow


def steps(workflow: dict) -> list[dict]:
    return [s for job in workflow["jobs"].values() for s in job["steps"]]


def test_every_action_is_pinned_by_commit_sha():
    uses = [s["uses"] for path in sorted(WORKFLOWS.glob("*.yml")) for s in steps(load(path.name)) if "uses" in s]
    assert len(uses) >= 15
    unpinned = [u for u in uses if not re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u)]
    assert unpinned == []


def test_workflows_have_least_privilege_defaults():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        assert load(path.name)["permissions"]["contents"] == "read", path.name


def test_pr_runs_lint_tests_compile_check_and_manifest_validation():
    runs = " ; ".join(s.get("run", "") for s in steps(load("pr.yml")))
    for command in ("make lint", "make tools test", "rankops pipeline compile --check", "pytest tests/unit/manifests",
                    "make services"):
        assert command in runs, command
    # .ci/run is the local mirror: the same make targets
    ci = (REPO / ".ci" / "run").read_text()
    assert "make lint" in ci and "make test" in ci


def test_main_builds_registers_and_trains_on_dev_by_digest():
    wf = load("main.yml")
    assert wf["on"] == {"push": {"branches": ["main"]}}
    images = wf["jobs"]["images"]
    assert images["outputs"] == {"digest": "${{ steps.cpu.outputs.digest }}",
                                 "gpu-digest": "${{ steps.gpu.outputs.digest }}"}
    assert {s.get("id") for s in images["steps"]} >= {"cpu", "gpu"}
    deploy = wf["jobs"]["deploy-dev"]
    assert deploy["needs"] == ["images", "compile"]
    assert deploy["env"]["RANKOPS_ENV"] == "dev"
    assert deploy["env"]["RANKOPS_KFP__IMAGE"] == (
        "ghcr.io/rankops/rankops:${{ github.sha }}@${{ needs.images.outputs.digest }}")
    assert deploy["env"]["RANKOPS_KFP__GPU_IMAGE"] == (
        "ghcr.io/rankops/rankops-gpu:${{ github.sha }}@${{ needs.images.outputs.gpu-digest }}")
    runs = " ; ".join(s.get("run", "") for s in deploy["steps"])
    assert 'pipeline upload --all --host "$KFP_HOST"' in runs and "pipeline submit training" in runs
    assert "--image-tag" not in runs  # the digests above, not a mutable tag
    pin = " ; ".join(s.get("run", "") for s in wf["jobs"]["pin-dev-image"]["steps"])
    assert "pin_images.py manifests/overlays/dev" in pin and "needs.images.outputs.digest" in pin


def test_release_runs_staging_on_digests_then_pins_staging_and_prod():
    wf = load("release.yml")
    assert wf["on"] == {"push": {"tags": ["v*.*.*"]}}
    jobs = wf["jobs"]
    assert jobs["digests"]["outputs"] == {"digest": "${{ steps.resolve.outputs.digest }}",
                                          "gpu-digest": "${{ steps.resolve.outputs.gpu-digest }}"}
    staging = jobs["staging"]
    assert staging["environment"] == "staging" and staging["needs"] == ["digests"]
    assert staging["env"]["RANKOPS_KFP__IMAGE"].endswith("@${{ needs.digests.outputs.digest }}")
    assert staging["env"]["RANKOPS_KFP__GPU_IMAGE"].endswith("@${{ needs.digests.outputs.gpu-digest }}")
    runs = " ; ".join(s.get("run", "") for s in staging["steps"])
    assert "pipeline submit end_to_end" in runs and "wait_for_run_completion" in runs
    assert "--image-tag" not in runs
    pin = jobs["pin-images"]
    assert pin["needs"] == ["digests", "staging"]  # only what staging ran reaches the overlays
    assert pin["strategy"]["matrix"]["env"] == ["staging", "prod"]
    pin_runs = " ; ".join(s.get("run", "") for s in pin["steps"])
    assert "pin_images.py manifests/overlays/${{ matrix.env }}" in pin_runs

    # the local gate before staging: the venv is installed, and tests/e2e holds the ELECTRA journey it runs
    local = [s["run"] for s in wf["jobs"]["integration-local"]["steps"] if "run" in s]
    assert "make install tools" in local and local[-1] == ".venv/bin/pytest tests/integration tests/e2e -q"
    assert sorted(p.name for p in (REPO / "tests" / "e2e").glob("test_*.py")) == ["test_electra_journey.py"]


def test_promotion_workflow_fails_on_anything_but_the_model_pin():
    wf = load("promotion.yml")
    assert wf["on"]["pull_request"]["paths"] == ["manifests/overlays/prod/model.env"]
    runs = [s.get("run", "") for s in steps(wf)]
    assert 'python3 .github/scripts/check_prod_change.py "origin/${{ github.base_ref }}"' in runs
    assert not any("::notice::" in r for r in runs)


def test_prod_overlay_needs_the_data_experts():
    owners = (REPO / ".github" / "CODEOWNERS").read_text().splitlines()
    rules = [line.split() for line in owners if line.strip() and not line.startswith("#")]
    prod = [r for r in rules if r[0].startswith("/manifests/overlays/prod/")]
    assert prod and all(r[1:] == ["@rankops/data-experts"] for r in prod)
    # the prod rules come after the broader /manifests/ rule, so they win (last match wins)
    assert rules.index(prod[0]) > rules.index(next(r for r in rules if r[0] == "/manifests/"))


def test_promotion_records_need_only_the_data_experts():
    """A promotion pull request changes the pin and manifests/promotions/: both must fall to the data experts alone."""
    from tests.support.github_standin import GitHubStandIn

    text = (REPO / ".github" / "CODEOWNERS").read_text()
    owners = GitHubStandIn.owners_in(text)  # GitHub's rule: the last matching pattern wins
    changed = ["manifests/overlays/prod/model.env", "manifests/promotions/history.jsonl",
               "manifests/promotions/requests/v3-20250101T000000-abcdef/request.json"]
    assert {path: owners(path) for path in changed} == {path: ["@rankops/data-experts"] for path in changed}
    assert owners("manifests/overlays/dev/model.env") == ["@rankops/platform"]  # the rest of manifests/ stays
    assert owners("manifests/promotions-other/x") == ["@rankops/platform"]
