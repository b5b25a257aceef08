"""The fields of a compiled spec that matter in review: per task image, placement, retries, caching
and the tasks it waits on.

Golden tests compare this summary (small, readable JSON) instead of whole YAML specs, and
`rankops pipeline describe NAME` prints it.
"""

from __future__ import annotations

from typing import Any

import yaml


def _load(text: str) -> tuple[dict, dict]:
    docs = [d for d in yaml.safe_load_all(text) if d]
    spec = docs[0]
    platform = next((d for d in docs[1:] if "platforms" in d), {})
    executors = platform.get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {}).get("executors", {})
    return spec, executors


def _walk(spec: dict, dag: dict, under: str | None, waits: tuple[str, ...],
          out: list[tuple[str, dict, str | None, list[str]]]) -> None:
    """Leaf tasks with their condition and what they wait on, their groups' waits included."""
    for name, task in sorted(dag.get("tasks", {}).items()):
        component = spec["components"][task["componentRef"]["name"]]
        after = (*waits, *task.get("dependentTasks", []))
        if "dag" in component:  # a dsl.If / ParallelFor / ExitHandler group
            condition = task.get("triggerPolicy", {}).get("condition")
            _walk(spec, component["dag"], condition or under, after, out)
        else:
            out.append((name, task, under, sorted(set(after))))


def summarize_spec(text: str) -> dict[str, Any]:
    """{pipeline, parameters, tasks: {task: {...}}} of a compiled pipeline spec (YAML text)."""
    spec, k8s = _load(text)
    tasks: list[tuple[str, dict, str | None, list[str]]] = []
    _walk(spec, spec["root"]["dag"], None, (), tasks)
    summary: dict[str, Any] = {}
    for name, task, condition, after in tasks:
        label = spec["components"][task["componentRef"]["name"]]["executorLabel"]
        container = spec["deploymentSpec"]["executors"][label]["container"]
        res = container.get("resources", {})
        plat = k8s.get(label, {})
        retry = task.get("retryPolicy", {})
        entry: dict[str, Any] = {
            "image": container["image"],
            "cache": bool(task.get("cachingOptions", {}).get("enableCache", False)),
            "retries": int(retry.get("maxRetryCount", 0)),
            "cpu": res.get("resourceCpuLimit"),
            "memory": res.get("resourceMemoryLimit"),
            "secrets": sorted(s["secretName"] for s in plat.get("secretAsEnv", [])),
            "volumes": sorted(f"{m['constant']}:{m['mountPath']}" for m in plat.get("pvcMount", [])),
            "labels": plat.get("podMetadata", {}).get("labels", {}),
        }
        if "accelerator" in res:
            entry["gpu"] = {"type": res["accelerator"].get("resourceType"),
                            "count": int(res["accelerator"].get("resourceCount", 0))}
        if plat.get("nodeSelector"):
            entry["node_selector"] = plat["nodeSelector"].get("labels", {})
        if plat.get("tolerations"):
            entry["tolerations"] = plat["tolerations"]
        if after:
            entry["after"] = after  # the order that keeps a failed or invalid step from reaching the registry
        if condition:
            entry["runs_if"] = condition
        if retry:
            entry["retry_backoff"] = retry.get("backoffDuration")
        summary[name] = entry
    params = {k: v.get("defaultValue") for k, v in
              sorted(spec["root"].get("inputDefinitions", {}).get("parameters", {}).items())}
    return {"pipeline": spec["pipelineInfo"]["name"], "parameters": params, "tasks": summary}
