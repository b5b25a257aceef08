"""Forge mode: a request is a pull request on a (stand-in) GitHub; its merge by the code owners approves it.

Real git (a bare "remote" the stand-in serves and merges into), a real MLflow registry
(SQLite), real comparisons; only the forge's HTTP API is the stand-in of tests/support.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from components.promotion.decisions import approve_request, history, reject_request, rollback
from components.promotion.records import read_pin
from components.promotion.request import request_promotion
from components.promotion.state import PromotionError
from components.promotion.sync import sync
from components.registry.lookup import alias_version, use_mlflow
from components.registry.register import register_model
from components.registry.settings import ForgeSettings
from pipelines.cli import build_app
from tests.support.evaluation_data import log_scorer, write_training_set
from tests.support.forge_hub import PIN, REPOSITORY, TOKEN, git
from tests.support.github_standin import GitHubStandIn, MergeRefused


def remote_pin(hub: GitHubStandIn, rev: str = "main") -> str | None:
    return read_pin(git(Path(hub.git_dir), "show", f"{rev}:{PIN}"))


def register(settings, *weights: dict[str, float]) -> list[str]:
    snap = write_training_set(settings)
    return [register_model(settings, log_scorer(settings, w, snapshot=snap))["version"] for w in weights]


def test_request_is_a_pull_request_and_the_merge_moves_the_champion(settings, hub, tmp_path):
    (v1,) = register(settings, {"signal": 1.0})
    client = use_mlflow(settings)
    req = request_promotion(settings, v1, by="pipeline")
    rid, pull = req["request_id"], req["pull_request"]
    assert (req["mode"], req["pushed"], req["forced"]) == ("github", True, False)
    assert (pull["number"], pull["state"], pull["merged"], pull["head"], pull["base"]) == (
        1, "open", False, f"promote/{rid}", "main")
    assert pull["html_url"] == f"https://github.com/{REPOSITORY}/pull/1"
    assert [(r["method"], r["path"].split("?")[0], r["status"]) for r in hub.requests] == [
        ("GET", f"/repos/{REPOSITORY}/pulls", 200),  # settling main first: closed requests to record
        ("GET", f"/repos/{REPOSITORY}/pulls", 200), ("POST", f"/repos/{REPOSITORY}/pulls", 201),
        ("POST", f"/repos/{REPOSITORY}/issues/1/labels", 200),
        ("POST", f"/repos/{REPOSITORY}/pulls/1/requested_reviewers", 201)]
    assert hub.requests[0]["path"].endswith("?state=closed&base=main&sort=updated&direction=desc&per_page=100")
    assert hub.requests[1]["path"].endswith(f"head=rankops%3Apromote%2F{rid}&state=open&per_page=10")
    assert (hub.pulls[1].labels, hub.pulls[1].teams) == (["promotion"], ["data-experts"])
    body = hub.requests[2]["body"]
    assert body["title"] == f"Promote rankops-ranker v{v1} to prod" and req["evidence"]["compare_run_id"] in body["body"]
    # nothing moved yet: main on the remote still pins 0, the branch pins v1 and carries the approval entry
    assert remote_pin(hub) == "0" and remote_pin(hub, f"promote/{rid}") == v1
    branch_history = git(Path(hub.git_dir), "show", f"promote/{rid}:manifests/promotions/history.jsonl")
    entry = json.loads(branch_history)
    assert (entry["action"], entry["request_id"], entry["to_version"], entry["via"]) == (
        "approve", rid, v1, "pull request merge")
    assert alias_version(client, "rankops-ranker", "champion") is None

    with pytest.raises(PromotionError, match=rf"merging its pull request: pull request #1 {pull['html_url']} \(open\)"):
        approve_request(settings, rid, by="bob")
    with pytest.raises(PromotionError, match="closing without merging its pull request"):
        reject_request(settings, rid, by="bob", note="no")
    waiting = sync(settings, request_id=rid)
    assert (waiting["moved"], waiting["request"]["state"]) == (False, "open: waiting for the CODEOWNERS' merge")
    assert alias_version(client, "rankops-ranker", "champion") is None

    with pytest.raises(MergeRefused, match="pat is not a code owner"):
        hub.merge(1, by="pat")
    merge_commit = hub.merge(1, by="dora")
    # the webhook payload names the pull request; its state is read back from the forge
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(hub.event(1)))
    res = CliRunner().invoke(build_app(), ["promote", "sync", "--event", str(event_file)], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    assert f"champion none -> v{v1}" in res.output and "merged by dora" in res.output
    assert f"history: {rid} merged by dora recorded on main" in res.output
    assert alias_version(client, "rankops-ranker", "champion") == v1
    tags = client.get_model_version("rankops-ranker", v1).tags
    assert (tags["rankops.approved_by"], tags["rankops.pull_request"], tags["rankops.merge_commit"]) == (
        "dora", pull["html_url"], merge_commit)
    # who merged, read back from the forge, is a line of main's history right after the merged approval
    approved, merged = history(settings)[::-1]
    assert (approved["action"], approved["by"], approved["request_id"]) == ("approve", None, rid)
    assert {k: merged[k] for k in ("seq", "action", "of", "request_id", "to_version", "by", "at", "pull_request",
                                   "merge_commit")} == {
        "seq": 2, "action": "merged", "of": "approve", "request_id": rid, "to_version": v1, "by": "dora",
        "at": hub.pulls[1].merged_at, "pull_request": pull["html_url"], "merge_commit": merge_commit}
    main_tip = git(Path(hub.git_dir), "rev-parse", "main")
    assert git(Path(hub.git_dir), "rev-parse", f"{main_tip}^") == merge_commit  # one commit on top of the merge
    assert git(Path(hub.git_dir), "diff", "--name-only", merge_commit, main_tip) == "manifests/promotions/history.jsonl"
    again = sync(settings)  # idempotent: nothing moves, nothing is written
    assert (again["moved"], again["recorded"], git(Path(hub.git_dir), "rev-parse", "main")) == (False, None, main_tip)
    res = CliRunner().invoke(build_app(), ["promote", "status"])
    assert res.exit_code == 0 and f"champion alias {v1}, prod pin {v1}" in res.output and "mode github" in res.output
    res = CliRunner().invoke(build_app(), ["promote", "history"], env={"COLUMNS": "250"})
    assert res.exit_code == 0 and "pull request merge" in res.output and rid in res.output


def test_concurrent_pull_requests_exactly_one_merges_then_rollback(settings, hub):
    v1, v2 = register(settings, {"signal": 1.0}, {"signal": 1.0, "noise": 0.05})
    client = use_mlflow(settings)
    first = request_promotion(settings, v1, by="pipeline")
    second = request_promotion(settings, v2, by="pipeline")  # both beat BM25, both against champion none
    assert (first["pull_request"]["number"], second["pull_request"]["number"]) == (1, 2)
    hub.merge(2, by="dora")
    with pytest.raises(MergeRefused, match="conflicts"):  # same pin line, same history tail: git says no
        hub.merge(1, by="dora")
    done = sync(settings, event=hub.event(2))
    assert (done["moved"], done["champion"], done["completed"]["request_id"]) == (True, v2, second["request_id"])
    assert done["rejected"] == []
    hub.close(1)
    hub.delete_branch(f"promote/{first['request_id']}")  # the record stays readable as refs/pull/1/head
    closed = sync(settings)  # no request named: the closed pull request is found and recorded all the same
    assert closed["moved"] is False and closed["rejected"] == [
        {"request_id": first["request_id"], "version": v1, "pull_request": first["pull_request"]["html_url"],
         "recorded": True, "state": "closed without merge (recorded as rejected)"}]
    tags = client.get_model_version("rankops-ranker", v1).tags
    assert (tags["rankops.rejected_by"], tags["rankops.rejected_pull_request"], tags["rankops.rejected_at"]) == (
        "closed pull request #1", first["pull_request"]["html_url"], hub.pulls[1].closed_at)
    assert sync(settings)["rejected"][0]["recorded"] is False  # recorded once
    named = sync(settings, request_id=first["request_id"])
    assert named["request"]["state"] == "closed without merge (recorded as rejected)"
    assert alias_version(client, "rankops-ranker", "champion") == v2 and remote_pin(hub) == v2

    # a rollback is a pull request too; the alias waits for its merge
    back = rollback(settings, to=v1, by="erin", note="latency regression")
    assert (back["from_version"], back["to_version"], back["pull_request"]["number"]) == (v2, v1, 3)
    assert alias_version(client, "rankops-ranker", "champion") == v2
    hub.merge(3, by="dora")
    assert sync(settings)["moved"] is True
    assert alias_version(client, "rankops-ranker", "champion") == v1 and remote_pin(hub) == v1
    assert client.get_model_version("rankops-ranker", v1).tags["rankops.rolled_back_by"] == "dora"
    assert [(e["action"], e.get("from_version"), e["to_version"], e["by"]) for e in history(settings)] == [
        ("merged", None, v1, "dora"), ("rollback", v2, v1, None), ("merged", None, v2, "dora"),
        ("approve", None, v2, None)]


def test_a_pin_that_bypassed_review_does_not_move_the_champion(settings, hub, tmp_path):
    (v1,) = register(settings, {"signal": 1.0})
    clone = tmp_path / "admin"
    git(tmp_path, "clone", "-q", hub.git_dir, str(clone))
    (clone / PIN).write_text(f"MODEL_NAME=rankops-ranker\nMODEL_VERSION={v1}\n")
    (clone / "manifests/promotions").mkdir(parents=True)
    (clone / "manifests/promotions/history.jsonl").write_text(json.dumps(
        {"seq": 1, "action": "approve", "request_id": "v1-forged", "to_version": v1, "from_version": None}) + "\n")
    git(clone, "add", ".")
    git(clone, "-c", "user.name=a", "-c", "user.email=a@a", "commit", "-qm", "direct push")
    git(clone, "push", "-q", "origin", "main")
    with pytest.raises(PromotionError, match="v1-forged, but no pull request .* did not arrive by an approved merge"):
        sync(settings)
    assert alias_version(use_mlflow(settings), "rankops-ranker", "champion") is None
    # payloads that are not about our promotions change nothing
    with pytest.raises(PromotionError, match="is about someone/else"):
        sync(settings, event={"pull_request": {"number": 1}, "repository": {"full_name": "someone/else"}})
    with pytest.raises(PromotionError, match="not a GitHub pull_request event payload"):
        sync(settings, event={"ref": "refs/heads/main"})


def test_forge_failures_leave_nothing_behind(settings, hub, monkeypatch):
    (v1,) = register(settings, {"signal": 1.0})
    monkeypatch.setenv("GIT_TOKEN", "")
    with pytest.raises(PromotionError, match=r"needs an API token in \$GIT_TOKEN"):
        request_promotion(settings, v1, by="pipeline")
    monkeypatch.setenv("GIT_TOKEN", "wrong")
    with pytest.raises(PromotionError, match="settling main first failed, so nothing was opened: .* answered 401: "
                                             "Bad credentials"):
        request_promotion(settings, v1, by="pipeline")
    assert git(Path(hub.git_dir), "branch", "--list", "promote/*") == "" and hub.pulls == {}
    monkeypatch.setenv("GIT_TOKEN", TOKEN)
    hub.fail_next("POST", "/pulls")  # the branch is pushed, then opening its pull request fails
    with pytest.raises(PromotionError, match="answered 502: Server Error; nothing was left behind"):
        request_promotion(settings, v1, by="pipeline")
    assert git(Path(hub.git_dir), "branch", "--list", "promote/*") == "" and hub.pulls == {}
    assert alias_version(use_mlflow(settings), "rankops-ranker", "champion") is None
    monkeypatch.setenv("GIT_TOKEN", "wrong")
    res = CliRunner().invoke(build_app(), ["promote", "sync", "v1-anything"], env={"COLUMNS": "200"})
    assert res.exit_code == 1 and "answered 401: Bad credentials" in res.output


class Killed(BaseException):
    """The pod dies (SIGKILL, preemption) at this point: nothing after it runs."""


def test_asking_again_with_the_same_comparison_returns_the_open_request(settings, hub):
    """KFP retries the promotion step (retries=2): a retry must find what the first try opened."""
    from components.evaluation.compare_run import run_compare
    from components.registry.forge import GitHub

    (v1,) = register(settings, {"signal": 1.0})
    decision = run_compare(settings, v1)
    first = request_promotion(settings, v1, decision=decision, by="pipeline")
    again = request_promotion(settings, v1, decision=decision, by="pipeline")
    assert (again["reused"], again["request_id"], again["pull_request"]["number"], again["branch"]) == (
        True, first["request_id"], 1, first["branch"])
    assert (again["version"], again["champion_seen"], again["evidence"]) == (v1, None, first["evidence"])
    assert list(hub.pulls) == [1]
    assert [r["path"] for r in hub.requests if r["method"] == "POST"].count(f"/repos/{REPOSITORY}/pulls") == 1
    branches = git(Path(hub.git_dir), "for-each-ref", "--format=%(refname:short)", "refs/heads/promote/")
    assert branches == first["branch"]

    # a try that died after pushing its branch, before its pull request was opened: the retry opens it
    second_decision = run_compare(settings, v1)  # another comparison: another request
    with pytest.MonkeyPatch.context() as patch:
        def killed(*args, **kwargs):
            raise Killed()
        patch.setattr(GitHub, "open_pull", killed)
        with pytest.raises(Killed):
            request_promotion(settings, v1, decision=second_decision, by="pipeline")
    orphan = git(Path(hub.git_dir), "for-each-ref", "--format=%(refname:short)", "refs/heads/promote/").split()
    assert len(orphan) == 2 and list(hub.pulls) == [1]
    retried = request_promotion(settings, v1, decision=second_decision, by="pipeline")
    assert retried["reused"] is True and f"promote/{retried['request_id']}" in orphan
    assert retried["request_id"] != first["request_id"] and retried["pull_request"]["number"] == 2
    tags = use_mlflow(settings).get_model_version("rankops-ranker", v1).tags  # the dead try never tagged it
    assert tags["rankops.promotion_request"] == retried["request_id"]
    assert hub.pulls[2].head == retried["branch"] and hub.pulls[2].labels == ["promotion"]

    # a request whose pull request was closed is decided: asking again opens a new one
    hub.close(1)
    fresh = request_promotion(settings, v1, decision=decision, by="pipeline")
    assert (fresh["reused"], fresh["pull_request"]["number"]) == (False, 3)
    assert fresh["request_id"] not in (first["request_id"], retried["request_id"])


def test_pipeline_run_points_at_the_pull_request_in_forge_mode_and_at_approve_locally(settings, hub, capsys):
    from components.registry.forge import forge_of
    from pipelines.cli.pipeline import print_where_to_look

    clone = Path(hub.git_dir).parent / "work"
    git(clone.parent, "clone", "-q", hub.git_dir, str(clone))
    git(clone, "checkout", "-q", "-b", "promote/v1-20250101T000000-abcdef")
    (clone / PIN).write_text("MODEL_NAME=rankops-ranker\nMODEL_VERSION=1\n")
    git(clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "pin 1")
    git(clone, "push", "-q", "origin", "promote/v1-20250101T000000-abcdef")
    forge_of(settings.promotion.forge).open_pull("promote/v1-20250101T000000-abcdef", "main", "Promote", "")
    result = {"pipeline": "end_to_end", "seconds": 1.0, "run_dir": "/runs/1", "pipeline_root": "/runs",
              "outputs": {}, "tasks": {"promotion-request-op": {"parameters": {"Output": "v1-20250101T000000-abcdef"},
                                                                "artifacts": {}}}}

    def printed(cfg) -> str:
        capsys.readouterr()
        print_where_to_look(result, cfg)
        return " ".join(capsys.readouterr().out.split())

    forge_mode = printed(settings)
    assert f"pull request: https://github.com/{REPOSITORY}/pull/1 (request v1-20250101T000000-abcdef;" in forge_mode
    assert "promote approve" not in forge_mode
    local = settings.model_copy(deep=True)
    local.promotion.forge = ForgeSettings()
    local_mode = printed(local)
    assert ("to approve: rankops promote approve v1-20250101T000000-abcdef --by NAME (or reject: rankops promote "
            "reject v1-20250101T000000-abcdef --by NAME)") in local_mode
    assert "pull request" not in local_mode and "github.com" not in local_mode
    result["tasks"]["promotion-request-op"]["parameters"]["Output"] = "v9-none"
    missing = printed(settings)
    assert "branch promote/v9-none (looking up its pull request failed: no pull request from branch promote/v9-none)" \
        in missing
