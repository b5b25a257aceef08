"""Follow-ups of the promotion review: the request folder reaches main whole, a killed first approval is
repaired, the CLI reports forced requests and unreadable files, a model that fails on one query fails
staging (real git repos in tmp dirs, real MLflow on SQLite)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from components.promotion.decisions import approve_request, history
from components.promotion.records import read_pin
from components.promotion.request import request_promotion
from components.promotion.state import PromotionError
from components.registry.lookup import alias_version, use_mlflow
from components.registry.register import register_model
from pipelines.cli import build_app
from tests.support import evaluation_data
from tests.support.evaluation_data import log_scorer, write_training_set

NAME = "rankops-ranker"
PIN = "manifests/overlays/prod/model.env"
REQUESTS = "manifests/promotions/requests"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def promote_branches(repo: Path) -> list[str]:
    return git(repo, "branch", "--list", "promote/*", "--format=%(refname:short)").split()


def one_line(output: str) -> str:
    """The CLI's output with rich's line wrapping undone (paths in tmp dirs are long)."""
    return " ".join(output.split())


@pytest.fixture
def cli_env(gitops, monkeypatch) -> Path:
    monkeypatch.setenv("RANKOPS_PROMOTION__GIT_REPO", str(gitops))  # the CLI loads its own settings
    monkeypatch.setenv("RANKOPS_REGISTRY__WRITE_BACK", "false")
    return gitops


def test_approve_carries_every_file_of_the_request_folder_to_main(settings, gitops, tmp_path):
    snap = write_training_set(settings)
    v1 = register_model(settings, log_scorer(settings, {"signal": 1.0}, snapshot=snap))["version"]
    evidence = tmp_path / "online"
    evidence.mkdir()
    report_text = json.dumps({
        "experiment": "exp-first", "mode": "interleave", "verdict": "challenger_better", "p_value": 0.01,
        "queries": 900, "generated_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "versions": [{"champion": None, "challenger": v1}]}, indent=2) + "\n"
    (evidence / "experiment.json").write_text(report_text)
    (evidence / "experiment.html").write_text("<html><title>exp-first</title></html>\n")
    req = request_promotion(settings, v1, by="alice", force=True, online_evidence=evidence / "experiment.json")
    folder = f"{REQUESTS}/{req['request_id']}"
    on_branch = git(gitops, "ls-tree", "--name-only", f"promote/{req['request_id']}", f"{folder}/").split()
    assert sorted(Path(f).name for f in on_branch) == [
        "decision.json", "decision.md", "model_card.md", "online_evidence.html", "online_evidence.json",
        "request.json"]

    approve_request(settings, req["request_id"], by="bob")
    on_main = git(gitops, "ls-tree", "--name-only", "main", f"{folder}/").split()
    assert sorted(Path(f).name for f in on_main) == [
        "decision.json", "decision.md", "model_card.md", "online_evidence.html", "online_evidence.json",
        "request.json"]
    assert git(gitops, "show", f"main:{folder}/online_evidence.json") == report_text.strip()
    assert git(gitops, "show", f"main:{folder}/online_evidence.html") == "<html><title>exp-first</title></html>"
    assert git(gitops, "show", f"main:{folder}/model_card.md").startswith("# ")  # the card as the reviewer read it
    assert git(gitops, "show", f"main:{folder}/model_card.md") == git(
        gitops, "show", f"promote/{req['request_id']}:{folder}/model_card.md")
    assert (gitops / folder / "online_evidence.json").read_text() == report_text  # the checkout follows main


def test_an_alias_left_by_a_killed_first_approval_is_repaired_and_the_request_goes_through(settings, gitops):
    snap = write_training_set(settings)
    v1 = register_model(settings, log_scorer(settings, {"signal": 1.0}, snapshot=snap))["version"]
    assert v1 == "1"
    req = request_promotion(settings, v1, by="alice", force=True)
    assert (req["champion_seen"], req["pin_seen"]) == (None, "0")
    client = use_mlflow(settings)
    # the first approve was killed after moving the alias and before main moved: alias v1, main still pins 0
    client.set_registered_model_alias(NAME, "champion", v1)
    assert history(settings) == [] and read_pin(git(gitops, "show", f"main:{PIN}")) == "0"

    entry = approve_request(settings, req["request_id"], by="bob")
    assert (entry["from_version"], entry["to_version"], entry["by"]) == (None, "1", "bob")
    assert read_pin(git(gitops, "show", f"main:{PIN}")) == "1"
    assert alias_version(client, NAME, "champion") == "1"
    assert [(e["action"], e["from_version"], e["to_version"]) for e in history(settings)] == [("approve", None, "1")]


def two_versions_over_a_bootstrap_pin(settings, gitops) -> str:
    """v1 and v2 registered, main pinning v1 before any decision (as an environment bootstrapped by hand); v2."""
    snap = write_training_set(settings)
    v1, v2 = (register_model(settings, log_scorer(settings, w, snapshot=snap))["version"]
              for w in ({"signal": 1.0}, {"signal": 1.0, "noise": 0.05}))
    (gitops / PIN).write_text(f"MODEL_NAME={NAME}\nMODEL_VERSION=1\n")
    git(gitops, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "bootstrap pin v1")
    return v2


def test_a_killed_first_approval_over_a_bootstrap_pin_puts_the_alias_back_on_the_pin(settings, gitops):
    """main pinned an existing version before any decision: the alias goes back to it, not to none."""
    v2 = two_versions_over_a_bootstrap_pin(settings, gitops)
    client = use_mlflow(settings)
    req = request_promotion(settings, v2, by="alice", force=True)
    assert (req["champion_seen"], req["pin_seen"]) == (None, "1")
    client.set_registered_model_alias(NAME, "champion", v2)  # killed after the alias move

    with pytest.raises(PromotionError, match="now champion is 1 and the prod pin is 1: another promotion won"):
        approve_request(settings, req["request_id"], by="bob")
    assert alias_version(client, NAME, "champion") == "1"  # repaired from the pin, nothing else moved
    assert read_pin(git(gitops, "show", f"main:{PIN}")) == "1" and history(settings) == []
    again = request_promotion(settings, v2, by="alice", force=True)  # no longer "already the champion"
    assert (again["champion_seen"], again["pin_seen"]) == ("1", "1")
    entry = approve_request(settings, again["request_id"], by="bob")
    assert (entry["from_version"], entry["to_version"]) == ("1", "2")
    assert alias_version(client, NAME, "champion") == "2"


def test_a_first_approval_over_a_bootstrap_pin_without_a_crash_is_not_repaired(settings, gitops):
    """No alias yet and main pins an existing version: nothing was left behind, the request goes through."""
    v2 = two_versions_over_a_bootstrap_pin(settings, gitops)
    req = request_promotion(settings, v2, by="alice", force=True)
    entry = approve_request(settings, req["request_id"], by="bob")
    assert (entry["from_version"], entry["to_version"]) == (None, "2")
    assert alias_version(use_mlflow(settings), NAME, "champion") == "2"


def test_cli_forced_request_without_delta_or_p_value_prints_dashes(settings, cli_env, tmp_path):
    snap = write_training_set(settings)
    v1 = register_model(settings, log_scorer(settings, {"signal": 1.0}, snapshot=snap))["version"]
    decision = tmp_path / "decision.json"
    decision.write_text(json.dumps({"promote": True, "metric": "ndcg@10"}))
    res = CliRunner().invoke(build_app(), ["promote", "request", v1, "--decision", str(decision), "--force",
                                           "--by", "alice"], env={"COLUMNS": "300"})
    assert res.exit_code == 0, (res.output, res.exception)
    out = one_line(res.output)
    assert "(champion none), delta -, p=- FORCED" in out
    assert "approve with: rankops promote approve v1-" in out
    assert [b for b in promote_branches(cli_env) if b.startswith("promote/v1-")] != []


@pytest.mark.parametrize("command", [["promote", "request", "1", "--force", "--decision"], ["promote", "sync", "--event"]])
def test_cli_names_a_file_that_is_not_json(settings, cli_env, tmp_path, command):
    bad = tmp_path / "broken.json"
    bad.write_text('{"promote": true,\n  oops\n}\n')
    res = CliRunner().invoke(build_app(), [*command, str(bad)], env={"COLUMNS": "300"})
    assert res.exit_code == 1, (res.output, res.exception)
    out = one_line(res.output)
    assert f"error: {bad} is not valid JSON: Expecting property name enclosed in double quotes at line 2, column 3" \
        in out
    assert promote_branches(cli_env) == []


def test_a_model_that_fails_on_one_query_fails_staging_and_opens_nothing(settings, gitops, monkeypatch):
    """The scorer raises on one query's candidates alone (batch scoring works): a failed check, not a traceback."""
    linear = evaluation_data._scorer_class()

    def flaky_class():
        class FailsOnOneQuery(linear):
            def predict(self, context, model_input, params=None):
                texts = set(model_input["query_text"])
                if len(model_input) < 12 and texts == {"guitar piano chess"}:  # q002 alone: a test query
                    raise ValueError("no embedding for 'guitar piano chess'")
                return super().predict(context, model_input, params)

        return FailsOnOneQuery

    snap = write_training_set(settings)
    with monkeypatch.context() as patched:
        patched.setattr(evaluation_data, "_scorer_class", flaky_class)
        uri = log_scorer(settings, {"signal": 1.0}, snapshot=snap)
    v1 = register_model(settings, uri)["version"]
    with pytest.raises(PromotionError) as caught:
        request_promotion(settings, v1, by="alice", force=True)
    message = str(caught.value)
    assert message.startswith(f"staging checks failed for v{v1}: online contract: ")
    assert "query q002: ValueError: no embedding for 'guitar piano chess'" in message
    assert promote_branches(gitops) == []
