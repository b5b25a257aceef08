"""Forge mode: a request is a pull request on a (stand-in) GitHub; its merge by the code owners approves it.

Real git (a bare "remote" the stand-in serves and merges into), a real MLflow registry
(SQLite), real comparisons; only the forge's HTTP API is the stand-in of tests/support.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from components.evaluation.fixtures import log_scorer, write_training_set
from components.promotion.decisions import approve_request, history, reject_request, rollback
from components.promotion.records import read_pin
from components.promotion.request import request_promotion
from components.promotion.state import PromotionError
from components.promotion.sync import sync
from components.registry.lookup import alias_version, use_mlflow
from components.registry.register import register_model
from components.registry.settings import ForgeSettings
from pipelines.cli import build_app
from tests.support.github_standin import GitHubStandIn, MergeRefused

PIN = "manifests/overlays/prod/model.env"
TOKEN = "ghs_standin_token"
REPOSITORY = "rankops/gitops"
CODEOWNERS = """*                          @rankops/platform
/manifests/overlays/prod/  @rankops/data-experts
/manifests/promotions/     @rankops/data-experts
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def hub(tmp_path: Path, settings, monkeypatch):
    """A bare GitOps remote (main: CODEOWNERS + prod pin 0) served by the GitHub stand-in; settings in forge mode."""
    seed, remote = tmp_path / "seed", tmp_path / "gitops.git"
    (seed / ".github").mkdir(parents=True)
    (seed / ".github/CODEOWNERS").write_text(CODEOWNERS)
    (seed / "manifests/overlays/prod").mkdir(parents=True)
    (seed / PIN).write_text("MODEL_NAME=rankops-ranker\nMODEL_VERSION=0\n")
    git(tmp_path, "init", "-q", "-b", "main", str(seed))
    git(seed, "add", ".")
    git(seed, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(remote))
    with GitHubStandIn(remote, REPOSITORY, TOKEN, collaborators={"dora", "pat"},
                       teams={"@rankops/data-experts": {"dora"}, "@rankops/platform": {"pat"}}) as stand_in:
        settings.promotion.git_url = str(remote)
        settings.promotion.forge = ForgeSettings(kind="github", api_url=stand_in.api_url, repository=REPOSITORY,
                                                 labels=["promotion"], team_reviewers=["data-experts"])
        settings.registry.write_back = False
        monkeypatch.setenv("GIT_TOKEN", TOKEN)
        for key, value in {"PROMOTION__GIT_URL": str(remote), "PROMOTION__FORGE__KIND": "github",
                           "PROMOTION__FORGE__API_URL": stand_in.api_url, "PROMOTION__FORGE__REPOSITORY": REPOSITORY,
                           "REGISTRY__WRITE_BACK": "false"}.items():
            monkeypatch.setenv(f"RANKOPS_{key}", value)  # CLI calls load their own settings
        yield stand_in


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
        ("GET", f"/repos/{REPOSITORY}/pulls", 200), ("POST", f"/repos/{REPOSITORY}/pulls", 201),
        ("POST", f"/repos/{REPOSITORY}/issues/1/labels", 200),
        ("POST", f"/repos/{REPOSITORY}/pulls/1/requested_reviewers", 201)]
    assert hub.requests[0]["path"].endswith(f"head=rankops%3Apromote%2F{rid}&state=open&per_page=10")
    assert (hub.pulls[1].labels, hub.pulls[1].teams) == (["promotion"], ["data-experts"])
    body = hub.requests[1]["body"]
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
    res = CliRunner().invoke(build_app(), ["promote", "sync", "--event", str(event_file)])
    assert res.exit_code == 0, res.output
    assert f"champion none -> v{v1}" in res.output and "merged by dora" in res.output
    assert alias_version(client, "rankops-ranker", "champion") == v1
    tags = client.get_model_version("rankops-ranker", v1).tags
    assert (tags["rankops.approved_by"], tags["rankops.pull_request"], tags["rankops.merge_commit"]) == (
        "dora", pull["html_url"], merge_commit)
    assert sync(settings)["moved"] is False  # idempotent
    assert [(e["action"], e["to_version"], e["request_id"]) for e in history(settings)] == [("approve", v1, rid)]
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
    hub.close(1)
    closed = sync(settings, request_id=first["request_id"])
    assert closed["request"]["state"] == "closed without merge (recorded as rejected)" and closed["moved"] is False
    assert client.get_model_version("rankops-ranker", v1).tags["rankops.rejected_by"] == "closed pull request #1"
    assert alias_version(client, "rankops-ranker", "champion") == v2 and remote_pin(hub) == v2

    # a rollback is a pull request too; the alias waits for its merge
    back = rollback(settings, to=v1, by="erin", note="latency regression")
    assert (back["from_version"], back["to_version"], back["pull_request"]["number"]) == (v2, v1, 3)
    assert alias_version(client, "rankops-ranker", "champion") == v2
    hub.merge(3, by="dora")
    assert sync(settings)["moved"] is True
    assert alias_version(client, "rankops-ranker", "champion") == v1 and remote_pin(hub) == v1
    assert client.get_model_version("rankops-ranker", v1).tags["rankops.rolled_back_by"] == "dora"
    assert [(e["action"], e["from_version"], e["to_version"]) for e in history(settings)] == [
        ("rollback", v2, v1), ("approve", None, v2)]


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
    with pytest.raises(PromotionError, match="answered 401: Bad credentials; nothing was left behind"):
        request_promotion(settings, v1, by="pipeline")
    assert git(Path(hub.git_dir), "branch", "--list", "promote/*") == "" and hub.pulls == {}
    assert alias_version(use_mlflow(settings), "rankops-ranker", "champion") is None
    res = CliRunner().invoke(build_app(), ["promote", "sync", "v1-anything"], env={"COLUMNS": "200"})
    assert res.exit_code == 1 and "answered 401: Bad credentials" in res.output
