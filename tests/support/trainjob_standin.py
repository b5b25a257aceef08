"""A strict stand-in for the Kubernetes API as the training step uses it for a TrainJob.

There is no API server here. This plays CustomObjectsApi (create/get of trainer.kubeflow.org
TrainJobs) and CoreV1Api (list pods by label, read their logs) with the API server's behaviour
where the step depends on it: a create is validated against the TrainJob CRD schema kept in
tests/support/crds (v2.3.0) and rejected with 422 like the server's structural validation, a
second create of a name is 409 AlreadyExists, a get of an unknown name is 404, and an object in
another namespace than the call's is rejected with 400. The job's life is a script of status
snapshots that each `get` advances through, as the Trainer controller would move it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from kubernetes.client.exceptions import ApiException

from tests.support.crd_schema import validate_custom


def _error(status: int, reason: str, message: str) -> ApiException:
    exc = ApiException(status=status, reason=reason)
    exc.body = json.dumps({"kind": "Status", "status": "Failure", "reason": reason, "message": message, "code": status})
    return exc


@dataclass
class TrainJobApi:
    """CustomObjectsApi + CoreV1Api for one namespace's TrainJobs."""

    statuses: list[dict[str, Any]] = field(default_factory=list)  # what successive gets report
    pod_logs: dict[str, str] = field(default_factory=dict)  # pod name -> log text
    jobs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def create_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str,
                                        body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(f"create {plural}")
        if (group, version, plural) != ("trainer.kubeflow.org", "v1alpha1", "trainjobs"):
            raise _error(404, "NotFound", f"the server could not find the requested resource {group}/{version} {plural}")
        meta = body.get("metadata") or {}
        if meta.get("namespace", namespace) != namespace:
            raise _error(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                            "sent on the request")
        errors = validate_custom(body)
        if errors:
            raise _error(422, "Invalid", f"TrainJob.trainer.kubeflow.org {meta.get('name')!r} is invalid: "
                                         + "; ".join(errors))
        key = (namespace, meta["name"])
        if key in self.jobs:
            raise _error(409, "AlreadyExists", f'trainjobs.trainer.kubeflow.org "{meta["name"]}" already exists')
        self.jobs[key] = copy.deepcopy(body)
        return copy.deepcopy(body)

    def get_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str,
                                     name: str) -> dict[str, Any]:
        self.calls.append(f"get {name}")
        job = self.jobs.get((namespace, name))
        if job is None:
            raise _error(404, "NotFound", f'trainjobs.trainer.kubeflow.org "{name}" not found')
        if self.statuses:
            job["status"] = self.statuses.pop(0)
        return copy.deepcopy(job)

    def list_namespaced_pod(self, namespace: str, label_selector: str = "") -> Any:
        key, _, value = label_selector.partition("=")
        assert key == "jobset.sigs.k8s.io/jobset-name", label_selector
        items = [SimpleNamespace(metadata=SimpleNamespace(name=n)) for n in self.pod_logs if n.startswith(value + "-")]
        return SimpleNamespace(items=items)

    def read_namespaced_pod_log(self, name: str, namespace: str, tail_lines: int | None = None) -> str:
        lines = self.pod_logs[name].splitlines()
        return "\n".join(lines[-tail_lines:] if tail_lines else lines)


def status(*conditions: tuple[str, str, str]) -> dict[str, Any]:
    """A TrainJob status with (type, reason, message) conditions, all True."""
    return {"conditions": [{"type": t, "status": "True", "reason": r, "message": m,
                            "lastTransitionTime": "2026-11-30T12:00:00Z"} for t, r, m in conditions]}
