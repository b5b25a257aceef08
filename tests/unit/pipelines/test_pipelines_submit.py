"""`submit`/`upload` against a recording stand-in of the KFP REST API: the payloads KFP would get."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from kfp_standin import running_standin  # noqa: E402

from pipelines.submit import kfp_cron, submit, version_name  # noqa: E402

TOY_SPEC = """# PIPELINE DEFINITION
# Name: toy
deploymentSpec:
  executors:
    exec-a:
      container:
        image: ghcr.io/rankops/rankops:0.1.0
    exec-b:
      container:
        image: ghcr.io/rankops/rankops-gpu:0.1.0
pipelineInfo:
  name: toy
"""


@pytest.fixture
def toy_spec(tmp_path) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(TOY_SPEC)
    return path


@pytest.fixture
def kfp_api():
    with running_standin() as (url, state):
        yield url, state


def client_for(url):
    import kfp

    return kfp.Client(host=url, namespace="rankops-dev")


def uploaded_file(rec) -> str:
    """The spec inside the multipart body KFP's upload endpoints take (field `uploadfile`)."""
    body = rec.body.decode()
    assert 'name="uploadfile"' in body
    return body.split("\r\n\r\n", 1)[1].rsplit("\r\n--", 1)[0]


def test_version_names_carry_the_commit():
    assert version_name("training", "0123456789abcdef0123") == "training-0123456789ab"
    assert version_name("training", "0123456789abcdef0123", dirty=True) == "training-0123456789ab-dirty"
    assert version_name("etl", None) == "etl-nogit"


@pytest.mark.parametrize(("given", "expected"), [("0 6 * * *", "0 0 6 * * *"), ("30 0 6 * * 1-5", "30 0 6 * * 1-5"),
                                                 ("*/15 * * * *", "0 */15 * * * *")])
def test_cron_is_converted_to_kfp_six_fields(given, expected):
    assert kfp_cron(given) == expected


@pytest.mark.parametrize("bad", ["", "0 6 * *", "0 6 * * * * *", "0 6 * * ; rm"])
def test_bad_cron_is_refused(bad):
    with pytest.raises(ValueError, match="invalid cron expression"):
        kfp_cron(bad)


def test_first_submit_uploads_pipeline_version_and_starts_a_run(kfp_api, toy_spec):
    url, state = kfp_api
    result = submit(client_for(url), "toy", toy_spec, version="toy-0123456789ab", namespace="rankops-dev",
                    experiment="nightly", params={"env": "dev", "impressions": 500}, image_tag="0123456789abcdef")
    assert [(r.method, r.path) for r in state.requests] == [
        ("GET", "/apis/v2beta1/pipelines"),
        ("POST", "/apis/v2beta1/pipelines/upload"),
        ("GET", "/apis/v2beta1/pipelines/pipeline-1/versions"),
        ("POST", "/apis/v2beta1/pipelines/upload_version"),
        ("GET", "/apis/v2beta1/experiments"),
        ("POST", "/apis/v2beta1/experiments"),
        ("POST", "/apis/v2beta1/runs"),
    ]
    upload_version = state.requests[3]
    assert upload_version.query == {"name": ["toy-0123456789ab"], "pipelineid": ["pipeline-1"],
                                    "description": ["rankops toy pipeline"]}
    spec = uploaded_file(upload_version)
    assert "image: ghcr.io/rankops/rankops:0123456789abcdef\n" in spec
    assert "image: ghcr.io/rankops/rankops-gpu:0123456789abcdef\n" in spec
    assert ":0.1.0" not in spec
    assert state.requests[5].json() == {"display_name": "nightly", "namespace": "rankops-dev"}
    assert state.requests[6].json() == {
        "experiment_id": "experiment-4",
        "display_name": "toy-0123456789ab",
        "pipeline_version_reference": {"pipeline_id": "pipeline-1", "pipeline_version_id": "version-3"},
        "runtime_config": {"parameters": {"env": "dev", "impressions": 500}},
        "service_account": "rankops-pipeline-runner",
    }
    assert (result.run_id, result.version_id, result.experiment_id) == ("run-5", "version-3", "experiment-4")
    assert toy_spec.read_text() == TOY_SPEC  # the committed spec itself is never rewritten


def test_resubmitting_the_same_commit_reuses_version_and_experiment(kfp_api, toy_spec):
    url, state = kfp_api
    client = client_for(url)
    first = submit(client, "toy", toy_spec, version="toy-abc", namespace="rankops-dev", experiment="e", params={})
    state.requests.clear()
    second = submit(client, "toy", toy_spec, version="toy-abc", namespace="rankops-dev", experiment="e", params={},
                    schedule="0 6 * * *")
    assert [(r.method, r.path) for r in state.requests] == [
        ("GET", "/apis/v2beta1/pipelines"),
        ("GET", "/apis/v2beta1/pipelines/pipeline-1/versions"),
        ("GET", "/apis/v2beta1/experiments"),
        ("POST", "/apis/v2beta1/recurringruns"),
    ]
    assert second.version_id == first.version_id
    body = state.requests[-1].json()
    assert body["trigger"] == {"cron_schedule": {"cron": "0 0 6 * * *"}}
    assert body["max_concurrency"] == 1 and body["no_catchup"] is True
    assert body["display_name"] == "toy-scheduled"
    assert body["pipeline_version_reference"] == {"pipeline_id": "pipeline-1", "pipeline_version_id": first.version_id}
    assert second.recurring_run_id == "recurring-6" and second.run_id is None


def test_cli_submit_and_upload(kfp_api, toy_spec, tmp_path, rankops_home, monkeypatch):
    from pipelines import registry
    from pipelines.cli import build_app

    url, state = kfp_api
    monkeypatch.setattr(registry, "COMPILED_DIR", toy_spec.parent)
    monkeypatch.setitem(registry.PIPELINES, "toy", "pipelines.toy:toy")
    summary = tmp_path / "submit.json"
    runner = CliRunner()
    res = runner.invoke(build_app(), ["--env", "dev", "pipeline", "submit", "toy", "--host", url, "--experiment", "ci",
                                      "-p", "impressions=200", "-p", "label=a=b", "-p", 'params_json={"epochs": 2}',
                                      "--summary", str(summary)])
    assert res.exit_code == 0, res.output
    sub = json.loads(summary.read_text())
    assert sub["params"] == {"env": "dev", "impressions": 200, "label": "a=b", "params_json": '{"epochs": 2}'}
    assert sub["run_id"] == "run-5" and sub["host"] == url
    assert sub["version_name"].startswith("toy-")
    run = state.calls("POST", "/apis/v2beta1/runs")[0].json()
    assert run["runtime_config"]["parameters"] == {"env": "dev", "impressions": 200, "label": "a=b",
                                                   "params_json": '{"epochs": 2}'}

    state.requests.clear()
    res = runner.invoke(build_app(), ["--env", "dev", "pipeline", "upload", "toy", "--host", url,
                                      "--image-tag", "feedface"])
    assert res.exit_code == 0, res.output
    # the version of this commit exists already: nothing new is uploaded
    assert [r.method for r in state.requests] == ["GET", "GET"]


def test_cli_authenticates_with_token_file_or_env(kfp_api, toy_spec, tmp_path, rankops_home, monkeypatch):
    from pipelines import registry
    from pipelines.cli import build_app

    url, state = kfp_api
    monkeypatch.setattr(registry, "COMPILED_DIR", toy_spec.parent)
    monkeypatch.setitem(registry.PIPELINES, "toy", "pipelines.toy:toy")
    monkeypatch.setenv("KFP_TOKEN", "ci-token")
    res = CliRunner().invoke(build_app(), ["pipeline", "upload", "--all", "--host", url])
    assert res.exit_code == 0, res.output
    assert {r.headers.get("authorization") for r in state.requests} == {"Bearer ci-token"}
    state.requests.clear()
    token = tmp_path / "token"
    token.write_text("projected-sa-token")
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token))  # what the in-cluster Job mounts
    res = CliRunner().invoke(build_app(), ["pipeline", "upload", "toy", "--host", url])
    assert res.exit_code == 0, res.output
    assert {r.headers.get("authorization") for r in state.requests} == {"Bearer projected-sa-token"}


def test_cli_submit_errors_are_one_line(kfp_api, rankops_home):
    from pipelines.cli import build_app

    url, _ = kfp_api
    res = CliRunner().invoke(build_app(), ["pipeline", "submit", "nope", "--host", url])
    assert res.exit_code == 1
    assert "no compiled spec for 'nope'" in res.output
    res = CliRunner().invoke(build_app(), ["pipeline", "submit", "etl", "--host", url, "-p", "oops"])
    assert res.exit_code == 1 and "--param 'oops': expected NAME=VALUE" in res.output
    res = CliRunner().invoke(build_app(), ["pipeline", "run", "etl"])
    assert res.exit_code == 1 and "only --local runs start here" in res.output


def test_in_image_submissions_run_on_the_image_they_come_from(kfp_api, toy_spec, rankops_home, monkeypatch):
    """Images set RANKOPS_IMAGE_TAG to their build's sha: the registration Job pins that build."""
    from pipelines import registry
    from pipelines.cli import build_app

    url, state = kfp_api
    monkeypatch.setattr(registry, "COMPILED_DIR", toy_spec.parent)
    monkeypatch.setitem(registry.PIPELINES, "toy", "pipelines.toy:toy")
    monkeypatch.setenv("RANKOPS_IMAGE_TAG", "c0ffee0123")
    res = CliRunner().invoke(build_app(), ["pipeline", "upload", "--all", "--host", url])
    assert res.exit_code == 0, res.output
    spec = uploaded_file(state.calls("POST", "/apis/v2beta1/pipelines/upload_version")[0])
    assert "image: ghcr.io/rankops/rankops:c0ffee0123\n" in spec
    monkeypatch.setenv("RANKOPS_IMAGE_TAG", "unknown")  # a local `docker build` without GIT_SHA
    with running_standin() as (fresh_url, fresh):  # a fresh API, so this commit's version is uploaded again
        res = CliRunner().invoke(build_app(), ["pipeline", "submit", "toy", "--host", fresh_url])
        assert res.exit_code == 0, res.output
        # "unknown" is no tag: the spec goes up exactly as compiled, and the run starts on that version
        assert uploaded_file(fresh.calls("POST", "/apis/v2beta1/pipelines/upload_version")[0]) == TOY_SPEC
        assert fresh.calls("POST", "/apis/v2beta1/runs")[0].json()["pipeline_version_reference"] == {
            "pipeline_id": "pipeline-1", "pipeline_version_id": "version-3"}
