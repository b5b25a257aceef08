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


def test_main_builds_registers_and_trains_on_dev():
    wf = load("main.yml")
    assert wf["on"] == {"push": {"branches": ["main"]}}
    runs = " ; ".join(s.get("run", "") for s in steps(wf))
    assert 'pipeline upload --all --host "$KFP_HOST" --image-tag "${{ github.sha }}"' in runs
    assert "pipeline submit training" in runs
    assert wf["jobs"]["deploy-dev"]["needs"] == ["images", "compile"]
    assert wf["jobs"]["deploy-dev"]["env"]["RANKOPS_ENV"] == "dev"


def test_release_runs_staging_integration():
    wf = load("release.yml")
    assert wf["on"] == {"push": {"tags": ["v*.*.*"]}}
    assert wf["jobs"]["staging"]["environment"] == "staging"
    runs = " ; ".join(s.get("run", "") for s in steps(wf))
    assert "pipeline submit end_to_end" in runs and "wait_for_run_completion" in runs
    # the local gate before staging: the venv is installed, and tests/e2e holds the ELECTRA journey it runs
    local = [s["run"] for s in wf["jobs"]["integration-local"]["steps"] if "run" in s]
    assert "make install tools" in local and local[-1] == ".venv/bin/pytest tests/integration tests/e2e -q"
    assert sorted(p.name for p in (REPO / "tests" / "e2e").glob("test_*.py")) == ["test_electra_journey.py"]


def test_prod_overlay_needs_the_data_experts():
    owners = (REPO / ".github" / "CODEOWNERS").read_text().splitlines()
    rules = [line.split() for line in owners if line.strip() and not line.startswith("#")]
    prod = [r for r in rules if r[0].startswith("/manifests/overlays/prod/")]
    assert prod and all(r[1:] == ["@rankops/data-experts"] for r in prod)
    # the prod rules come after the broader /manifests/ rule, so they win (last match wins)
    assert rules.index(prod[0]) > rules.index(next(r for r in rules if r[0] == "/manifests/"))
    promotion = load("promotion.yml")
    assert promotion["on"]["pull_request"]["paths"] == ["manifests/overlays/prod/**"]
