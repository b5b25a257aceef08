"""Other teams' projects ship manifests too: each overlay renders, validates against the Kubernetes
schema and keeps the same pod security as the platform's (the prod namespace enforces `restricted`); what
it names exists under that name in its namespace, and the network lets its server work."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from tests.support.network_policy import Endpoint, reachable
from tests.support.pod_security import restricted_violations

REPO = Path(__file__).resolve().parents[3]
K8S_VERSION = "1.32.0"
OVERLAYS = sorted(p for p in REPO.glob("projects/*/manifests/overlays/*") if (p / "kustomization.yaml").is_file())


def test_there_are_project_overlays_to_check():
    assert [str(p.relative_to(REPO)) for p in OVERLAYS] == ["projects/clicks/manifests/overlays/prod"]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: str(p.relative_to(REPO / "projects")))
def test_project_overlay_is_valid_and_admissible(overlay, k8s):
    docs = k8s.render(overlay)
    env = overlay.name
    assert {d["metadata"].get("namespace") for d in docs} == {f"rankops-{env}"}
    errors = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert errors == []
    problems = {where: restricted_violations(pod) for where, pod in k8s.pod_specs(docs)}
    assert {where: p for where, p in problems.items() if p} == {}
    images = [c["image"] for _, pod in k8s.pod_specs(docs) for c in pod["containers"]]
    assert images and all("@sha256:" in image for image in images), images  # by digest, as the platform's prod


def references(pod: dict) -> list[tuple[str, str, str | None]]:
    """(ConfigMap|Secret, name, key or None) of every non-optional reference of a pod spec."""
    out = []
    for c in pod.get("initContainers", []) + pod["containers"]:
        for source in c.get("envFrom", []):
            for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                if field in source and not source[field].get("optional"):
                    out.append((kind, source[field]["name"], None))
        for var in c.get("env", []):
            for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                ref = var.get("valueFrom", {}).get(field)
                if ref and not ref.get("optional"):
                    out.append((kind, ref["name"], ref["key"]))
    for volume in pod.get("volumes", []):
        if "configMap" in volume and not volume["configMap"].get("optional"):
            out.append(("ConfigMap", volume["configMap"]["name"], None))
        if "secret" in volume and not volume["secret"].get("optional"):
            out.append(("Secret", volume["secret"]["secretName"], None))
    return out


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: str(p.relative_to(REPO / "projects")))
def test_every_config_map_and_secret_a_project_names_exists_under_that_name(overlay, rendered, k8s):
    """A project is its own kustomization: a name it uses is never rewritten to the platform's hashed one,
    so a ConfigMap it names must be the project's own or one the platform publishes unhashed; a Secret (never
    in git) must be one the platform's own pods reference, i.e. one docs/deployment.md has operators create."""
    env = overlay.name
    project, platform = k8s.render(overlay), rendered[env]
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in project + platform if d["kind"] == "ConfigMap"}
    platform_secrets = {name for _, pod in k8s.pod_specs(platform) for kind, name, _ in references(pod)
                        if kind == "Secret"}
    problems = []
    for where, pod in k8s.pod_specs(project):
        for kind, name, key in references(pod):
            if kind == "ConfigMap" and name not in config_maps:
                problems.append(f"{where}: ConfigMap {name} is not in rankops-{env} under that name")
            elif kind == "ConfigMap" and key is not None and key not in config_maps[name]:
                problems.append(f"{where}: ConfigMap {name} has no key {key}")
            elif kind == "Secret" and name not in platform_secrets:
                problems.append(f"{where}: Secret {name} is none the platform's pods use")
    assert problems == []
    # the server loads the profile of the environment it runs in
    used = {name for _, pod in k8s.pod_specs(project) for kind, name, _ in references(pod) if kind == "ConfigMap"}
    assert {config_maps[name]["RANKOPS_ENV"] for name in used if "RANKOPS_ENV" in config_maps[name]} == {env}


def container_port(deployment: dict, port) -> int:
    """A Service targetPort (number or container port name) as the pod's port number."""
    if isinstance(port, int):
        return port
    [number] = [p["containerPort"] for c in deployment["spec"]["template"]["spec"]["containers"]
                for p in c.get("ports", []) if p.get("name") == port]
    return number


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: str(p.relative_to(REPO / "projects")))
def test_a_project_server_reaches_mlflow_and_redis_and_takes_traffic_on_its_port(overlay, rendered, k8s):
    """NetworkPolicy semantics (tests/support/network_policy.py) over the platform's and the project's policies:
    the server reaches MLflow and Redis on their ports and the ingress controller reaches it on its own; a pod
    without the server's labels (the same name included) gets none of that."""
    env = overlay.name
    ns = f"rankops-{env}"
    project, platform = k8s.render(overlay), rendered[env]
    policies = [d for d in platform + project if d["kind"] == "NetworkPolicy"]
    deployments = [d for d in project if d["kind"] == "Deployment"]
    assert deployments
    targets = {}
    for name in ("mlflow", "redis"):
        service, deployment = k8s.find(platform, "Service", name), k8s.find(platform, "Deployment", name)
        targets[name] = (Endpoint(ns, deployment["spec"]["template"]["metadata"]["labels"]),
                         container_port(deployment, service["spec"]["ports"][0]["targetPort"]))
    ingress_controller = Endpoint("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
    for deployment in deployments:
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        server = Endpoint(ns, labels)
        bare = Endpoint(ns, {"app.kubernetes.io/name": labels["app.kubernetes.io/name"]})
        stranger = Endpoint(ns, {"app.kubernetes.io/name": "something-else"})
        for name, (target, port) in targets.items():
            assert reachable(policies, server, target, port), f"{deployment['metadata']['name']} -> {name}:{port}"
            assert not reachable(policies, bare, target, port), f"unlabelled pod -> {name}:{port}"
        ports = [p["containerPort"] for c in deployment["spec"]["template"]["spec"]["containers"]
                 for p in c.get("ports", [])]
        assert ports
        for port in ports:
            assert reachable(policies, ingress_controller, server, port), f"ingress -> server:{port}"
            assert not reachable(policies, stranger, server, port), f"any pod -> server:{port}"
        services = [s for s in project if s["kind"] == "Service"
                    and s["spec"]["selector"].items() <= labels.items()]
        assert services and all(container_port(deployment, p["targetPort"]) in ports
                                for s in services for p in s["spec"]["ports"])
