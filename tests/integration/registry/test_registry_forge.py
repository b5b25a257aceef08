"""The GitHub client against the strict stand-in (real HTTP on loopback, real bare git), and the
forge-mode write-back: a branch plus a pull request into the source branch, never a push to it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import requests

from components.registry.forge import ForgeError, GitHub, PullRequest, forge_of
from components.registry.lookup import use_mlflow
from components.registry.register import register_model
from components.registry.settings import ForgeSettings
from tests.support.evaluation_data import log_scorer, write_training_set
from tests.support.github_standin import GitHubStandIn

TOKEN = "ghs_standin_token"
REPOSITORY = "rankops/rankops"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def hub(tmp_path: Path):
    """A bare code remote with main and feature/x (one commit ahead: feature/y), served by the stand-in."""
    seed, remote = tmp_path / "seed", tmp_path / "code.git"
    git(tmp_path, "init", "-q", "-b", "main", str(seed))
    (seed / "README.md").write_text("code\n")
    git(seed, "add", ".")
    git(seed, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    git(seed, "branch", "feature/x")
    git(seed, "checkout", "-q", "-b", "feature/y")
    (seed / "y.txt").write_text("y\n")
    git(seed, "add", ".")
    git(seed, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "y")
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(remote))
    with GitHubStandIn(remote, REPOSITORY, TOKEN, collaborators={"dora"}) as stand_in:
        yield stand_in


def forge_settings(hub: GitHubStandIn, **extra) -> ForgeSettings:
    return ForgeSettings(kind="github", api_url=hub.api_url, repository=REPOSITORY, **extra)


def test_standin_refuses_what_github_refuses(hub):
    url = f"{hub.api_url}/repos/{REPOSITORY}/pulls"
    auth = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.github+json"}
    good = {"title": "t", "head": "feature/y", "base": "main"}

    def post(body, headers=auth, target=url, **kw):
        resp = requests.post(target, json=body, headers=headers, timeout=5, **kw)
        return resp.status_code, resp.json()

    assert post(good, headers={}) == (401, {"message": "Requires authentication",
                                            "documentation_url": "https://docs.github.com/rest"})
    assert post(good, headers={"Authorization": "Bearer nope"})[0] == 401
    resp = requests.post(url, data="title=t&head=feature/y&base=main", headers=auth, timeout=5)
    assert resp.status_code == 415
    assert post({"title": "t", "head": "feature/y"})[1]["errors"] == [
        {"resource": "PullRequest", "field": "base", "code": "missing_field"}]
    assert post({**good, "head": "no-such-branch"})[1]["errors"][0]["field"] == "head"
    assert post({**good, "head": "feature/x"})[1]["errors"][0]["message"] == "No commits between main and feature/x"
    assert post(good, target=f"{hub.api_url}/repos/someone/else/pulls")[0] == 404
    status, created = post(good)
    assert status == 201 and (created["number"], created["state"], created["merged"]) == (1, "open", False)
    assert created["head"]["sha"] == git(Path(hub.git_dir), "rev-parse", "feature/y")
    assert post(good)[1]["errors"][0]["message"] == "A pull request already exists for rankops:feature/y."
    assert post({"reviewers": ["mallory"]}, target=f"{url}/1/requested_reviewers")[0] == 422
    assert post({"labels": "promotion"}, target=f"{hub.api_url}/repos/{REPOSITORY}/issues/1/labels")[0] == 422
    listed = requests.get(url, params={"head": "feature/y"}, headers=auth, timeout=5)
    assert listed.status_code == 422  # head must be owner:ref
    (item,) = requests.get(url, params={"head": "rankops:feature/y", "state": "all"}, headers=auth, timeout=5).json()
    assert item["number"] == 1 and "merged" not in item  # list items are the "simple" shape


def test_client_opens_reads_and_finds_pull_requests(hub):
    forge = forge_of(forge_settings(hub, labels=["model"], reviewers=["dora"]), environ={"GIT_TOKEN": TOKEN})
    assert isinstance(forge, GitHub) and forge_of(ForgeSettings()) is None
    with pytest.raises(ForgeError, match=r"needs an API token in \$GIT_TOKEN"):
        forge_of(forge_settings(hub), environ={})
    pull, warnings = forge.open_pull("feature/y", "main", "y", "why")
    assert (pull.number, pull.state, pull.merged, pull.base_ref, warnings) == (1, "open", False, "main", [])
    assert (hub.pulls[1].labels, hub.pulls[1].reviewers) == (["model"], ["dora"])
    again, _ = forge.open_pull("feature/y", "main", "y", "why")
    assert again.number == 1 and [r["method"] for r in hub.requests].count("POST") == 3  # no second pull request
    merge = hub.merge(1, by="dora")
    found = forge.find_pull("feature/y")
    assert (found.merged, found.merged_by, found.merge_commit_sha, found.state) == (True, "dora", merge, "closed")
    assert git(Path(hub.git_dir), "rev-parse", "main") == merge and forge.find_pull("feature/none") is None
    with pytest.raises(ForgeError, match="answered 404: Not Found"):
        forge.get_pull(99)
    with pytest.raises(ForgeError, match="lacks field 'merged'"):
        PullRequest.from_api({"number": 1, "html_url": "u", "state": "open", "head": {}, "base": {}})
    bad = forge_of(forge_settings(hub, team_reviewers=["nobody"]), environ={"GIT_TOKEN": TOKEN})
    pull_z, warnings = bad.open_pull("main", "feature/x", "z", "")  # the review request fails, the PR stays
    assert pull_z.number == 2 and len(warnings) == 1 and "answered 422: Reviews may only be requested" in warnings[0]


def test_writeback_opens_a_pull_request_into_the_source_branch(settings, hub, monkeypatch):
    monkeypatch.setenv("GIT_TOKEN", TOKEN)
    remote = Path(hub.git_dir)
    settings.registry.git_url = str(remote)
    settings.registry.forge = forge_settings(hub)
    before = {b: git(remote, "rev-parse", b) for b in ("main", "feature/x")}
    snap = write_training_set(settings)
    uri = log_scorer(settings, {"signal": 1.0}, snapshot=snap, tags={"rankops.git_branch": "feature/x"})
    out = register_model(settings, uri)
    wb = out["writeback"]
    assert (wb["mode"], wb["branch"], wb["base"], wb["changed"]) == (
        "pull-request", "registry/rankops-ranker-v1", "feature/x", True)
    assert (wb["pull_request"]["number"], wb["pull_request"]["base"]) == (1, "feature/x")
    assert {b: git(remote, "rev-parse", b) for b in ("main", "feature/x")} == before  # nothing pushed to them
    record = json.loads(git(remote, "show", "registry/rankops-ranker-v1:models/rankops-ranker.json"))
    assert (record["version"], record["run_id"]) == ("1", out["run_id"])
    tags = use_mlflow(settings).get_model_version("rankops-ranker", "1").tags
    assert tags["rankops.writeback_pull_request"] == f"https://github.com/{REPOSITORY}/pull/1"

    rerun = register_model(settings, uri)["writeback"]  # same record: the open pull request is reused
    assert rerun["pull_request"]["number"] == 1 and len(hub.pulls) == 1
    hub.merge(1, by="dora")
    merged = register_model(settings, uri)["writeback"]  # the record is on feature/x now: nothing to propose
    assert (merged["changed"], merged["branch"], len(hub.pulls)) == (False, "feature/x", 1)


def test_standin_answers_merged_by_and_list_filters_as_github_does(hub):
    """merged_by is a simple-user object (only on the full pull request), lists filter and sort as documented."""
    url = f"{hub.api_url}/repos/{REPOSITORY}/pulls"
    auth = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.github+json"}
    forge = forge_of(forge_settings(hub), environ={"GIT_TOKEN": TOKEN})
    forge.open_pull("feature/y", "main", "y", "")
    hub.merge(1, by="dora")
    forge.open_pull("main", "feature/x", "x", "")  # main is ahead of feature/x now
    hub.close(2)
    full = requests.get(f"{url}/1", headers=auth, timeout=5).json()
    assert full["merged_by"] == {
        "login": "dora", "id": full["merged_by"]["id"], "node_id": f"U_{full['merged_by']['id']}", "gravatar_id": "",
        "site_admin": False, "avatar_url": f"https://avatars.githubusercontent.com/u/{full['merged_by']['id']}",
        "url": "https://api.github.com/users/dora", "html_url": "https://github.com/dora", "type": "User"}
    assert full["user"]["login"] == "rankops-bot" and full["user"]["type"] == "Bot"
    assert requests.get(f"{url}/2", headers=auth, timeout=5).json()["merged_by"] is None

    def listed(**params):
        resp = requests.get(url, params=params, headers=auth, timeout=5)
        return resp.status_code, resp.json()

    status, closed = listed(state="closed", sort="updated", direction="desc", per_page=100)
    assert status == 200 and [(i["number"], i["merged_at"] is None) for i in closed] == [(2, True), (1, False)]
    assert not {"merged", "merged_by"} & set(closed[0])  # the simple shape
    assert [i["number"] for i in listed(state="closed", base="feature/x")[1]] == [2]
    assert [i["number"] for i in listed(state="all", per_page=1, page=2)[1]] == [1]  # created, newest first
    assert listed(state="shut")[0] == listed(sort="name")[0] == listed(direction="up")[0] == 422
    assert listed(status="closed")[0] == 422  # a misspelt filter is refused, not ignored
    # the client's view: one call, the promotion-like heads closed without a merge
    assert forge.closed_unmerged("feature/x", "ma") == [
        {"number": 2, "html_url": f"https://github.com/{REPOSITORY}/pull/2", "head": "main",
         "closed_at": hub.pulls[2].closed_at}]
    assert forge.closed_unmerged("main", "feature/") == []  # #1 was merged
    assert forge.get_pull(1).merged_by == "dora"
    # every pull request's head stays fetchable as refs/pull/<n>/head after its branch is gone
    assert git(Path(hub.git_dir), "rev-parse", "refs/pull/1/head") == hub.pulls[1].head_sha
