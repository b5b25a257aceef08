"""The TrainJob the training step creates: rendered from the profile, valid for the v2.3.0 CRD, followed to its end."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from components.common.config import load_settings
from components.training.trainjob import LAUNCH, TrainJobFailed, render_trainjob, run_trainjob, trainjob_name
from tests.support.crd_schema import validate_custom
from tests.support.trainjob_standin import TrainJobApi, status

IMAGE = "ghcr.io/rankops/rankops-gpu:0.1.0@sha256:" + "b" * 64


@pytest.fixture
def prod(tmp_path):
    return load_settings("prod", environ={"RANKOPS_HOME": "/mnt/lakehouse/home", "RANKOPS_TRAINJOB__WORKERS": "3",
                                          "RANKOPS_TRAINJOB__ENABLED": "true"})


def test_the_trainjob_is_rendered_from_the_profile(prod):
    body = render_trainjob(prod, name="rankops-train-abc", image=IMAGE, training_set="features/training_set_ranker_v1@1")
    mlflow_env = [{"name": k, "valueFrom": {"secretKeyRef": {"name": "rankops-mlflow-client", "key": k, "optional": True}}}
                  for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")]
    resources = {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"}
    assert body == {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": {"name": "rankops-train-abc", "namespace": "rankops-prod",
                     "labels": {"app.kubernetes.io/part-of": "rankops", "rankops.io/env": "prod"}},
        "spec": {
            "runtimeRef": {"apiGroup": "trainer.kubeflow.org", "kind": "TrainingRuntime", "name": "rankops-torch-ddp"},
            "activeDeadlineSeconds": 86400,
            "trainer": {
                "image": IMAGE,
                "numNodes": 3,
                "numProcPerNode": 1,
                "command": ["bash", "-c", LAUNCH, "rankops-train"],
                "args": ["--training-set", "features/training_set_ranker_v1@1"],
                "env": [{"name": "RANKOPS_ENV", "value": "prod"},
                        {"name": "RANKOPS_HOME", "value": "/mnt/lakehouse/home"},
                        {"name": "RESTART_ATTEMPT", "valueFrom": {"fieldRef": {
                            "fieldPath": "metadata.labels['jobset.sigs.k8s.io/restart-attempt']"}}},
                        *mlflow_env],
                "resourcesPerNode": {"requests": resources, "limits": resources},
            },
            "runtimePatches": [{"manager": "rankops.io/training-step", "trainingRuntimeSpec": {"template": {"spec": {
                "replicatedJobs": [{"name": "node", "template": {"spec": {"template": {"spec": {
                    "nodeSelector": {"nvidia.com/gpu.present": "true"},
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                    "volumes": [{"name": "shared", "persistentVolumeClaim": {"claimName": "rankops-lakehouse"}},
                                {"name": "models", "persistentVolumeClaim": {"claimName": "rankops-models",
                                                                             "readOnly": True}}],
                    "containers": [{"name": "node",
                                    "volumeMounts": [{"name": "shared", "mountPath": "/mnt/lakehouse"},
                                                     {"name": "models", "mountPath": "/mnt/models",
                                                      "readOnly": True}]}],
                }}}}}]}}}}],
        },
    }
    assert validate_custom(body) == []


def test_the_crd_schema_rejects_what_the_api_server_rejects(prod):
    body = render_trainjob(prod, name="rankops-train-abc", image=IMAGE)
    body["spec"]["trainer"]["numNodes"] = "3"
    body["spec"]["trainer"]["gpus"] = 1
    assert validate_custom(body) == ["spec.trainer: Additional properties are not allowed ('gpus' was unexpected)",
                                     "spec.trainer.numNodes: '3' is not of type 'integer'"]


def test_a_finished_job_is_followed_to_its_end_with_its_logs(prod):
    api = TrainJobApi(statuses=[{}, status(("Created", "JobSetCreated", "")),
                                status(("Created", "JobSetCreated", ""), ("Complete", "JobSetCompleted", "done"))],
                      pod_logs={"rankops-train-abc-node-0-0-x": "step 1\nstep 2\ntrained run r1",
                                "rankops-train-abc-node-0-1-y": "worker 1 done"})
    said, slept = [], []
    job = run_trainjob(render_trainjob(prod, name="rankops-train-abc", image=IMAGE), custom=api, core=api,
                       poll_interval_s=7, say=said.append, sleep=slept.append, log_lines=2)
    assert job["status"]["conditions"][-1]["type"] == "Complete"
    assert said == ["created TrainJob rankops-prod/rankops-train-abc",
                    "TrainJob rankops-train-abc: no conditions yet",
                    "TrainJob rankops-train-abc: Created=True (JobSetCreated)",
                    "TrainJob rankops-train-abc: Created=True (JobSetCreated), Complete=True (JobSetCompleted)",
                    "--- rankops-train-abc-node-0-0-x (last 2 lines)\nstep 2\ntrained run r1\n"
                    "--- rankops-train-abc-node-0-1-y (last 2 lines)\nworker 1 done"]
    assert slept == [7, 7]


def test_a_failed_job_fails_the_step_with_its_reason_and_logs(prod):
    api = TrainJobApi(statuses=[status(("Failed", "FailedJobs", "jobset failed: restarts exhausted (3)"))],
                      pod_logs={"rankops-train-abc-node-0-0-x": "RuntimeError: CUDA out of memory"})
    with pytest.raises(TrainJobFailed) as info:
        run_trainjob(render_trainjob(prod, name="rankops-train-abc", image=IMAGE), custom=api, core=api,
                     poll_interval_s=1, say=lambda _: None, sleep=lambda _: None)
    assert str(info.value) == ("TrainJob rankops-prod/rankops-train-abc failed: FailedJobs: jobset failed: restarts "
                               "exhausted (3)\n--- rankops-train-abc-node-0-0-x (last 50 lines)\n"
                               "RuntimeError: CUDA out of memory")


def test_a_retried_step_follows_the_job_it_created(prod):
    body = render_trainjob(prod, name=trainjob_name("run-1/train-op"), image=IMAGE)
    api = TrainJobApi(statuses=[status(("Complete", "JobSetCompleted", ""))])
    api.create_namespaced_custom_object("trainer.kubeflow.org", "v1alpha1", "rankops-prod", "trainjobs", body)
    said = []
    run_trainjob(body, custom=api, core=api, poll_interval_s=1, say=said.append, sleep=lambda _: None)
    assert said[0] == f"TrainJob rankops-prod/{body['metadata']['name']} exists (a retried step): following it"
    assert api.calls == ["create trainjobs", "create trainjobs", f"get {body['metadata']['name']}"]
    assert trainjob_name("run-1/train-op") == trainjob_name("run-1/train-op") != trainjob_name("run-2/train-op")


def test_an_invalid_job_is_refused_at_creation(prod):
    body = render_trainjob(prod, name="rankops-train-abc", image=IMAGE)
    body["spec"]["trainer"]["numNodes"] = -1.5
    with pytest.raises(TrainJobFailed, match=r"cannot create TrainJob rankops-prod/rankops-train-abc: 422 Invalid: "
                                             r".*spec.trainer.numNodes: -1.5 is not of type 'integer'"):
        run_trainjob(body, custom=TrainJobApi(), core=TrainJobApi(), poll_interval_s=1, sleep=lambda _: None)


@pytest.mark.parametrize(("attempt", "expected"), [("0", "train --training-set t@1"),
                                                   ("2", "train --resume --training-set t@1"),
                                                   (None, "train --training-set t@1")])
def test_a_restarted_job_resumes_from_the_checkpoint(tmp_path, attempt, expected):
    """The worker command under a stand-in torchrun that prints what it would launch."""
    for tool, body in (("torchrun", 'shift; echo "$*"'), ("rankops", "exit 1")):
        path = tmp_path / tool
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", **({"RESTART_ATTEMPT": attempt} if attempt else {})}
    out = subprocess.run(["bash", "-c", LAUNCH, "rankops-train", "--training-set", "t@1"], env=env,
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def test_the_training_step_runs_the_trainjob_and_returns_rank_zero_s_summary(tmp_path):
    """Cluster mode of the step: the job gets --summary/--params on the shared claim; its summary comes back."""
    import json

    from components.training.trainjob import summary_path, train_with_trainjob

    settings = load_settings("prod", environ={"RANKOPS_HOME": str(tmp_path), "RANKOPS_TRAINJOB__ENABLED": "true",
                                              "RANKOPS_KFP__GPU_IMAGE": IMAGE})
    expected_name = trainjob_name(json.dumps(["prod", "t@1", {"epochs": 1}], sort_keys=True))
    rank0 = {"run_id": "r1", "model_uri": "runs:/r1/model", "metrics": {"ndcg@10": 0.5}, "tracking_uri": "http://m",
             "training_set": "t@1", "steps": 9}

    class FinishingApi(TrainJobApi):
        def get_namespaced_custom_object(self, *args):
            job = super().get_namespaced_custom_object(*args)
            with open(summary_path(settings, job["metadata"]["name"]), "w") as fh:  # what rank 0 writes
                json.dump(rank0, fh)
            return job

    api = FinishingApi(statuses=[status(("Complete", "JobSetCompleted", ""))])
    out = train_with_trainjob(settings, training_set="t@1", params={"epochs": 1}, say=lambda _: None,
                              custom=api, core=api)
    assert out == rank0
    job = api.jobs[("rankops-prod", expected_name)]
    workdir = tmp_path / "trainjobs" / expected_name
    assert job["spec"]["trainer"]["image"] == IMAGE
    assert job["spec"]["trainer"]["args"] == ["--training-set", "t@1", "--summary", str(workdir / "summary.json"),
                                              "--params", str(workdir / "params.json")]
    assert json.loads((workdir / "params.json").read_text()) == {"epochs": 1}


def test_a_job_that_completes_without_a_summary_fails_the_step(tmp_path):
    from components.training.trainjob import train_with_trainjob

    settings = load_settings("prod", environ={"RANKOPS_HOME": str(tmp_path)})
    api = TrainJobApi(statuses=[status(("Complete", "JobSetCompleted", ""))])
    with pytest.raises(TrainJobFailed, match=r"completed but rank 0 left no readable summary at .*/summary.json"):
        train_with_trainjob(settings, training_set="t@1", params=None, say=lambda _: None, custom=api, core=api)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_cluster_profile_renders_a_valid_trainjob(env, tmp_path):
    settings = load_settings(env, environ={"RANKOPS_HOME": str(tmp_path)})
    body = render_trainjob(settings, name=trainjob_name(env), image=IMAGE, training_set="t@1")
    assert validate_custom(body) == []
    assert (body["metadata"]["namespace"], body["spec"]["trainer"]["numNodes"]) == (f"rankops-{env}", 2)
