"""The TrainingRuntime every TrainJob names (manifests/components/training): restarts, pod security, network."""

from __future__ import annotations

import kubernetes_validate
import pytest

from components.common.config import load_settings
from tests.support.crd_schema import validate_custom
from tests.support.network_policy import Endpoint, reachable
from tests.support.pod_security import restricted_violations

ENVS = ("dev", "staging", "prod")
WORKER = {"rankops.io/role": "pipeline", "rankops.io/trainjob-worker": "true"}


def runtime_of(docs, k8s) -> dict:
    return k8s.find(docs, "TrainingRuntime", "rankops-torch-ddp")


@pytest.mark.parametrize("env", ENVS)
def test_the_runtime_is_valid_and_named_as_the_profile_names_it(rendered, env, k8s, tmp_path):
    runtime = runtime_of(rendered[env], k8s)
    assert validate_custom(runtime) == []
    assert runtime["metadata"]["name"] == load_settings(env, environ={"RANKOPS_HOME": str(tmp_path)}).trainjob.runtime
    assert runtime["metadata"]["namespace"] == f"rankops-{env}"


def test_a_lost_worker_restarts_the_whole_job_a_bounded_number_of_times(rendered, k8s):
    spec = runtime_of(rendered["prod"], k8s)["spec"]
    assert spec["mlPolicy"] == {"numNodes": 1, "torch": {}}
    assert spec["template"]["spec"]["failurePolicy"] == {"maxRestarts": 3, "restartStrategy": "Recreate"}
    [job] = spec["template"]["spec"]["replicatedJobs"]
    assert (job["name"], job["template"]["spec"]["backoffLimit"]) == ("node", 0)
    assert job["template"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize("env", ENVS)
def test_the_worker_pod_is_a_valid_restricted_pod(rendered, env, k8s):
    [job] = runtime_of(rendered[env], k8s)["spec"]["template"]["spec"]["replicatedJobs"]
    template = job["template"]["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "worker", **template["metadata"]},
           "spec": template["spec"]}
    kubernetes_validate.validate(pod, "1.32.0", strict=True)
    assert restricted_violations(pod["spec"]) == []
    assert pod["spec"]["automountServiceAccountToken"] is False
    sa = k8s.find(rendered[env], "ServiceAccount", pod["spec"]["serviceAccountName"])
    assert sa["automountServiceAccountToken"] is False
    assert template["metadata"]["labels"] == WORKER
    assert template["metadata"]["annotations"] == {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}


@pytest.mark.parametrize(("source", "destination", "port", "allowed"), [
    (WORKER, WORKER, 29400, True),   # torchrun rendezvous on the master
    (WORKER, WORKER, 45123, True),   # NCCL / gloo on a port picked at run time
    ({"rankops.io/role": "pipeline"}, WORKER, 29400, False),
    (WORKER, {"app.kubernetes.io/name": "mlflow"}, 5000, True),  # rank 0 tracks the run
])
def test_workers_reach_each_other_and_nothing_else_reaches_them(rendered, source, destination, port, allowed):
    policies = [d for d in rendered["prod"] if d["kind"] == "NetworkPolicy"]
    ns = "rankops-prod"
    assert reachable(policies, Endpoint(ns, source), Endpoint(ns, destination), port) is allowed


def test_the_step_may_create_and_follow_its_trainjob_only(rendered, k8s):
    role = k8s.find(rendered["prod"], "Role", "rankops-trainjob-launcher")
    assert role["rules"] == [{"apiGroups": ["trainer.kubeflow.org"], "resources": ["trainjobs"], "verbs": ["get", "create"]},
                             {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
                             {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}]
    binding = k8s.find(rendered["prod"], "RoleBinding", "rankops-trainjob-launcher")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "rankops-pipeline-runner",
                                    "namespace": "rankops-prod"}]
