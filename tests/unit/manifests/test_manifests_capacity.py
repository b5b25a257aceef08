"""What an environment can scale to fits what it may take: the ResourceQuota holds the ranker at its HPA
maximum, every other workload of the namespace (the projects' servers included) and the largest pipeline
step with its Spark executors; the PodDisruptionBudget lets a node drain evict a ranker at the HPA minimum."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml

from components.common.config import load_settings
from pipelines.placement import SPARK_DRIVER_LABEL

ENVS = ("dev", "staging", "prod")
REPO = Path(__file__).resolve().parents[3]
COMPILED = sorted([*REPO.glob("pipelines/compiled/*.yaml"), *REPO.glob("projects/*/rankops_*/compiled/*.yaml")])
PROJECT_OVERLAYS = sorted(p for p in REPO.glob("projects/*/manifests/overlays/*") if (p / "kustomization.yaml").is_file())
DIMENSIONS = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
SUFFIX = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
SPARK_UNITS = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}  # JVM-style sizes (spark.executor.memory)


def quantity(value) -> float:
    """A Kubernetes quantity ("250m", "2Gi", 4) as a number (cores or bytes)."""
    number, suffix = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(value)).groups()
    return float(number) * SUFFIX.get(suffix, 1.0) if suffix else float(number)


def spark_bytes(size: str) -> float:
    number, unit = re.fullmatch(r"([0-9]+)([kmgt])", size.lower()).groups()
    return int(number) * SPARK_UNITS[unit]


def container_usage(container: dict, limit_range: dict) -> dict[str, float]:
    """What the quota charges for one container, LimitRange defaults filled in as admission does."""
    res = container.get("resources", {})
    out = {}
    for resource in ("cpu", "memory"):
        limit = res.get("limits", {}).get(resource, limit_range.get("default", {}).get(resource))
        request = res.get("requests", {}).get(resource)
        if request is None:  # a limit without a request requests the limit; else the LimitRange default
            request = res.get("limits", {}).get(resource, limit_range.get("defaultRequest", {}).get(resource))
        out[f"requests.{resource}"], out[f"limits.{resource}"] = quantity(request), quantity(limit)
    return out


def pod_usage(pod: dict, limit_range: dict) -> dict[str, float]:
    """A pod's effective requests/limits: the sum of its containers, or its largest init container."""
    containers = [container_usage(c, limit_range) for c in pod["containers"]]
    inits = [container_usage(c, limit_range) for c in pod.get("initContainers", [])]
    return {d: max([sum(c[d] for c in containers)] + [i[d] for i in inits]) for d in DIMENSIONS}


def template_spec(doc: dict) -> dict:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def workload_pods(docs: list[dict]) -> list[tuple[str, int, dict]]:
    """(kind/name, pods at most, pod spec) of every pod-creating object; an HPA's target at its maximum."""
    hpa_max = {h["spec"]["scaleTargetRef"]["name"]: h["spec"]["maxReplicas"] for h in docs
               if h["kind"] == "HorizontalPodAutoscaler"}
    out = []
    for doc in docs:
        kind, name = doc["kind"], doc["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet"):
            count = hpa_max.get(name, doc["spec"].get("replicas", 1))
        elif kind == "Job":
            count = doc["spec"].get("parallelism", 1)
        elif kind == "CronJob":
            count = doc["spec"]["jobTemplate"]["spec"].get("parallelism", 1)
        else:
            continue
        out.append((f"{kind}/{name}", count, template_spec(doc)))
    return out


def largest_step(env: str, limit_range: dict, tmp_path: Path) -> tuple[dict[str, float], dict[str, str]]:
    """Per dimension, the most one pipeline step takes: its pod (the user container + Argo's `wait` container,
    which gets the LimitRange defaults) and, for a Spark driver, the most executors the profile lets it start
    (dynamic allocation's maxExecutors x cores, memory + Spark's overhead, max(10%, 384 MiB))."""
    executor = load_settings(env, environ={"RANKOPS_HOME": str(tmp_path)}).spark.executor
    executor_memory = spark_bytes(executor.memory)
    executor_memory += max(0.1 * executor_memory, 384 * 2**20)
    best = dict.fromkeys(DIMENSIONS, 0.0)
    which = {}
    for path in COMPILED:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        platform = next((d for d in docs[1:] if "platforms" in d), {})
        placements = platform.get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {}).get("executors", {})
        for label, spec in docs[0]["deploymentSpec"]["executors"].items():
            res = spec.get("container", {}).get("resources")
            if not res:
                continue
            step = {"requests.cpu": quantity(res["resourceCpuRequest"]),
                    "requests.memory": quantity(res["resourceMemoryRequest"]),
                    "limits.cpu": quantity(res["resourceCpuLimit"]),
                    "limits.memory": quantity(res["resourceMemoryLimit"])}
            wait = container_usage({}, limit_range)
            step = {d: step[d] + wait[d] for d in DIMENSIONS}
            labels = placements.get(label, {}).get("podMetadata", {}).get("labels", {})
            if labels.get(SPARK_DRIVER_LABEL[0]) == SPARK_DRIVER_LABEL[1]:
                for kind in ("requests", "limits"):
                    step[f"{kind}.cpu"] += executor.max_instances * executor.cores
                    step[f"{kind}.memory"] += executor.max_instances * executor_memory
            for d in DIMENSIONS:
                if step[d] > best[d]:
                    best[d], which[d] = step[d], f"{path.name}:{label}"
    return best, which


@pytest.fixture(scope="module")
def projects(k8s) -> dict[str, list[dict]]:
    """env -> the rendered objects of every project overlay deploying into rankops-<env>."""
    out: dict[str, list[dict]] = {}
    for overlay in PROJECT_OVERLAYS:
        out.setdefault(overlay.name, []).extend(k8s.render(overlay))
    return out


@pytest.mark.parametrize("env", ENVS)
def test_the_quota_fits_the_hpa_maximum_every_workload_and_the_largest_step(rendered, projects, env, k8s, tmp_path):
    docs = rendered[env]
    quota = {d: quantity(v) for d, v in k8s.find(docs, "ResourceQuota", "rankops-quota")["spec"]["hard"].items()
             if d in DIMENSIONS}
    [limit_range] = k8s.find(docs, "LimitRange", "rankops-limits")["spec"]["limits"]
    workloads = workload_pods(docs + projects.get(env, []))
    assert any(w[0] == "Deployment/ranker" and w[1] == k8s.find(docs, "HorizontalPodAutoscaler", "ranker")[
        "spec"]["maxReplicas"] for w in workloads)
    step, which = largest_step(env, limit_range, tmp_path)
    needed = {d: sum(count * pod_usage(pod, limit_range)[d] for _, count, pod in workloads) + step[d]
              for d in DIMENSIONS}
    too_small = {d: f"quota {quota[d]:.4g} < needed {needed[d]:.4g} (largest step {which[d]})"
                 for d in DIMENSIONS if quota[d] < needed[d]}
    assert too_small == {}


@pytest.mark.parametrize("env", ENVS)
def test_a_node_drain_can_evict_a_ranker_at_the_hpa_minimum(rendered, env, k8s):
    docs = rendered[env]
    replicas = k8s.find(docs, "HorizontalPodAutoscaler", "ranker")["spec"]["minReplicas"]
    pdb = k8s.find(docs, "PodDisruptionBudget", "ranker")["spec"]
    ranker = k8s.find(docs, "Deployment", "ranker")
    assert pdb["selector"]["matchLabels"].items() <= ranker["spec"]["template"]["metadata"]["labels"].items()

    def count(value) -> int:  # a PDB percentage rounds up (the disruption controller's rule)
        text = str(value)
        return math.ceil(replicas * int(text[:-1]) / 100) if text.endswith("%") else int(text)

    if "maxUnavailable" in pdb:
        allowed = count(pdb["maxUnavailable"])
    else:
        allowed = replicas - count(pdb["minAvailable"])
    assert allowed >= 1, f"{env}: {replicas} ranker(s) at the HPA minimum, PDB {pdb} allows {allowed} disruptions"
