"""The pods a run of each committed spec creates in the cluster: admissible under Pod Security
`restricted`, and wired to what the manifests provide (database, KFP API token, checkpoint volume)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipelines.catalogue import compiled_path, pipeline_names
from pipelines.placement import IMAGE_ENV, MODELS_MOUNT, MODELS_PVC, RUN_AS_UID
from tests.support.kfp_pods import argo_executor_security_context, driver_pod, task_pods
from tests.support.pod_security import restricted_violations

MANIFESTS = Path(__file__).resolve().parents[3] / "manifests"
AVAILABLE = pipeline_names()


def platform_of(name: str) -> dict[str, dict]:
    docs = [d for d in yaml.safe_load_all(compiled_path(name).read_text()) if d]
    return docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def executors_of(name: str) -> dict[str, dict]:
    return next(yaml.safe_load_all(compiled_path(name).read_text()))["deploymentSpec"]["executors"]


@pytest.fixture(scope="module")
def argo_executor() -> dict:
    """The Argo executor securityContext manifests/kfp ships for the KFP install."""
    return argo_executor_security_context(yaml.safe_load((MANIFESTS / "kfp" / "workflow-controller-configmap.yaml")
                                                         .read_text()))


def manifest(path: str, kind: str, name: str) -> dict:
    return next(d for d in yaml.safe_load_all((MANIFESTS / path).read_text())
                if d and d["kind"] == kind and d["metadata"]["name"] == name)


@pytest.mark.parametrize("name", AVAILABLE)
def test_every_step_sets_the_image_uid_as_non_root(name):
    platform = platform_of(name)
    assert set(platform) == set(executors_of(name))
    for label, config in platform.items():
        # protobuf JSON writes int64 as text; the KFP driver reads it back as a number
        assert config["securityContext"] == {"runAsUser": str(RUN_AS_UID), "runAsGroup": str(RUN_AS_UID),
                                             "runAsNonRoot": True}, label


@pytest.mark.parametrize("name", AVAILABLE)
def test_every_pod_of_a_run_is_admissible_under_restricted(name, argo_executor):
    pods = task_pods(compiled_path(name).read_text(), argo_executor)
    assert sorted(pods) == sorted(executors_of(name))
    assert {label: restricted_violations(pod) for label, pod in pods.items()} == {label: [] for label in pods}
    assert restricted_violations(driver_pod(argo_executor)) == []


def test_without_the_step_security_context_kfp_pods_would_be_rejected(argo_executor):
    """Each of the two settings rankops contributes is necessary (guards the test above)."""
    docs = [d for d in yaml.safe_load_all(compiled_path(AVAILABLE[0]).read_text()) if d]
    label = sorted(docs[0]["deploymentSpec"]["executors"])[0]
    docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"][label].pop("securityContext")
    unset = task_pods(yaml.safe_dump_all(docs), argo_executor)[label]  # the spec as it was before
    assert restricted_violations(unset) == [
        "running as non-root: container main needs runAsNonRoot true (pod or container)"]
    root_argo = task_pods(compiled_path(AVAILABLE[0]).read_text(), {})[label]  # Argo executor left as root
    assert restricted_violations(root_argo) == [
        f"{control}: container {c} {rule}" for c in ("init", "wait") for control, rule in (
            ("privilege escalation", "must set allowPrivilegeEscalation false"),
            ("running as non-root", "needs runAsNonRoot true (pod or container)"),
            ("capabilities", "must drop ALL"))]


@pytest.mark.parametrize("name", AVAILABLE)
def test_database_steps_get_the_endpoint_and_the_egress_label(name):
    selector = manifest("base/network-policies.yaml", "NetworkPolicy", "postgres-clients")["spec"]["podSelector"]
    for label, config in platform_of(name).items():
        secrets = {s["secretName"] for s in config.get("secretAsEnv", [])}
        labels = config["podMetadata"]["labels"]
        selected = all(labels.get(k) == v for k, v in selector["matchLabels"].items())
        maps = {m["configMapName"]: {k["configMapKey"]: k["envVar"] for k in m["keyToEnv"]}
                for m in config.get("configMapAsEnv", [])}
        if "rankops-postgres" in secrets:
            assert selected, label
            assert maps == {"rankops-database": {"POSTGRES_HOST": "POSTGRES_HOST", "POSTGRES_PORT": "POSTGRES_PORT"}}
        else:
            assert not selected and maps == {}, label


@pytest.mark.parametrize("name", AVAILABLE)
def test_every_step_knows_the_images_it_runs_on(name):
    for label, executor in executors_of(name).items():
        env = {e["name"]: e["value"] for e in executor["container"].get("env", [])}
        assert {k: env.get(k) for k in IMAGE_ENV} == IMAGE_ENV, label


@pytest.mark.skipif("monitoring" not in AVAILABLE, reason="monitoring pipeline not available")
def test_only_the_monitor_step_gets_the_kfp_api_token():
    selector = manifest("base/kfp-api-token.yaml", "PodDefault", "rankops-kfp-api-token")["spec"]["selector"]
    selected = [label for name in AVAILABLE for label, config in platform_of(name).items()
                if all(config["podMetadata"]["labels"].get(k) == v for k, v in selector["matchLabels"].items())]
    assert selected == ["exec-monitor-op"]


TRAINER_STEPS = [(name, label) for name, labels in (("training", ["exec-train-op"]), ("end_to_end", ["exec-train-op"]),
                                                     ("backtest", ["exec-backtest-origin-op", "exec-backtest-window-op"]))
                 if name in AVAILABLE for label in labels]


@pytest.mark.parametrize(("name", "label"), TRAINER_STEPS)
def test_training_mounts_the_checkpoint_volume(name, label):
    """Every step that runs the trainer (the backtest's first-cutoff model and windows too)."""
    train = platform_of(name)[label]
    assert {"constant": MODELS_PVC, "mountPath": MODELS_MOUNT} in [
        {k: m[k] for k in ("constant", "mountPath")} for m in train["pvcMount"]]
    claim = manifest("base/storage.yaml", "PersistentVolumeClaim", MODELS_PVC)
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


@pytest.mark.parametrize("name", AVAILABLE)
def test_spark_steps_are_drivers_that_know_their_pod_and_read_the_executor_template(name, argo_executor):
    """What spark_conf needs in the cluster (POD_NAME, POD_IP, the template) and the NetworkPolicy label."""
    from pipelines.placement import SPARK_DRIVER_LABEL, SPARK_EXECUTOR_CONFIG_MAP, SPARK_EXECUTOR_MOUNT

    pods = task_pods(compiled_path(name).read_text(), argo_executor)
    drivers = sorted(label for label, p in platform_of(name).items()
                     if p["podMetadata"]["labels"].get(SPARK_DRIVER_LABEL[0]) == SPARK_DRIVER_LABEL[1])
    spark_steps = {"etl": ["exec-etl-op", "exec-etl-op-2"], "batch_inference": ["exec-batch-score-op"],
                   "monitoring": ["exec-batch-score-op"], "end_to_end": ["exec-etl-op"], "training": [], "backtest": []}
    assert drivers == spark_steps[name]
    for label in drivers:
        main = next(c for c in pods[label]["containers"] if c["name"] == "main")
        assert main["env"] == [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                               {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
        assert {"name": SPARK_EXECUTOR_CONFIG_MAP, "mountPath": SPARK_EXECUTOR_MOUNT} in main["volumeMounts"]
        assert {"name": SPARK_EXECUTOR_CONFIG_MAP, "configMap": {"name": SPARK_EXECUTOR_CONFIG_MAP,
                                                                 "optional": False}} in pods[label]["volumes"]
