"""The overlays render, validate against the Kubernetes schema and keep the pod security rules."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest

ENVS = ("dev", "staging", "prod")
K8S_VERSION = "1.32.0"
OUR_IMAGE = "ghcr.io/rankops/rankops"
CLUSTER_SCOPED = {"Namespace"}


@pytest.mark.parametrize("env", ENVS)
def test_overlay_lands_in_its_own_namespace(rendered, env):
    docs = rendered[env]
    namespaces = [d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"]
    assert namespaces == [f"rankops-{env}"]
    stray = [f"{d['kind']}/{d['metadata']['name']}" for d in docs
             if d["kind"] not in CLUSTER_SCOPED and d["metadata"].get("namespace") != f"rankops-{env}"]
    assert stray == []
    kinds = sorted({d["kind"] for d in docs})
    assert kinds == ["ConfigMap", "CronJob", "Deployment", "HorizontalPodAutoscaler", "Job", "LimitRange",
                     "Namespace", "NetworkPolicy", "PersistentVolumeClaim", "PodDisruptionBudget",
                     "ResourceQuota", "Role", "RoleBinding", "Service", "ServiceAccount"]


@pytest.mark.parametrize("env", ENVS)
def test_every_object_validates_against_the_kubernetes_schema(rendered, env):
    errors = []
    for doc in rendered[env]:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert errors == []


def test_schema_validation_catches_a_typo(rendered, k8s):
    """Guards the test above: a misspelt field must fail strict validation."""
    deployment = k8s.find(rendered["dev"], "Deployment", "ranker")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


@pytest.mark.parametrize("env", ENVS)
def test_every_pod_is_locked_down(rendered, env, k8s):
    problems = []
    specs = k8s.pod_specs(rendered[env])
    assert len(specs) == 6  # mlflow, redis, feature server, ranker, register job, monitoring cron
    for where, pod in specs:
        psc = pod.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True or psc.get("runAsUser", 0) < 10000:
            problems.append(f"{where}: pod must run as a non-root uid >= 10000")
        if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: seccompProfile RuntimeDefault")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: automountServiceAccountToken must be false")
        tmp_volumes = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for c in pod.get("initContainers", []) + pod["containers"]:
            name = f"{where}/{c['name']}"
            sc = c.get("securityContext", {})
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{name}: readOnlyRootFilesystem")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{name}: allowPrivilegeEscalation must be false")
            if sc.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{name}: capabilities must drop ALL")
            if sc.get("privileged"):
                problems.append(f"{name}: privileged")
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(res.get(part, {})):
                    problems.append(f"{name}: {part} for cpu and memory")
            image = c["image"]
            if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
                problems.append(f"{name}: image {image} must be pinned by tag, never latest")
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            if mounts.get("/tmp") not in tmp_volumes:
                problems.append(f"{name}: /tmp must be an emptyDir (read-only root)")
    assert problems == []


@pytest.mark.parametrize("env", ENVS)
def test_images_pinned_to_the_overlay_tag(rendered, env, k8s):
    overlay = (k8s.manifests / "overlays" / env / "kustomization.yaml").read_text()
    tag = re.search(r"name: ghcr.io/rankops/rankops\n\s+newTag: \"([^\"]+)\"", overlay).group(1)
    images = {c["image"] for _, pod in k8s.pod_specs(rendered[env]) for c in pod["containers"]}
    assert images == {f"{OUR_IMAGE}:{tag}", "redis:7.4.2"}


@pytest.mark.parametrize("env", ENVS)
def test_ranker_reads_the_pinned_model(rendered, env, k8s):
    docs = rendered[env]
    pin = (k8s.manifests / "overlays" / env / "model.env").read_text()
    assert re.fullmatch(r"MODEL_NAME=rankops-ranker\nMODEL_VERSION=\d+\n", pin), pin
    version = pin.split("MODEL_VERSION=")[1].strip()
    cm = k8s.find(docs, "ConfigMap", "ranker-model-")
    assert cm["data"] == {"MODEL_NAME": "rankops-ranker", "MODEL_VERSION": version}
    ranker = k8s.find(docs, "Deployment", "ranker")
    container = ranker["spec"]["template"]["spec"]["containers"][0]
    refs = [e["configMapRef"]["name"] for e in container["envFrom"] if "configMapRef" in e]
    assert cm["metadata"]["name"] in refs  # hashed name: a new pin rolls the pods
    assert container["command"] == ["rankops", "serve"]
    assert container["args"] == ["--host", "0.0.0.0", "--port", "8080", "--model-name", "$(MODEL_NAME)",
                                 "--model-version", "$(MODEL_VERSION)"]
    assert container["ports"] == [{"name": "http", "containerPort": 8080}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    runtime = k8s.find(docs, "ConfigMap", "rankops-runtime-")
    assert runtime["data"]["RANKOPS_ENV"] == env


def test_a_new_model_pin_changes_the_rendered_ranker(tmp_path, k8s):
    """Rewriting model.env (what promotion does) is all it takes to roll out another version."""
    import shutil

    shutil.copytree(k8s.manifests, tmp_path / "manifests")
    (tmp_path / "manifests/overlays/prod/model.env").write_text("MODEL_NAME=rankops-ranker\nMODEL_VERSION=42\n")
    docs = k8s.render(tmp_path / "manifests/overlays/prod")
    assert k8s.find(docs, "ConfigMap", "ranker-model-")["data"]["MODEL_VERSION"] == "42"


@pytest.mark.parametrize(("env", "hpa_min", "hpa_max", "gpus"), [("dev", 1, 2, "1"), ("staging", 2, 4, "1"),
                                                                 ("prod", 3, 10, "2")])
def test_environment_sizing(rendered, env, hpa_min, hpa_max, gpus, k8s):
    docs = rendered[env]
    hpa = k8s.find(docs, "HorizontalPodAutoscaler", "ranker")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (hpa_min, hpa_max)
    assert k8s.find(docs, "PodDisruptionBudget", "ranker")["spec"]["minAvailable"] == 1
    assert k8s.find(docs, "ResourceQuota", "rankops-quota")["spec"]["hard"]["requests.nvidia.com/gpu"] == gpus


def test_network_is_default_deny_with_explicit_allows(rendered, k8s):
    docs = rendered["prod"]
    deny = k8s.find(docs, "NetworkPolicy", "default-deny-all")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    redis = k8s.find(docs, "NetworkPolicy", "redis")
    allowed = [p["podSelector"]["matchLabels"] for p in redis["spec"]["ingress"][0]["from"]]
    assert allowed == [{"rankops.io/role": "pipeline"}, {"app.kubernetes.io/name": "feast-feature-server"},
                       {"app.kubernetes.io/name": "ranker"}]
    assert redis["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 6379}]


def test_pipeline_runner_role_is_least_privilege(rendered, k8s):
    role = k8s.find(rendered["prod"], "Role", "rankops-pipeline-runner")
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    assert verbs <= {"get", "watch", "patch", "create"}  # no list/delete/escalate/bind, no wildcards
    secret_rules = [r for r in role["rules"] if "secrets" in r["resources"]]
    assert secret_rules == [{"apiGroups": [""], "resources": ["secrets"],
                             "resourceNames": ["mlpipeline-minio-artifact"], "verbs": ["get"]}]
    assert all("*" not in r["resources"] + r["verbs"] + r["apiGroups"] for r in role["rules"])


def test_secrets_are_referenced_never_committed(rendered):
    for env, docs in rendered.items():
        assert [d["metadata"]["name"] for d in docs if d["kind"] == "Secret"] == [], env


def test_argocd_application_per_environment(k8s):
    docs = k8s.render(k8s.manifests / "argocd")
    apps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Application"}
    assert sorted(apps) == ["rankops-dev", "rankops-prod", "rankops-staging"]
    for env in ENVS:
        app = apps[f"rankops-{env}"]
        assert app["apiVersion"] == "argoproj.io/v1alpha1"
        assert app["metadata"]["namespace"] == "argocd"
        assert app["spec"]["project"] == "rankops"
        assert app["spec"]["source"]["path"] == f"manifests/overlays/{env}"
        assert (k8s.manifests / "overlays" / env / "kustomization.yaml").is_file()
        assert app["spec"]["destination"]["namespace"] == f"rankops-{env}"
    assert apps["rankops-dev"]["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert "automated" not in apps["rankops-prod"]["spec"]["syncPolicy"]  # prod syncs by hand
    project = next(d for d in docs if d["kind"] == "AppProject")
    assert {d["namespace"] for d in project["spec"]["destinations"]} == {f"rankops-{e}" for e in ENVS}


def test_only_kfp_clients_may_start_runs(rendered, k8s):
    binding = k8s.find(rendered["dev"], "RoleBinding", "rankops-kfp-client")
    assert [s["name"] for s in binding["subjects"]] == ["rankops-kfp-client", "rankops-pipeline-runner"]
    role = k8s.find(rendered["dev"], "Role", "rankops-kfp-client")
    assert role["rules"] == [{"apiGroups": ["pipelines.kubeflow.org"],
                              "resources": ["pipelines", "pipelines/versions", "experiments", "runs", "recurringruns"],
                              "verbs": ["get", "list", "create"]}]
