"""The decision a request carries is checked against its comparison run in MLflow (real SQLite store)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from components.evaluation.compare_run import run_compare
from components.promotion.decisions import approve_request, history
from components.promotion.evidence import check_decision
from components.promotion.request import request_promotion
from components.promotion.state import PromotionError
from components.registry.lookup import use_mlflow
from components.registry.register import register_model
from tests.support.evaluation_data import log_scorer, write_training_set

NAME = "rankops-ranker"


def test_decision_checks_name_each_broken_claim(settings, gitops, tmp_path):
    snap = write_training_set(settings)
    v1, v2 = (register_model(settings, log_scorer(settings, w, snapshot=snap))["version"]
              for w in ({"signal": 1.0}, {"signal": 1.0, "noise": 0.05}))
    client = use_mlflow(settings)
    d1 = run_compare(settings, v1, report_dir=tmp_path / "c1")
    stored = json.loads((tmp_path / "c1" / "decision.json").read_text())
    run = client.get_run(d1["compare_run_id"])
    assert (run.data.tags["rankops.kind"], run.data.tags["rankops.challenger_version"]) == ("compare", v1)
    assert run.data.tags["rankops.report_sha256"] == stored["report_sha256"] == d1["report_sha256"]
    assert run.data.metrics["p_value"] == pytest.approx(d1["p_value"])
    assert json.loads(Path(client.download_artifacts(run.info.run_id, "decision.json", str(tmp_path))).read_text()) \
        == stored

    ok = check_decision(client, NAME, v1, stored, None)
    assert (ok["verified"], ok["problems"], ok["compare_run_id"]) == (True, [], d1["compare_run_id"])

    def problems(decision: dict, version: str = v1, champion: str | None = None) -> list[str]:
        return check_decision(client, NAME, version, decision, champion)["problems"]

    assert problems(stored, version=v2) == [f"the comparison is about v{v1}, not the requested v{v2}"]
    (edited,) = problems({**stored, "delta": 0.9})
    assert edited.startswith("report hash mismatch") and stored["report_sha256"][:12] in edited
    assert problems(stored, champion=v2) == [
        f"the comparison was against champion none (BM25), but the champion is now {v2}: compare again"]
    training_run = client.get_model_version(NAME, v1).run_id
    assert f"run {training_run} is not a comparison (tag rankops.kind='')" in problems(
        {**stored, "compare_run_id": training_run})
    assert problems({**stored, "compare_run_id": "0" * 32}) == [
        f"comparison run {'0' * 32} does not exist in {settings.tracking_uri}"]
    (unbacked,) = problems({k: v for k, v in stored.items() if k != "compare_run_id"})
    assert "names no comparison run" in unbacked


def test_unbacked_request_refused_unless_forced_and_then_recorded_as_forced(settings, gitops):
    snap = write_training_set(settings)
    (v1,) = [register_model(settings, log_scorer(settings, {"signal": 1.0}, snapshot=snap))["version"]]
    claim = {"promote": True, "verdict": "promote", "challenger_version": v1, "delta": 0.5, "p_value": 0.001}
    with pytest.raises(PromotionError, match=f"no passing comparison backs v{v1}: the decision names no comparison"):
        request_promotion(settings, v1, decision=claim, by="alice")
    assert subprocess.run(["git", "branch", "--list", "promote/*"], cwd=gitops, capture_output=True,
                          text=True).stdout == ""
    req = request_promotion(settings, v1, decision=claim, by="alice", force=True)
    assert req["forced"] is True and req["evidence"]["verified"] is False
    approve_request(settings, req["request_id"], by="dora")
    (entry,) = history(settings)
    assert (entry["action"], entry["forced"], entry["decision"]["compare_run_id"]) == ("approve", True, None)
    tags = use_mlflow(settings).get_model_version(NAME, v1).tags
    assert tags["rankops.promotion_request"] == req["request_id"]
