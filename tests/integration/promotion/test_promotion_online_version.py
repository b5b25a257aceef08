"""Online evidence must be about the requested version, in the CLI and in the pipeline step alike.

The reports are real: `run_report` over a tiny hand-written interleaving log (tests/support/experiment_logs).
Real MLflow (SQLite) and a real git repo; the step runs as `run_promotion_request_op` with a decision
artifact and settings from the environment, as its KFP body does.
"""

# No `from __future__ import annotations`: KFP reads the pipeline function's real annotation objects.
import json
import subprocess
import time
from pathlib import Path

import pytest
from kfp import dsl
from typer.testing import CliRunner

from components.evaluation.compare_run import run_compare
from components.promotion.decisions import approve_request
from components.promotion.kfp_io import run_promotion_request_op
from components.promotion.request import request_promotion
from components.promotion.state import PromotionError
from components.registry.register import register_model
from pipelines.cli import build_app
from tests.support.evaluation_data import log_scorer, write_training_set
from tests.support.experiment_logs import P_12_0, report_of

REQUESTS = "manifests/promotions/requests"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def versions(settings, gitops, monkeypatch):
    """v1 (noise) the approved champion, v2 (signal) a challenger whose real comparison says promote."""
    monkeypatch.setenv("RANKOPS_PROMOTION__GIT_REPO", str(gitops))  # CLI and step load their own settings
    monkeypatch.setenv("RANKOPS_REGISTRY__WRITE_BACK", "false")
    snap = write_training_set(settings)
    v1, v2 = (register_model(settings, log_scorer(settings, w, snapshot=snap))["version"]
              for w in ({"noise": 1.0}, {"signal": 1.0}))
    approve_request(settings, request_promotion(settings, v1, by="alice", force=True)["request_id"], by="dora")
    return v1, v2


def decision_artifact(settings, version: str, folder: Path) -> dsl.Artifact:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "decision.json").write_text(json.dumps(run_compare(settings, version)))
    return dsl.Artifact(uri=str(folder / "decision.json"))


def test_the_cli_refuses_a_report_about_another_challenger_naming_both_versions_and_the_file(
        settings, versions, tmp_path):
    v1, v2 = versions
    report = report_of(tmp_path, tmp_path / "other", champion=v1, challenger="7", clicked_team="challenger")
    assert (report["verdict"], report["p_value"]) == ("challenger_better", pytest.approx(P_12_0))
    res = CliRunner().invoke(build_app(), ["promote", "request", v2, "--force", "--online-evidence",
                                           str(tmp_path / "other" / "report.json")])
    assert res.exit_code == 1
    text = " ".join(res.output.split())  # rich wraps long lines (and may fold the long path)
    assert "error: online evidence: " in text and "other/report.json" in text.replace(" ", "")
    assert text.endswith(f"is about challenger version 7, not the requested version {v2}: run the experiment "
                         f"with challenger {v2} and attach its report")
    assert git(Path(settings.promotion.git_repo), "branch", "--list", f"promote/v{v2}-*") == ""  # nothing opened


def test_the_step_resolves_a_relative_report_under_storage_reports_and_attaches_it(settings, versions, tmp_path):
    v1, v2 = versions
    out = Path(settings.reports_dir) / "experiments" / "electra-v2"
    report = report_of(tmp_path, out, champion=v1, challenger=v2, clicked_team="challenger", name="electra-v2")
    assert report["versions"] == [{"champion": v1, "challenger": v2}]
    request_id = run_promotion_request_op(v2, decision_artifact(settings, v2, tmp_path / "d"), env="local",
                                          online_evidence="experiments/electra-v2")
    gitops = Path(settings.promotion.git_repo)
    folder = f"promote/{request_id}:{REQUESTS}/{request_id}"
    assert git(gitops, "show", f"{folder}/online_evidence.json") == (out / "report.json").read_text()
    assert git(gitops, "show", f"{folder}/online_evidence.html") == (out / "report.html").read_text()
    record = json.loads(git(gitops, "show", f"{folder}/request.json"))
    assert {k: record["online_evidence"][k] for k in ("experiment", "mode", "verdict", "queries", "problems")} == {
        "experiment": "electra-v2", "mode": "interleave", "verdict": "challenger_better", "queries": 12,
        "problems": []}


def test_the_step_refuses_another_version_a_losing_and_a_stale_report_when_required(
        settings, versions, tmp_path, monkeypatch):
    v1, v2 = versions
    monkeypatch.setenv("RANKOPS_PROMOTION__REQUIRE_ONLINE_EVIDENCE", "true")
    decision = decision_artifact(settings, v2, tmp_path / "d")
    reports = Path(settings.reports_dir)
    report_of(tmp_path, reports / "wrong", champion=v1, challenger=v1, clicked_team="challenger")  # an A/A
    with pytest.raises(PromotionError) as caught:
        run_promotion_request_op(v2, decision, online_evidence="wrong/report.json")
    assert str(caught.value) == (f"online evidence: {reports / 'wrong' / 'report.json'} is about challenger version "
                                 f"{v1}, not the requested version {v2}: run the experiment with challenger {v2} "
                                 "and attach its report")
    report_of(tmp_path, reports / "losing", champion=v1, challenger=v2, clicked_team="champion")
    with pytest.raises(PromotionError, match=rf"require_online_evidence: v{v2} cannot be requested: experiment 'exp' "
                                             rf"\(interleave, 12 queries\) found the champion better \(p = 0.0004883\)$"):
        run_promotion_request_op(v2, decision, online_evidence="losing")
    report_of(tmp_path, reports / "stale", champion=v1, challenger=v2, clicked_team="challenger")
    monkeypatch.setenv("RANKOPS_PROMOTION__ONLINE_EVIDENCE_MAX_AGE_DAYS", "0.00001")  # 0.864 s
    time.sleep(1.0)
    with pytest.raises(PromotionError, match=r"the online evidence of experiment 'exp' is stale: generated .*"
                                             r"\(limit promotion.online_evidence_max_age_days = 1e-05\)"):
        run_promotion_request_op(v2, decision, online_evidence=str(reports / "stale"))  # absolute works too
    with pytest.raises(PromotionError, match=f"require_online_evidence: v{v2} cannot be requested: no online evidence"):
        run_promotion_request_op(v2, decision, online_evidence="")
    branches = git(Path(settings.promotion.git_repo), "branch", "--list", f"promote/v{v2}-*")
    assert branches == ""  # nothing was opened for v2


@pytest.mark.slow
def test_the_pipeline_parameter_reaches_the_step_on_the_kfp_local_runner(settings, versions, tmp_path):
    """The operator's `online_evidence` (a path under storage.reports) through kfp.local's subprocess step."""
    from components.promotion.component import promotion_request_op
    from pipelines.local import run_local

    v1, v2 = versions
    out = Path(settings.reports_dir) / "experiments" / "electra-v2"
    report_of(tmp_path, out, champion=v1, challenger=v2, clicked_team="challenger", name="electra-v2")
    decision = decision_artifact(settings, v2, tmp_path / "d").uri

    @dsl.pipeline(name="rankops-request-evidence-test")
    def flow(env: str = "local", version: str = v2, online_evidence: str = ""):
        imported = dsl.importer(artifact_uri=decision, artifact_class=dsl.Artifact)
        promotion_request_op(version=version, decision=imported.output, env=env, online_evidence=online_evidence)

    run = run_local("rankops-request-evidence-test", settings, {"online_evidence": "experiments/electra-v2"},
                    pipeline_func=flow)
    request_id = run["tasks"]["promotion-request-op"]["parameters"]["Output"]
    assert request_id.startswith(f"v{v2}-")
    shown = git(Path(settings.promotion.git_repo), "show",
                f"promote/{request_id}:{REQUESTS}/{request_id}/online_evidence.json")
    assert shown == (out / "report.json").read_text()
