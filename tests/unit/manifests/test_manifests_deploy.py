"""What a real cluster needs beyond rendering: the database and its egress, the ranker's registry
access, the checkpoint volume, the KFP/Argo settings, Argo CD's sync window."""

from __future__ import annotations

import shutil

import pytest
import yaml

from components.common.config import load_settings
from tests.support.crd_schema import validate_custom
from tests.support.kfp_pods import argo_executor_security_context
from tests.support.pod_security import restricted_violations

ENVS = ("dev", "staging", "prod")


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def named(docs: list[dict], kind: str, name: str) -> dict:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def pod_labels(doc: dict) -> dict:
    template = doc["spec"]["jobTemplate"]["spec"]["template"] if doc["kind"] == "CronJob" else doc["spec"]["template"]
    return template["metadata"]["labels"]


@pytest.mark.parametrize("env", ENVS)
def test_database_endpoint_and_egress_agree(rendered, env, k8s):
    docs = rendered[env]
    db = k8s.find(docs, "ConfigMap", "rankops-database")
    assert db["metadata"]["name"] == "rankops-database"  # unhashed: pipeline steps name it
    egress = k8s.find(docs, "NetworkPolicy", "postgres-clients")["spec"]["egress"]
    assert egress[0]["ports"] == [{"protocol": "TCP", "port": int(db["data"]["POSTGRES_PORT"])}]
    if env == "dev":  # the in-cluster StatefulSet behind Service `postgres`
        assert db["data"] == {"POSTGRES_HOST": "postgres.rankops-dev.svc.cluster.local", "POSTGRES_PORT": "5432"}
        assert egress[0]["to"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}}}]
        service = k8s.find(docs, "Service", "postgres")
        statefulset = k8s.find(docs, "StatefulSet", "postgres")
        assert selects({"matchLabels": service["spec"]["selector"]}, pod_labels(statefulset))
        assert service["spec"]["ports"][0]["port"] == 5432
        ingress = named(docs, "NetworkPolicy", "postgres")["spec"]["ingress"][0]["from"]
        assert ingress == [{"podSelector": {"matchLabels": {"rankops.io/postgres-client": "true"}}}]
    else:  # a managed database: egress to exactly the block database.env names
        env_file = dict(line.split("=", 1) for line in
                        (k8s.manifests / "overlays" / env / "database.env").read_text().splitlines())
        assert db["data"] == env_file
        assert egress[0]["to"] == [{"ipBlock": {"cidr": env_file["POSTGRES_CIDR"]}}]
        assert [d for d in docs if d["kind"] == "StatefulSet"] == []


@pytest.mark.parametrize("env", ENVS)
def test_every_database_client_reaches_postgres_and_nothing_else_does(rendered, env, k8s):
    docs = rendered[env]
    selector = k8s.find(docs, "NetworkPolicy", "postgres-clients")["spec"]["podSelector"]
    clients = sorted(d["metadata"]["name"] for d in docs if d["kind"] in ("Deployment", "CronJob", "Job")
                     and selects(selector, pod_labels(d)))
    assert clients == ["feast-feature-server", "mlflow", "ranker"]
    # no other policy opens 5432
    others = [p["metadata"]["name"] for p in docs if p["kind"] == "NetworkPolicy"
              and p["metadata"]["name"] not in ("postgres-clients", "postgres")
              and any(port.get("port") == 5432 for rule in p["spec"].get("egress", []) for port in rule.get("ports", []))]
    assert others == []


@pytest.mark.parametrize("env", ENVS)
def test_ranker_gets_the_feast_registry_credentials_endpoint_and_egress(rendered, env, k8s, monkeypatch):
    docs = rendered[env]
    ranker = k8s.find(docs, "Deployment", "ranker")
    container = ranker["spec"]["template"]["spec"]["containers"][0]
    env_from = [next(iter(e.values()))["name"] for e in container["envFrom"]]
    assert {"rankops-postgres", "rankops-database", "rankops-redis"} <= set(env_from)
    assert selects(k8s.find(docs, "NetworkPolicy", "postgres-clients")["spec"]["podSelector"], pod_labels(ranker))
    # with exactly those variables, the profile's registry URL names the database of this environment
    db = k8s.find(docs, "ConfigMap", "rankops-database")["data"]
    for key in ("POSTGRES_HOST", "POSTGRES_PORT"):
        monkeypatch.setenv(key, db[key])
    monkeypatch.setenv("POSTGRES_USER", "u")
    monkeypatch.setenv("POSTGRES_PASSWORD", "p")
    registry = load_settings(env, environ={}).features.registry_path
    assert registry == f"postgresql+psycopg://u:p@{db['POSTGRES_HOST']}:{db['POSTGRES_PORT']}/feast"


@pytest.mark.parametrize("env", ENVS)
def test_checkpoint_volume_and_where_it_comes_from(rendered, env, k8s):
    docs = rendered[env]
    pvc = k8s.find(docs, "PersistentVolumeClaim", "rankops-models")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    checkpoint = load_settings(env, environ={}).training.checkpoint
    if env == "dev":
        assert checkpoint is None  # trains from scratch
        return
    assert checkpoint == "/mnt/models/small-e-czech"
    job = k8s.find(docs, "Job", "seed-checkpoint")
    pod = job["spec"]["template"]["spec"]
    seed = pod["containers"][0]
    values = {e["name"]: e["value"] for e in seed["env"]}
    mounts = {m["mountPath"]: m["name"] for m in seed["volumeMounts"]}
    claim = next(v for v in pod["volumes"] if v["name"] == mounts[values["MODELS_DIR"]])
    assert claim["persistentVolumeClaim"] == {"claimName": "rankops-models"}
    assert f"{values['MODELS_DIR']}/{values['CHECKPOINT_NAME']}" == checkpoint
    assert values["CHECKPOINT_URI"] == "mlflow-artifacts:/checkpoints/small-e-czech"
    # it may reach MLflow's artifact proxy, and MLflow lets it in
    egress = k8s.find(docs, "NetworkPolicy", "seed-checkpoint")["spec"]["egress"]
    assert egress == [{"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "mlflow"}}}],
                       "ports": [{"protocol": "TCP", "port": 5000}]}]
    mlflow_from = k8s.find(docs, "NetworkPolicy", "mlflow")["spec"]["ingress"][0]["from"]
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "seed-checkpoint"}}} in mlflow_from


def test_prod_sync_window_binds_manual_syncs_too(k8s):
    docs = k8s.render(k8s.manifests / "argocd")
    project = next(d for d in docs if d["kind"] == "AppProject")
    assert validate_custom(project) == []
    assert project["spec"]["syncWindows"] == [{
        "kind": "allow", "schedule": "0 8 * * 1-5", "duration": "9h", "timeZone": "Europe/Berlin",
        "applications": ["rankops-prod"], "manualSync": False}]
    apps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Application"}
    for app in apps.values():
        assert validate_custom(app) == []
        assert "ignoreDifferences" not in app["spec"]  # nothing to ignore: the Deployment has no replicas


KFP_UPSTREAM = {  # the two ConfigMaps as KFP 2.17.0's manifests ship them (the keys the component patches)
    "workflow-controller-configmap.yaml": {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "workflow-controller-configmap"},
        "data": {"executor": "imagePullPolicy: IfNotPresent\n", "workflowDefaults": "spec: {}\n"}},
    "pipeline-install-config.yaml": {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "pipeline-install-config"},
        "data": {"ARTIFACTS_PROXY_ENABLED": "true", "defaultSecurityContextRunAsNonRoot": ""}},
}


@pytest.fixture(scope="module")
def kfp_install(tmp_path_factory, k8s) -> dict[str, dict]:
    """A stand-in KFP install (namespace kubeflow) with the rankops component applied, rendered."""
    root = tmp_path_factory.mktemp("kfp-install")
    shutil.copytree(k8s.manifests / "kfp", root / "rankops-kfp")
    for name, doc in KFP_UPSTREAM.items():
        (root / name).write_text(yaml.safe_dump(doc))
    (root / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": "kubeflow",
        "resources": sorted(KFP_UPSTREAM), "components": ["rankops-kfp"]}))
    return {d["metadata"]["name"]: d for d in k8s.render(root)}


def test_kfp_component_runs_argo_executor_restricted_and_keeps_the_artifact_proxy_off(kfp_install):
    import kubernetes_validate

    for doc in kfp_install.values():
        kubernetes_validate.validate(doc, "1.32.0", strict=True)
        assert doc["metadata"]["namespace"] == "kubeflow"
    executor = argo_executor_security_context(kfp_install["workflow-controller-configmap"])
    assert executor == {"runAsNonRoot": True, "runAsUser": 65532, "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
    pod = {"containers": [{"name": "wait", "image": "argoexec", "securityContext": executor}]}
    assert restricted_violations(pod) == []
    # keys the component does not own stay as the install has them
    assert kfp_install["workflow-controller-configmap"]["data"]["workflowDefaults"] == "spec: {}\n"
    assert kfp_install["pipeline-install-config"]["data"] == {"ARTIFACTS_PROXY_ENABLED": "false",
                                                              "defaultSecurityContextRunAsNonRoot": ""}
