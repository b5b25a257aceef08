"""`submit`/`upload` against a recording stand-in of the KFP REST API: the payloads KFP would get."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from kfp_standin import running_standin, uploaded_file  # noqa: E402

from pipelines.submit import kfp_cron, prepare_spec, submit, version_name  # noqa: E402

TOY_SPEC = """# PIPELINE DEFINITION
# Name: toy
deploymentSpec:
  executors:
    exec-a:
      container:
        env:
        - name: RANKOPS_KFP__IMAGE
          value: ghcr.io/rankops/rankops:0.1.0
        image: ghcr.io/rankops/rankops:0.1.0
    exec-b:
      container:
        image: ghcr.io/rankops/rankops-gpu:0.1.0
pipelineInfo:
  name: toy
root:
  inputDefinitions:
    parameters:
      env:
        defaultValue: dev
        isOptional: true
        parameterType: STRING
"""
DIGEST = "sha256:" + "ab" * 32
GPU_DIGEST = "sha256:" + "cd" * 32
IMAGE = f"ghcr.io/rankops/rankops:0123456789ab@{DIGEST}"
GPU_IMAGE = f"ghcr.io/rankops/rankops-gpu:0123456789ab@{GPU_DIGEST}"


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


def uploaded_spec(rec) -> dict:
    import yaml

    return yaml.safe_load(uploaded_file(rec))


def test_version_names_carry_the_commit_and_the_image_digest():
    assert version_name("training", "0123456789abcdef0123") == "training-0123456789ab"
    assert version_name("training", "0123456789abcdef0123", dirty=True) == "training-0123456789ab-dirty"
    assert version_name("etl", None) == "etl-nogit"
    assert version_name("etl", "0123456789abcdef0123", image=IMAGE) == "etl-0123456789ab-abababababab"
    assert version_name("etl", "0123456789abcdef0123", image="ghcr.io/rankops/rankops:0.1.0") == "etl-0123456789ab"


def test_a_spec_is_prepared_for_its_environment():
    prepared = prepare_spec(TOY_SPEC, env="staging", pipeline_root="minio://mlpipeline/rankops-staging",
                            image=IMAGE, gpu_image=GPU_IMAGE)
    import yaml

    spec = yaml.safe_load(prepared)
    assert spec["root"]["inputDefinitions"]["parameters"]["env"]["defaultValue"] == "staging"
    assert spec["defaultPipelineRoot"] == "minio://mlpipeline/rankops-staging"
    executors = spec["deploymentSpec"]["executors"]
    assert executors["exec-a"]["container"]["image"] == IMAGE
    assert executors["exec-a"]["container"]["env"] == [{"name": "RANKOPS_KFP__IMAGE", "value": IMAGE}]
    assert executors["exec-b"]["container"]["image"] == GPU_IMAGE
    # the rest of the spec is untouched
    assert {k: v for k, v in spec.items() if k != "defaultPipelineRoot"}.keys() == \
        yaml.safe_load(TOY_SPEC).keys()


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
                    experiment="nightly", params={"env": "dev", "impressions": 500}, env="dev",
                    image="ghcr.io/rankops/rankops:0123456789abcdef", gpu_image="ghcr.io/rankops/rankops-gpu:0123456789abcdef",
                    pipeline_root="minio://mlpipeline/rankops-dev")
    assert [(r.method, r.path) for r in state.requests] == [
        ("GET", "/apis/v2beta1/pipelines"),
        ("POST", "/apis/v2beta1/pipelines/upload"),
        ("GET", "/apis/v2beta1/pipelines/pipeline-1/versions"),
        ("POST", "/apis/v2beta1/pipelines/upload_version"),
        ("GET", "/apis/v2beta1/experiments"),
        ("POST", "/apis/v2beta1/experiments"),
        ("POST", "/apis/v2beta1/runs"),
    ]
    assert state.requests[0].query["namespace"] == ["rankops-dev"]
    assert state.requests[1].query == {"name": ["toy"], "description": ["rankops toy pipeline (dev)"],
                                       "namespace": ["rankops-dev"]}
    upload_version = state.requests[3]
    assert upload_version.query == {"name": ["toy-0123456789ab"], "pipelineid": ["pipeline-1"],
                                    "description": ["rankops toy pipeline (dev)"]}
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


def test_each_environment_gets_its_own_pipeline_with_its_defaults(kfp_api, toy_spec):
    """dev and staging on one KFP: namespaced pipelines, so staging's version carries staging's defaults."""
    url, state = kfp_api
    for env in ("dev", "staging"):
        submit(client_for(url), "toy", toy_spec, version="toy-0123456789ab", namespace=f"rankops-{env}",
               experiment="e", params={"env": env}, env=env, image=IMAGE, gpu_image=GPU_IMAGE,
               pipeline_root=f"minio://mlpipeline/rankops-{env}")
    uploads = state.calls("POST", "/apis/v2beta1/pipelines/upload")
    assert [r.query["namespace"] for r in uploads if r.path.endswith("/upload")] == [["rankops-dev"],
                                                                                     ["rankops-staging"]]
    versions = state.calls("POST", "/apis/v2beta1/pipelines/upload_version")
    specs = [uploaded_spec(r) for r in versions]
    assert [s["root"]["inputDefinitions"]["parameters"]["env"]["defaultValue"] for s in specs] == ["dev", "staging"]
    assert [s["defaultPipelineRoot"] for s in specs] == ["minio://mlpipeline/rankops-dev",
                                                         "minio://mlpipeline/rankops-staging"]
    assert [r.query["pipelineid"] for r in versions] == [["pipeline-1"], ["pipeline-6"]]


def test_resubmitting_the_same_commit_reuses_version_and_experiment(kfp_api, toy_spec):
    url, state = kfp_api
    client = client_for(url)
    where = {"env": "dev", "image": IMAGE, "gpu_image": GPU_IMAGE}
    first = submit(client, "toy", toy_spec, version="toy-abc", namespace="rankops-dev", experiment="e", params={},
                   **where)
    state.requests.clear()
    second = submit(client, "toy", toy_spec, version="toy-abc", namespace="rankops-dev", experiment="e", params={},
                    schedule="0 6 * * *", **where)
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
    from pipelines import catalogue as registry
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
    assert [(r.method, r.path) for r in state.requests] == [
        ("GET", "/apis/v2beta1/healthz"), ("GET", "/apis/v2beta1/pipelines"),
        ("GET", "/apis/v2beta1/pipelines/pipeline-1/versions")]


def test_cli_authenticates_with_token_file_or_env(kfp_api, toy_spec, tmp_path, rankops_home, monkeypatch):
    from pipelines import catalogue as registry
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
    from pipelines import catalogue as registry
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
        # "unknown" is no tag: the spec goes up on the committed images; only the env default changes
        assert uploaded_file(fresh.calls("POST", "/apis/v2beta1/pipelines/upload_version")[0]) == prepare_spec(
            TOY_SPEC, env="local", pipeline_root=None,
            image="ghcr.io/rankops/rankops:0.1.0", gpu_image="ghcr.io/rankops/rankops-gpu:0.1.0")
        assert fresh.calls("POST", "/apis/v2beta1/runs")[0].json()["pipeline_version_reference"] == {
            "pipeline_id": "pipeline-1", "pipeline_version_id": "version-3"}


@pytest.fixture
def toy_registered(toy_spec, monkeypatch):
    from pipelines import catalogue as registry

    monkeypatch.setattr(registry, "COMPILED_DIR", toy_spec.parent)
    monkeypatch.setitem(registry.PIPELINES, "toy", "pipelines.toy:toy")
    return toy_spec


def test_staging_uploads_run_on_digests_with_staging_defaults(kfp_api, toy_registered, rankops_home, monkeypatch):
    from pipelines.cli import build_app

    url, state = kfp_api
    monkeypatch.setenv("RANKOPS_IMAGE_TAG", "c0ffee0123")  # the image's own tag: digests win over it
    monkeypatch.setenv("RANKOPS_KFP__IMAGE", IMAGE)
    monkeypatch.setenv("RANKOPS_KFP__GPU_IMAGE", GPU_IMAGE)
    res = CliRunner().invoke(build_app(), ["--env", "staging", "pipeline", "upload", "--all", "--host", url])
    assert res.exit_code == 0, res.output
    spec = uploaded_spec(state.calls("POST", "/apis/v2beta1/pipelines/upload")[0])
    assert spec["deploymentSpec"]["executors"]["exec-a"]["container"]["image"] == IMAGE
    assert spec["deploymentSpec"]["executors"]["exec-b"]["container"]["image"] == GPU_IMAGE
    assert spec["root"]["inputDefinitions"]["parameters"]["env"]["defaultValue"] == "staging"
    assert spec["defaultPipelineRoot"] == "minio://mlpipeline/rankops-staging"
    assert state.calls("POST", "/apis/v2beta1/pipelines/upload")[0].query["namespace"] == ["rankops-staging"]


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_refuse_images_not_pinned_by_digest(kfp_api, toy_registered, rankops_home, monkeypatch, env):
    from pipelines.cli import build_app

    url, state = kfp_api
    res = CliRunner().invoke(build_app(), ["--env", env, "pipeline", "submit", "toy", "--host", url,
                                           "--image-tag", "0123456789abcdef"])
    assert res.exit_code == 1
    assert ("this environment runs images pinned by digest only, got ghcr.io/rankops/rankops:0123456789abcdef, "
            "ghcr.io/rankops/rankops-gpu:0123456789abcdef") in " ".join(res.output.split())
    assert state.requests == []  # refused before any call


def test_single_user_kfp_is_refused_with_what_to_do(kfp_api, toy_registered, rankops_home):
    from pipelines.cli import build_app

    url, state = kfp_api
    state.multi_user = False
    res = CliRunner().invoke(build_app(), ["--env", "dev", "pipeline", "upload", "--all", "--host", url])
    assert res.exit_code == 1
    out = " ".join(res.output.split())
    assert f"KFP at {url} runs in single-user mode: its runs land in the `kubeflow` namespace" in out
    assert "rankops needs multi-user KFP" in out
    assert [(r.method, r.path) for r in state.requests] == [("GET", "/apis/v2beta1/healthz")]  # nothing uploaded


def test_a_missing_projected_token_is_an_error_not_an_anonymous_call(kfp_api, toy_registered, rankops_home,
                                                                      monkeypatch, tmp_path):
    from pipelines.cli import build_app

    url, state = kfp_api
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(tmp_path / "absent"))
    res = CliRunner().invoke(build_app(), ["--env", "dev", "pipeline", "upload", "--all", "--host", url])
    assert res.exit_code == 1
    flat = "".join(res.output.split())  # the console wraps long paths
    assert f"KF_PIPELINES_SA_TOKEN_PATH={tmp_path / 'absent'}:notokenthere" in flat
    assert state.requests == []


def test_retrain_trigger_uses_the_projected_token_and_the_running_images(kfp_api, rankops_home, monkeypatch, tmp_path):
    """What the monitoring step does on a breach in staging: its own images (by digest), its token."""
    from components.common.config import load_settings
    from components.monitoring.alerts import kfp_trigger

    url, state = kfp_api
    token = tmp_path / "token"
    token.write_text("projected-sa-token")
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token))  # mounted by the PodDefault
    monkeypatch.setenv("RANKOPS_KFP__HOST", url)
    monkeypatch.setenv("RANKOPS_KFP__IMAGE", IMAGE)  # set on every step by placement, re-pointed at submission
    monkeypatch.setenv("RANKOPS_KFP__GPU_IMAGE", GPU_IMAGE)
    package = tmp_path / "training.yaml"
    package.write_text(TOY_SPEC)
    result = kfp_trigger(load_settings("staging"), package=str(package))({"breach_id": "b1"})
    assert result["run_id"] == "run-2" and (result["image"], result["gpu_image"]) == (IMAGE, GPU_IMAGE)
    assert {r.headers.get("authorization") for r in state.requests} == {"Bearer projected-sa-token"}
    run = state.calls("POST", "/apis/v2beta1/runs")[0].json()
    executors = run["pipeline_spec"]["deploymentSpec"]["executors"]
    assert (executors["exec-a"]["container"]["image"], executors["exec-b"]["container"]["image"]) == (IMAGE, GPU_IMAGE)
    assert run["pipeline_spec"]["root"]["inputDefinitions"]["parameters"]["env"]["defaultValue"] == "staging"
    assert run["runtime_config"]["parameters"] == {"env": "staging"}
    assert run["service_account"] == "rankops-pipeline-runner"
    assert state.calls("POST", "/apis/v2beta1/experiments")[0].json() == {
        "display_name": "rankops-staging-retrain", "namespace": "rankops-staging"}


def test_retrain_trigger_in_prod_refuses_images_by_tag(rankops_home, monkeypatch, tmp_path):
    from components.common.config import load_settings
    from components.monitoring.alerts import kfp_trigger

    package = tmp_path / "training.yaml"
    package.write_text(TOY_SPEC)
    with pytest.raises(ValueError, match="pinned by digest only, got ghcr.io/rankops/rankops:0.1.0"):
        kfp_trigger(load_settings("prod"), package=str(package))({"breach_id": "b1"})


@pytest.mark.parametrize("name", ["etl", "training", "batch_inference", "monitoring", "end_to_end"])
def test_preparing_a_committed_spec_changes_only_env_root_and_images(name):
    import yaml

    from pipelines.catalogue import compiled_path

    text = compiled_path(name).read_text()
    prepared = list(yaml.safe_load_all(prepare_spec(text, env="prod", pipeline_root="minio://mlpipeline/rankops-prod",
                                                    image=IMAGE, gpu_image=GPU_IMAGE)))
    expected = list(yaml.safe_load_all(text.replace("ghcr.io/rankops/rankops-gpu:0.1.0", GPU_IMAGE)
                                       .replace("ghcr.io/rankops/rankops:0.1.0", IMAGE)))
    expected[0]["root"]["inputDefinitions"]["parameters"]["env"]["defaultValue"] = "prod"
    expected[0]["defaultPipelineRoot"] = "minio://mlpipeline/rankops-prod"
    assert prepared == expected
    assert "0.1.0" not in yaml.safe_dump_all(prepared)

