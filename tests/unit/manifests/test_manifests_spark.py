"""Job-scoped Spark (manifests/components/spark): RBAC, the executor pod template, the network paths."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from components.common.config import load_settings
from pipelines.placement import SPARK_DRIVER_LABEL, SPARK_EXECUTOR_CONFIG_MAP, SPARK_EXECUTOR_MOUNT
from tests.support.network_policy import Endpoint, reachable
from tests.support.pod_security import restricted_violations

ENVS = ("dev", "staging", "prod")
K8S_VERSION = "1.32.0"
DRIVER = {"rankops.io/role": "pipeline", SPARK_DRIVER_LABEL[0]: SPARK_DRIVER_LABEL[1]}
EXECUTOR = {"app.kubernetes.io/name": "spark-executor", "rankops.io/role": "spark-executor"}
OTHER_STEP = {"rankops.io/role": "pipeline"}
API_SERVER = "10.96.0.1"


def executor_template(docs: list[dict], k8s) -> dict:
    config_map = k8s.find(docs, "ConfigMap", SPARK_EXECUTOR_CONFIG_MAP)
    return yaml.safe_load(config_map["data"]["executor-pod-template.yaml"])


@pytest.mark.parametrize("env", ENVS)
def test_every_cluster_overlay_has_the_spark_objects(rendered, env, k8s):
    names = sorted((d["kind"], d["metadata"]["name"]) for d in rendered[env]
                   if "spark" in d["metadata"]["name"])
    assert names == [("ConfigMap", "rankops-spark-executor"), ("NetworkPolicy", "spark-driver"), ("NetworkPolicy", "spark-executors"),
                     ("NetworkPolicy", "spark-executors-to-mlflow"),
                     ("Role", "rankops-spark-driver"), ("RoleBinding", "rankops-spark-driver"),
                     ("ServiceAccount", "rankops-spark-executor")]


def test_the_driver_role_is_limited_to_what_executors_need(rendered, k8s):
    role = k8s.find(rendered["prod"], "Role", "rankops-spark-driver")
    assert role["metadata"]["namespace"] == "rankops-prod"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods", "services", "configmaps", "persistentvolumeclaims"],
                              "verbs": ["get", "list", "watch", "create", "patch", "delete", "deletecollection"]}]
    binding = k8s.find(rendered["prod"], "RoleBinding", "rankops-spark-driver")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "rankops-spark-driver"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "rankops-pipeline-runner", "namespace": "rankops-prod"}]
    executor_sa = k8s.find(rendered["prod"], "ServiceAccount", "rankops-spark-executor")
    assert executor_sa["automountServiceAccountToken"] is False


@pytest.mark.parametrize("env", ENVS)
def test_the_executor_template_is_a_valid_restricted_pod(rendered, env, k8s):
    template = executor_template(rendered[env], k8s)
    kubernetes_validate.validate(template, K8S_VERSION, strict=True)
    assert restricted_violations(template["spec"]) == []


def test_the_executor_template_matches_the_profile_and_locks_the_pod_down(rendered, k8s, tmp_path):
    settings = load_settings("prod", environ={"RANKOPS_HOME": str(tmp_path)})
    spec = executor_template(rendered["prod"], k8s)["spec"]
    [container] = spec["containers"]
    assert container["name"] == settings.spark.kubernetes.container_name
    assert spec["serviceAccountName"] == settings.spark.kubernetes.service_account
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                                       "seccompProfile": {"type": "RuntimeDefault"}}
    assert container["securityContext"] == {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    volumes = {v["name"]: {k: x for k, x in v.items() if k != "name"} for v in spec["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts == {"/var/spark/local": "spark-local-dir-1", "/tmp": "tmp", "/mnt/lakehouse": "lakehouse",
                      SPARK_EXECUTOR_MOUNT: "spark-executor"}
    assert volumes["spark-local-dir-1"] == {"emptyDir": {"sizeLimit": "20Gi"}}
    assert volumes["tmp"] == {"emptyDir": {"sizeLimit": "2Gi"}}
    assert volumes["lakehouse"] == {"persistentVolumeClaim": {"claimName": "rankops-lakehouse"}}
    assert volumes["spark-executor"] == {"configMap": {"name": SPARK_EXECUTOR_CONFIG_MAP}}
    # the driver reads the template where the step mounts the ConfigMap
    assert settings.spark.kubernetes.pod_template == f"{SPARK_EXECUTOR_MOUNT}/executor-pod-template.yaml"
    assert container["command"] == ["bash", f"{SPARK_EXECUTOR_MOUNT}/executor-entrypoint.sh"]


@pytest.mark.parametrize(("source", "destination", "port", "allowed"), [
    (DRIVER, EXECUTOR, 7079, True),          # driver fetches blocks from executors
    (EXECUTOR, DRIVER, 7078, True),          # executors register with the driver's RPC endpoint
    (EXECUTOR, DRIVER, 7079, True),          # and read broadcast blocks from its block manager
    (EXECUTOR, EXECUTOR, 7079, True),        # shuffle fetches between executors
    (EXECUTOR, EXECUTOR, 7078, False),
    (OTHER_STEP, EXECUTOR, 7079, False),     # a step that is no Spark driver
    (EXECUTOR, OTHER_STEP, 7078, False),
    (EXECUTOR, {"app.kubernetes.io/name": "mlflow"}, 5000, True),  # batch scoring loads the model
    (EXECUTOR, {"app.kubernetes.io/name": "redis"}, 6379, False),
])
def test_driver_and_executors_reach_each_other_on_the_fixed_ports_only(rendered, source, destination, port,
                                                                        allowed, tmp_path):
    policies = [d for d in rendered["prod"] if d["kind"] == "NetworkPolicy"]
    ns = "rankops-prod"
    assert reachable(policies, Endpoint(ns, source), Endpoint(ns, destination), port) is allowed
    k8s_settings = load_settings("prod", environ={"RANKOPS_HOME": str(tmp_path)}).spark.kubernetes
    assert (k8s_settings.driver_port, k8s_settings.block_manager_port) == (7078, 7079)


@pytest.mark.parametrize(("source", "port", "allowed"), [
    (DRIVER, 443, True), (DRIVER, 6443, True), (EXECUTOR, 443, False), (EXECUTOR, 6443, False)])
def test_only_the_driver_reaches_the_api_server(rendered, source, port, allowed):
    policies = [d for d in rendered["prod"] if d["kind"] == "NetworkPolicy"]
    assert reachable(policies, Endpoint("rankops-prod", source), Endpoint(ip=API_SERVER), port) is allowed


def test_the_entrypoint_launches_the_executor_backend_with_spark_s_arguments(tmp_path):
    """A stand-in `java` prints its argv: the script must pass exactly what Spark's own image passes."""
    java_home = tmp_path / "jdk"
    (java_home / "bin").mkdir(parents=True)
    java = java_home / "bin" / "java"
    java.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": os.environ["PATH"], "JAVA_HOME": str(java_home), "SPARK_HOME": "/opt/spark",
           "SPARK_JAVA_OPT_10": "-Dspark.b=2", "SPARK_JAVA_OPT_2": "-Dspark.a=1", "SPARK_EXECUTOR_MEMORY": "6g",
           "SPARK_DRIVER_URL": "spark://CoarseGrainedScheduler@10.1.2.3:7078", "SPARK_EXECUTOR_ID": "4",
           "SPARK_EXECUTOR_CORES": "2", "SPARK_APPLICATION_ID": "spark-app-1", "SPARK_EXECUTOR_POD_IP": "10.1.2.9",
           "SPARK_RESOURCE_PROFILE_ID": "0", "SPARK_EXECUTOR_POD_NAME": "rankops-exec-4"}
    script = Path(__file__).resolve().parents[3] / "manifests/components/spark/executor-entrypoint.sh"
    out = subprocess.run(["bash", str(script), "executor"], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "-Dspark.a=1", "-Dspark.b=2", "-Xms6g", "-Xmx6g", "-cp", "/opt/spark/jars/*",
        "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend",
        "--driver-url", "spark://CoarseGrainedScheduler@10.1.2.3:7078", "--executor-id", "4", "--cores", "2",
        "--app-id", "spark-app-1", "--hostname", "10.1.2.9", "--resourceProfileId", "0",
        "--podName", "rankops-exec-4"]
