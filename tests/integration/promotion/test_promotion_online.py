"""Online evidence in a promotion request: attached and recorded, required by setting (real git, real MLflow)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from components.evaluation.compare_run import run_compare
from components.promotion.decisions import approve_request, history
from components.promotion.request import request_promotion
from components.promotion.state import PromotionError
from components.registry.register import register_model
from tests.support.evaluation_data import log_scorer, write_training_set
from tests.support.experiment_logs import P_12_0, report_of

NAME = "rankops-ranker"
REQUESTS = "manifests/promotions/requests"


def write_report(folder: Path, *, verdict: str = "challenger_better", age: timedelta = timedelta(hours=2),
                 html: bool = True, **changes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    report = {"experiment": "exp-electra-v2", "mode": "interleave", "verdict": verdict, "p_value": 0.003,
              "queries": 1800, "generated_at": (datetime.now(UTC) - age).isoformat(), **changes}
    path = folder / "experiment.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    if html:
        (folder / "experiment.html").write_text("<html><title>Experiment exp-electra-v2</title></html>\n")
    return path


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def promote_branches(repo: Path) -> list[str]:
    return git(repo, "branch", "--list", "promote/*", "--format=%(refname:short)").split()


def test_required_online_evidence_refuses_missing_stale_and_losing_then_attaches_a_winning_one(
        settings, gitops, tmp_path):
    snap = write_training_set(settings)
    v1, v2 = (register_model(settings, log_scorer(settings, w, snapshot=snap))["version"]
              for w in ({"signal": 1.0}, {"signal": 1.0, "noise": 0.05}))
    settings.promotion.require_online_evidence = True
    first = request_promotion(settings, v1, decision=run_compare(settings, v1), by="alice")  # no champion: waived
    assert first["forced"] is False
    approve_request(settings, first["request_id"], by="dora")
    assert history(settings)[0]["online_evidence"] is None

    with pytest.raises(PromotionError, match=f"require_online_evidence: v{v2} cannot be requested: no online evidence"):
        request_promotion(settings, v2, by="alice", force=True)
    # real reports of `rankops experiment report` (12 interleaved queries); a month-old one is a real one aged
    report_of(tmp_path, tmp_path / "stale", champion=v1, challenger=v2, clicked_team="challenger", name="exp-old")
    stale = tmp_path / "stale" / "report.json"
    aged = json.loads(stale.read_text()) | {"generated_at": (datetime.now(UTC) - timedelta(days=30)).isoformat()}
    stale.write_text(json.dumps(aged))
    with pytest.raises(PromotionError) as caught:
        request_promotion(settings, v2, by="alice", force=True, online_evidence=stale)
    assert "the online evidence of experiment 'exp-old' is stale" in str(caught.value)
    assert "30.0 days ago (limit promotion.online_evidence_max_age_days = 14)" in str(caught.value)
    report_of(tmp_path, tmp_path / "losing", champion=v1, challenger=v2, clicked_team="champion", name="exp-lost")
    with pytest.raises(PromotionError, match=r"experiment 'exp-lost' \(interleave, 12 queries\) found the "
                                             rf"champion better \(p = {P_12_0:.4g}\)$"):
        request_promotion(settings, v2, by="alice", force=True, online_evidence=tmp_path / "losing" / "report.json")
    about_v2 = {"versions": [{"champion": v1, "challenger": v2}]}
    assert [b for b in promote_branches(gitops) if b.startswith(f"promote/v{v2}-")] == []  # nothing opened for v2

    winning = write_report(tmp_path / "winning", **about_v2)
    req = request_promotion(settings, v2, by="alice", force=True, online_evidence=tmp_path / "winning")
    report = json.loads(winning.read_text())
    branch = f"promote/{req['request_id']}"
    folder = f"{REQUESTS}/{req['request_id']}"
    assert git(gitops, "show", f"{branch}:{folder}/online_evidence.json") == winning.read_text()
    assert git(gitops, "show", f"{branch}:{folder}/online_evidence.html") == (
        tmp_path / "winning" / "experiment.html").read_text()
    import hashlib
    expected = {**report, "sha256": hashlib.sha256(winning.read_bytes()).hexdigest(), "required": True,
                "html": True, "problems": []}
    record = json.loads(git(gitops, "show", f"{branch}:{folder}/request.json"))
    assert record["online_evidence"] == expected
    approve_request(settings, req["request_id"], by="dora")
    newest, first_approval = history(settings)  # newest first
    assert (newest["to_version"], newest["online_evidence"]) == (v2, expected)
    assert (first_approval["to_version"], first_approval["online_evidence"]) == (v1, None)


def test_not_required_attaches_what_is_given_and_a_bad_report_is_refused_naming_file_and_field(
        settings, gitops, tmp_path):
    snap = write_training_set(settings)
    (v1,) = [register_model(settings, log_scorer(settings, {"signal": 1.0}, snapshot=snap))["version"]]
    bad = write_report(tmp_path / "bad", verdict="maybe")
    with pytest.raises(PromotionError) as caught:
        request_promotion(settings, v1, by="alice", force=True, online_evidence=bad)
    assert str(caught.value) == (f"online evidence: {bad} field 'verdict' is 'maybe', expected one of "
                                 "challenger_better, no_difference, champion_better")
    no_time = write_report(tmp_path / "no-zone", generated_at="2026-11-30T10:00:00")
    with pytest.raises(PromotionError, match="field 'generated_at' is '2026-11-30T10:00:00', expected ISO-8601 with a zone"):
        request_promotion(settings, v1, by="alice", force=True, online_evidence=no_time)

    losing = write_report(tmp_path / "losing", verdict="champion_better", html=False,
                          versions=[{"champion": None, "challenger": v1}])
    req = request_promotion(settings, v1, by="alice", force=True, online_evidence=losing)
    record = json.loads(git(gitops, "show", f"promote/{req['request_id']}:{REQUESTS}/{req['request_id']}/request.json"))
    assert (record["online_evidence"]["required"], record["online_evidence"]["html"]) == (False, False)
    assert record["online_evidence"]["problems"] == [
        "experiment 'exp-electra-v2' (interleave, 1800 queries) found the champion better (p = 0.003)"]
    files = git(gitops, "ls-tree", "--name-only", f"promote/{req['request_id']}", f"{REQUESTS}/{req['request_id']}/")
    assert "online_evidence.json" in files and "online_evidence.html" not in files
