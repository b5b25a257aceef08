"""The overlays render, validate against the Kubernetes schema and keep the pod security rules."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest

from tests.support.crd_schema import known, validate_custom
from tests.support.pod_security import restricted_violations

ENVS = ("dev", "staging", "prod")
DIGEST_RE = r"sha256:[0-9a-f]{64}"
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
    common = {"ConfigMap", "CronJob", "Deployment", "HorizontalPodAutoscaler", "Job", "LimitRange", "Namespace",
              "NetworkPolicy", "PersistentVolumeClaim", "PodDefault", "PodDisruptionBudget", "ResourceQuota", "Role",
              "RoleBinding", "Service", "ServiceAccount", "TrainingRuntime"}
    # dev runs its own PostgreSQL; staging and prod use a managed one and seed the pretrained checkpoint
    assert kinds == sorted(common | ({"StatefulSet"} if env == "dev" else set()))
    jobs = sorted(d["metadata"]["name"] for d in docs if d["kind"] == "Job")
    assert jobs == (["register-pipelines"] if env == "dev" else ["register-pipelines", "seed-checkpoint"])


@pytest.mark.parametrize("env", ENVS)
def test_every_object_validates_against_the_kubernetes_schema(rendered, env):
    errors = []
    for doc in rendered[env]:
        if known(doc):  # custom resources: their CRD schema (tests/support/crds)
            errors += [f"{doc['kind']}/{doc['metadata']['name']}: {e}" for e in validate_custom(doc)]
            continue
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert errors == []


@pytest.mark.parametrize("env", ENVS)
def test_every_pod_is_admissible_under_pod_security_restricted(rendered, env, k8s):
    namespace = k8s.find(rendered[env], "Namespace", f"rankops-{env}")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    problems = {where: restricted_violations(pod) for where, pod in k8s.pod_specs(rendered[env])}
    assert {where: p for where, p in problems.items() if p} == {}


def test_the_restricted_check_rejects_what_admission_rejects(rendered, k8s):
    """Guards the test above: each control it checks fails a pod that breaks it."""
    import copy

    _, pod = next(p for p in k8s.pod_specs(rendered["prod"]) if p[0] == "Deployment/ranker")
    assert restricted_violations(pod) == []
    cases = {
        "running as non-root: container ranker": lambda p: (p["securityContext"].pop("runAsNonRoot"),
                                                            p["containers"][0]["securityContext"].pop("runAsNonRoot")),
        "privilege escalation: container ranker": lambda p: p["containers"][0]["securityContext"].pop(
            "allowPrivilegeEscalation"),
        "capabilities: container ranker must drop ALL": lambda p: p["containers"][0]["securityContext"].update(
            capabilities={"drop": ["NET_RAW"]}),
        "seccomp: container ranker": lambda p: p["securityContext"].pop("seccompProfile"),
        "volume types: volume tmp is ['hostPath']": lambda p: p["volumes"][0].update(hostPath={"path": "/"}),
        "running as non-root user: container ranker runAsUser 0": lambda p: p["containers"][0][
            "securityContext"].update(runAsUser=0),
    }
    for expected, breaks in cases.items():
        broken = copy.deepcopy(pod)
        breaks(broken)
        assert any(v.startswith(expected) for v in restricted_violations(broken)), expected


def test_custom_resource_validation_catches_a_typo(k8s):
    docs = k8s.render(k8s.manifests / "argocd")
    project = next(d for d in docs if d["kind"] == "AppProject")
    assert validate_custom(project) == []
    project["spec"]["syncWindows"][0]["manualsync"] = True
    assert validate_custom(project) == [
        "spec.syncWindows.0: Additional properties are not allowed ('manualsync' was unexpected)"]


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
    # mlflow, redis, feature server, ranker, register job, monitoring cron; + postgres (dev) / seed job;
    # + the promotion-sync cron (prod)
    assert len(specs) == (8 if env == "prod" else 7)
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
            if not re.fullmatch(r"[^@]+@" + DIGEST_RE, image):
                problems.append(f"{name}: image {image} must be pinned by digest")
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            if mounts.get("/tmp") not in tmp_volumes:
                problems.append(f"{name}: /tmp must be an emptyDir (read-only root)")
    assert problems == []


@pytest.mark.parametrize("env", ENVS)
def test_images_pinned_by_the_overlay_digest_and_submissions_follow_them(rendered, env, k8s):
    overlay = (k8s.manifests / "overlays" / env / "kustomization.yaml").read_text()
    entry = re.search(r"name: ghcr.io/rankops/rankops\n\s+newTag: \"([^\"]+)\"\n\s+digest: (" + DIGEST_RE + ")",
                      overlay)
    ref = f"{OUR_IMAGE}:{entry.group(1)}@{entry.group(2)}"
    images = {c["image"] for _, pod in k8s.pod_specs(rendered[env]) for c in pod["containers"]}
    public = {"redis:7.4.2@sha256:fbdbaea47b9ae4ecc2082ecdb4e1cea81e32176ffb1dcf643d422ad07427e5d9"}
    if env == "dev":
        public.add("postgres:17.5-bookworm@sha256:fbcea1bd13b6a882cd6caa6b58db3ae5c102efe50ec625b3e2a5cbc50db5bfe4")
    assert images == {ref} | public
    # pipeline submissions from this environment (register Job, monitoring CronJob) run the same build
    runtime = k8s.find(rendered[env], "ConfigMap", "rankops-runtime-")["data"]
    assert runtime["RANKOPS_KFP__IMAGE"] == ref
    assert re.fullmatch(r"ghcr\.io/rankops/rankops-gpu:" + re.escape(entry.group(1)) + "@" + DIGEST_RE,
                        runtime["RANKOPS_KFP__GPU_IMAGE"])
    for kind, name in (("Job", "register-pipelines"), ("CronJob", "monitoring")):
        pod = dict(k8s.pod_specs([k8s.find(rendered[env], kind, name)]))[f"{kind}/{name}"]
        refs = [e["configMapRef"]["name"] for e in pod["containers"][0]["envFrom"]]
        assert refs == [k8s.find(rendered[env], "ConfigMap", "rankops-runtime-")["metadata"]["name"]]


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
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ranker"}
    # the HPA alone owns the count: no `replicas` for Argo CD's selfHeal to reset
    assert "replicas" not in k8s.find(docs, "Deployment", "ranker")["spec"]
    # one ranker at a time may be evicted, even at dev's minimum of one (test_manifests_capacity.py)
    assert k8s.find(docs, "PodDisruptionBudget", "ranker")["spec"]["maxUnavailable"] == 1
    assert k8s.find(docs, "ResourceQuota", "rankops-quota")["spec"]["hard"]["requests.nvidia.com/gpu"] == gpus


def test_network_is_default_deny_with_explicit_allows(rendered, k8s):
    docs = rendered["prod"]
    deny = k8s.find(docs, "NetworkPolicy", "default-deny-all")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    redis = k8s.find(docs, "NetworkPolicy", "redis")
    allowed = [p["podSelector"]["matchLabels"] for p in redis["spec"]["ingress"][0]["from"]]
    # + any pod labelled as a client (a project's server, tests/unit/manifests/test_manifests_projects.py)
    assert allowed == [{"rankops.io/role": "pipeline"}, {"app.kubernetes.io/name": "feast-feature-server"},
                       {"app.kubernetes.io/name": "ranker"}, {"rankops.io/redis-client": "true"}]
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
    # multi-user KFP authorises recurring runs against the resource "jobs" (backend/src/apiserver/common/const.go
    # RbacResourceTypeJobs), whatever the v2 API calls them; "recurringruns" would grant nothing
    assert role["rules"] == [{"apiGroups": ["pipelines.kubeflow.org"],
                              "resources": ["pipelines", "pipelines/versions", "experiments", "runs", "jobs"],
                              "verbs": ["get", "list", "create"]}]
