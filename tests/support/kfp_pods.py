"""The pods a KFP 2.17 run creates for one task, assembled the way the KFP backend and Argo do.

There is no cluster here, so this stands in for the KFP backend's Argo compiler and driver and for
Argo's executor injection. It follows the upstream source (kubeflow/pipelines tag 2.17.0):
- backend/src/v2/compiler/argocompiler/security_context.go: executor templates get a pod
  seccompProfile RuntimeDefault only (`applyPodSeccompProfileOnly`), the user container
  allowPrivilegeEscalation false + drop ALL + seccomp RuntimeDefault
  (`defaultUserContainerSecurityContext`), the kfp-launcher init container and driver pods the
  full set including runAsNonRoot (`defaultContainerSecurityContext`, `applyPodSecurityDefaults`);
- backend/src/v2/driver/k8s.go (`extendPodSpecPatch`): the task's kubernetes platform config adds
  volumes, env and the identity fields of `securityContext` (runAsUser/runAsGroup/runAsNonRoot) to
  the user container;
- Argo Workflows: the `init` and `wait` containers of every pod take the `executor.securityContext`
  of the workflow-controller-configmap; both share an emptyDir `var-run-argo`.
Anything this model cannot place (an unknown platform config key) fails loudly.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

USER_CONTAINER_DEFAULTS = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                           "seccompProfile": {"type": "RuntimeDefault"}}
SYSTEM_CONTAINER_DEFAULTS = {**USER_CONTAINER_DEFAULTS, "runAsNonRoot": True}
KNOWN_PLATFORM_KEYS = {"podMetadata", "pvcMount", "secretAsEnv", "configMapAsEnv", "nodeSelector", "tolerations",
                       "securityContext", "configMapAsVolume", "fieldPathAsEnv"}


def argo_executor_security_context(configmap: dict[str, Any]) -> dict[str, Any]:
    """`executor.securityContext` of a rendered workflow-controller-configmap ({} when unset)."""
    executor = yaml.safe_load(configmap.get("data", {}).get("executor") or "{}") or {}
    return executor.get("securityContext") or {}


def _argo_containers(executor_sc: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    sc = copy.deepcopy(executor_sc)
    init = {"name": "init", "image": "quay.io/argoproj/argoexec", **({"securityContext": sc} if sc else {})}
    wait = {"name": "wait", "image": "quay.io/argoproj/argoexec", **({"securityContext": copy.deepcopy(sc)} if sc else {})}
    return [init], [wait]


def executor_pod(image: str, platform: dict[str, Any], executor_sc: dict[str, Any]) -> dict[str, Any]:
    """The PodSpec of one executor (user step) pod, from the task's image and kubernetes platform config."""
    unknown = set(platform) - KNOWN_PLATFORM_KEYS
    if unknown:
        raise ValueError(f"platform config keys this model does not place: {sorted(unknown)}")
    main_sc = copy.deepcopy(USER_CONTAINER_DEFAULTS)
    for field in ("runAsUser", "runAsGroup", "runAsNonRoot"):
        if field in platform.get("securityContext", {}):
            value = platform["securityContext"][field]
            main_sc[field] = int(value) if field != "runAsNonRoot" else value
    volumes = [{"name": "kfp-launcher", "emptyDir": {}}, {"name": "var-run-argo", "emptyDir": {}}]
    mounts = []
    for m in platform.get("pvcMount", []):
        volumes.append({"name": m["constant"], "persistentVolumeClaim": {"claimName": m["constant"]}})
        mounts.append({"name": m["constant"], "mountPath": m["mountPath"]})
    for m in platform.get("configMapAsVolume", []):  # extendPodSpecPatch: a configMap volume named after the map
        volumes.append({"name": m["configMapName"],
                        "configMap": {"name": m["configMapName"], "optional": m.get("optional", False)}})
        mounts.append({"name": m["configMapName"], "mountPath": m["mountPath"]})
    env = [{"name": e["name"], "valueFrom": {"fieldRef": {"fieldPath": e["fieldPath"]}}}
           for e in platform.get("fieldPathAsEnv", [])]
    argo_init, argo_wait = _argo_containers(executor_sc)
    launcher = {"name": "kfp-launcher", "image": "ghcr.io/kubeflow/kfp-launcher",
                "securityContext": copy.deepcopy(SYSTEM_CONTAINER_DEFAULTS)}
    main = {"name": "main", "image": image, "securityContext": main_sc, "volumeMounts": mounts, **({"env": env} if env else {})}
    return {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": [*argo_init, launcher], "containers": [main, *argo_wait], "volumes": volumes}


def driver_pod(executor_sc: dict[str, Any]) -> dict[str, Any]:
    """The PodSpec of a KFP driver pod (system container, full defaults at pod and container level)."""
    argo_init, argo_wait = _argo_containers(executor_sc)
    driver = {"name": "main", "image": "ghcr.io/kubeflow/kfp-driver",
              "securityContext": copy.deepcopy(SYSTEM_CONTAINER_DEFAULTS)}
    return {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": argo_init, "containers": [driver, *argo_wait],
            "volumes": [{"name": "var-run-argo", "emptyDir": {}}]}


def task_pods(spec_text: str, executor_sc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """executor label -> executor PodSpec for every task of a compiled pipeline spec."""
    docs = [d for d in yaml.safe_load_all(spec_text) if d]
    executors = docs[0]["deploymentSpec"]["executors"]
    platform = next((d for d in docs[1:] if "platforms" in d), {})
    k8s = platform.get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {}).get("executors", {})
    return {label: executor_pod(e["container"]["image"], k8s.get(label, {}), executor_sc)
            for label, e in executors.items()}
