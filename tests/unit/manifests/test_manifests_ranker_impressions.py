"""Every ranker replica logs impressions into its own folder of the lakehouse PVC, where the ETL step
collects them: the rendered overlays say so (kubectl kustomize, as Argo CD renders them)."""

from __future__ import annotations

import pytest

import components.common.config as config

ENVS = ("dev", "staging", "prod")


@pytest.mark.parametrize("env", ENVS)
def test_each_replica_writes_its_own_folder_of_the_lakehouse(rendered, env, k8s):
    docs = rendered[env]
    pod = k8s.find(docs, "Deployment", "ranker")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env_vars = {e["name"]: e for e in container["env"]}
    assert env_vars["POD_NAME"] == {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    log_dir = env_vars["RANKOPS_SERVING__IMPRESSION_LOG_DIR"]["value"]
    [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == log_dir]
    assert mount == {"name": "lakehouse", "mountPath": "/var/log/rankops/impressions",
                     "subPathExpr": "home/serving/impressions/$(POD_NAME)"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["lakehouse"] == {"name": "lakehouse", "persistentVolumeClaim": {"claimName": "rankops-lakehouse"}}
    pvc = k8s.find(docs, "PersistentVolumeClaim", "rankops-lakehouse")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]  # replicas on several nodes and the ETL step share it
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert not [v for v in pod["volumes"] if "emptyDir" in v and v["name"] != "tmp"]  # nothing is lost on restart


@pytest.mark.parametrize("env", ENVS)
def test_the_etl_steps_spool_is_the_folder_the_replicas_write(rendered, env, k8s):
    """Pipeline steps run with RANKOPS_HOME from the runtime ConfigMap and the PVC at /mnt/lakehouse: the
    collector's spool (serving.impression_log_dir under home) is the parent of every replica's subPathExpr."""
    runtime = k8s.find(rendered[env], "ConfigMap", "rankops-runtime")["data"]
    home = runtime["RANKOPS_HOME"]
    settings = config.load_settings(env, environ={"RANKOPS_HOME": home})
    spool = settings.resolve(settings.serving.impression_log_dir)
    assert spool == "/mnt/lakehouse/home/serving/impressions"  # PVC root /mnt/lakehouse + the subPathExpr's parent
    assert settings.etl.collect_impressions is True
