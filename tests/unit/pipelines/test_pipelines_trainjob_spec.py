"""Environments whose training runs as a Kubeflow Trainer TrainJob (`trainjob.enabled`) get a spec
whose train step only creates and follows the job: no GPU of its own, while the job's workers hold theirs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from kfp_standin import running_standin, uploaded_file  # noqa: E402

from pipelines.catalogue import compiled_path  # noqa: E402
from pipelines.submit import prepare_spec, version_name  # noqa: E402
from tests.support.kfp_pods import argo_executor_security_context, task_pods  # noqa: E402
from tests.support.pod_security import restricted_violations  # noqa: E402

IMAGE = "ghcr.io/rankops/rankops:0123456789ab@sha256:" + "ab" * 32
GPU_IMAGE = "ghcr.io/rankops/rankops-gpu:0123456789ab@sha256:" + "cd" * 32
MANIFESTS = Path(__file__).resolve().parents[3] / "manifests"



@pytest.fixture(scope="module")
def argo_executor() -> dict:
    """The Argo executor securityContext manifests/kfp ships for the KFP install."""
    return argo_executor_security_context(yaml.safe_load((MANIFESTS / "kfp" / "workflow-controller-configmap.yaml")
                                                         .read_text()))


@pytest.fixture
def kfp_api():
    with running_standin() as (url, state):
        yield url, state


def train_parts(docs: list[dict]) -> tuple[dict, dict]:
    """(container, platform config) of the train step in a parsed spec."""
    return (docs[0]["deploymentSpec"]["executors"]["exec-train-op"]["container"],
            docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-train-op"])


def parsed(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.mark.parametrize("name", ["training", "end_to_end"])
def test_the_train_step_only_follows_the_job_and_nothing_else_changes(name, argo_executor):
    text = compiled_path(name).read_text()
    kwargs = {"env": "prod", "pipeline_root": "minio://mlpipeline/rankops-prod", "image": IMAGE, "gpu_image": GPU_IMAGE}
    in_pod = parsed(prepare_spec(text, **kwargs))
    prepared = prepare_spec(text, trainjob=True, **kwargs)
    follower = parsed(prepared)
    container, platform = train_parts(follower)
    assert container["resources"] == {"cpuRequest": 0.5, "cpuLimit": 1.0, "memoryRequest": 1.073741824,
                                      "memoryLimit": 2.147483648, "resourceCpuRequest": "500m",
                                      "resourceCpuLimit": "1", "resourceMemoryRequest": "1Gi",
                                      "resourceMemoryLimit": "2Gi"}  # 1 GiB = 1.073741824 GB, as KFP writes it
    assert container["image"] == IMAGE  # the job's workers run the GPU image, named in the step's env
    assert {"name": "RANKOPS_KFP__GPU_IMAGE", "value": GPU_IMAGE} in container["env"]
    assert "nodeSelector" not in platform and "tolerations" not in platform
    c_in, p_in = train_parts(in_pod)
    assert c_in["resources"]["accelerator"]["resourceType"] == "nvidia.com/gpu"  # what the step held before
    assert p_in["nodeSelector"] == {"labels": {"nvidia.com/gpu.present": "true"}}
    assert p_in["tolerations"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}]
    # nothing else differs: the step keeps its claims, secrets, identity and command; the other steps are untouched
    c_in.update(image=container["image"], resources=container["resources"])
    del p_in["nodeSelector"], p_in["tolerations"]
    assert follower == in_pod
    assert restricted_violations(task_pods(prepared, argo_executor)["exec-train-op"]) == []


def test_the_trainjob_variant_is_its_own_version():
    assert version_name("training", "0123456789abcdef", image=IMAGE, trainjob=True) == \
        "training-0123456789ab-abababababab-trainjob"
    assert version_name("training", "0123456789abcdef", image=IMAGE) == "training-0123456789ab-abababababab"


def test_a_profile_with_trainjob_uploads_the_follower_spec(kfp_api, rankops_home, monkeypatch):
    from pipelines.cli import build_app

    url, state = kfp_api
    monkeypatch.setenv("RANKOPS_KFP__IMAGE", IMAGE)
    monkeypatch.setenv("RANKOPS_KFP__GPU_IMAGE", GPU_IMAGE)
    monkeypatch.setenv("RANKOPS_TRAINJOB__ENABLED", "true")
    res = CliRunner().invoke(build_app(), ["--env", "prod", "pipeline", "upload", "training", "--host", url])
    assert res.exit_code == 0, res.output
    assert "version training-" in res.output and "-trainjob" in res.output
    container, platform = train_parts(parsed(uploaded_file(state.calls("POST", "/apis/v2beta1/pipelines/upload")[0])))
    assert "accelerator" not in container["resources"] and container["image"] == IMAGE
    assert "nodeSelector" not in platform
    monkeypatch.delenv("RANKOPS_TRAINJOB__ENABLED")  # prod's own profile: training in the step's pod, on a GPU
    res = CliRunner().invoke(build_app(), ["--env", "prod", "pipeline", "upload", "training", "--host", url])
    assert res.exit_code == 0, res.output
    versions = state.calls("POST", "/apis/v2beta1/pipelines/upload_version")  # a new version, not the follower reused
    names = [v.query["name"][0] for v in versions]
    assert len(names) == 2 and names[0].endswith("-trainjob") and names[1] == names[0].removesuffix("-trainjob")
    assert train_parts(parsed(uploaded_file(versions[1])))[0]["resources"]["accelerator"]["resourceCount"] == "1"
