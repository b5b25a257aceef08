"""Multi-node DDP in the cluster: a Kubeflow Trainer TrainJob rendered from the profile, created,
followed to its end, and failed with its reason.

Kubeflow Trainer v2 (`trainer.kubeflow.org/v1alpha1`, release v2.3.0) replaced the Training
Operator's PyTorchJob. The TrainJob names our TrainingRuntime `rankops-torch-ddp`
(manifests/components/training), which holds what a TrainJob cannot set: the JobSet restart
policy and the pods' security. Each worker pod runs one torchrun agent; the Trainer injects
PET_NNODES/PET_NPROC_PER_NODE/PET_NODE_RANK/PET_MASTER_ADDR/PET_MASTER_PORT, which torchrun reads.
Checkpoints live under RANKOPS_HOME on the shared ReadWriteMany claim, so after a lost worker
the JobSet recreates every pod and they resume from the last checkpoint (`rankops train --resume`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

GROUP, VERSION, PLURAL, KIND = "trainer.kubeflow.org", "v1alpha1", "trainjobs", "TrainJob"
API_VERSION = f"{GROUP}/{VERSION}"
JOBSET_NAME_LABEL = "jobset.sigs.k8s.io/jobset-name"
RESTART_ATTEMPT_LABEL = "jobset.sigs.k8s.io/restart-attempt"
GPU_RESOURCE = "nvidia.com/gpu"
MANAGER = "rankops.io/training-step"
# First start trains from scratch; a JobSet restart (after a lost worker) resumes from the checkpoint.
LAUNCH = ('set -eu; resume=""; if [ "${RESTART_ATTEMPT:-0}" != "0" ]; then resume="--resume"; fi; '
          'exec torchrun "$(command -v rankops)" train $resume "$@"')


class TrainJobFailed(RuntimeError):
    """The TrainJob ended Failed (or never finished); the message carries its reason."""


def trainjob_name(seed: str) -> str:
    """A DNS-1035 name (JobSet names pods after it): stable for one pipeline task, so a retry finds its job."""
    return "rankops-train-" + hashlib.sha256(seed.encode()).hexdigest()[:10]


def render_trainjob(settings, *, name: str, image: str, training_set: str | None = None) -> dict[str, Any]:
    """The TrainJob object for `settings.trainjob`, validated by the tests against the v2.3.0 CRD schema."""
    tj = settings.trainjob
    limits: dict[str, Any] = {"cpu": tj.cpu, "memory": tj.memory}
    if tj.gpus_per_worker:
        limits[GPU_RESOURCE] = str(tj.gpus_per_worker)
    env = [
        {"name": "RANKOPS_ENV", "value": settings.env},
        {"name": "RANKOPS_HOME", "value": str(settings.home)},
        {"name": "RESTART_ATTEMPT", "valueFrom": {"fieldRef": {
            "fieldPath": f"metadata.labels['{RESTART_ATTEMPT_LABEL}']"}}},
        *({"name": key, "valueFrom": {"secretKeyRef": {"name": "rankops-mlflow-client", "key": key,
                                                        "optional": True}}}
          for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")),
    ]
    volumes = [{"name": "shared", "persistentVolumeClaim": {"claimName": tj.shared_pvc}}]
    mounts: list[dict[str, Any]] = [{"name": "shared", "mountPath": tj.shared_mount}]
    if tj.models_pvc:
        volumes.append({"name": "models", "persistentVolumeClaim": {"claimName": tj.models_pvc, "readOnly": True}})
        mounts.append({"name": "models", "mountPath": tj.models_mount, "readOnly": True})
    pod_spec = {
        "nodeSelector": dict(tj.node_selector),
        "tolerations": [{"key": tj.gpu_taint, "operator": "Exists", "effect": "NoSchedule"}],
        "volumes": volumes,
        "containers": [{"name": "node", "volumeMounts": mounts}],
    }
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": settings.kfp.namespace,
                     "labels": {"app.kubernetes.io/part-of": "rankops", "rankops.io/env": settings.env}},
        "spec": {
            "runtimeRef": {"apiGroup": GROUP, "kind": "TrainingRuntime", "name": tj.runtime},
            "activeDeadlineSeconds": tj.deadline_s,
            "trainer": {
                "image": image,
                "numNodes": tj.workers,
                "numProcPerNode": max(tj.gpus_per_worker, 1),
                "command": ["bash", "-c", LAUNCH, "rankops-train"],
                "args": ["--training-set", training_set] if training_set else [],
                "env": env,
                "resourcesPerNode": {"requests": dict(limits), "limits": limits},
            },
            "runtimePatches": [{"manager": MANAGER, "trainingRuntimeSpec": {"template": {"spec": {
                "replicatedJobs": [{"name": "node", "template": {"spec": {"template": {"spec": pod_spec}}}}]}}}}],
        },
    }


def condition(job: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The status condition `kind` when its status is "True"."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return cond
    return None


def describe(job: dict[str, Any]) -> str:
    conds = (job.get("status") or {}).get("conditions") or []
    return ", ".join(f"{c['type']}={c['status']}" + (f" ({c.get('reason')})" if c.get("reason") else "")
                     for c in conds) or "no conditions yet"


def run_trainjob(body: dict[str, Any], *, custom: Any, core: Any, poll_interval_s: float,
                 say: Callable[[str], None] = print, sleep: Callable[[float], None] = time.sleep,
                 log_lines: int = 50) -> dict[str, Any]:
    """Create `body` (or adopt the job of that name a previous try created), follow it, return it finished.

    `custom` is a kubernetes CustomObjectsApi, `core` a CoreV1Api. Raises TrainJobFailed with the
    job's reason and the tail of its pods' logs when it fails.
    """
    from kubernetes.client.exceptions import ApiException

    ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
    try:
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
        say(f"created {KIND} {ns}/{name}")
    except ApiException as exc:
        if exc.status != 409:
            raise TrainJobFailed(f"cannot create {KIND} {ns}/{name}: {exc.status} {exc.reason}: {exc.body}") from None
        say(f"{KIND} {ns}/{name} exists (a retried step): following it")
    last = None
    while True:
        job = custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
        state = describe(job)
        if state != last:
            say(f"{KIND} {name}: {state}")
            last = state
        if condition(job, "Complete"):
            say(_logs(core, ns, name, log_lines))
            return job
        failed = condition(job, "Failed")
        if failed:
            raise TrainJobFailed(f"{KIND} {ns}/{name} failed: {failed.get('reason')}: {failed.get('message')}\n"
                                 f"{_logs(core, ns, name, log_lines)}")
        sleep(poll_interval_s)


def _logs(core: Any, ns: str, name: str, lines: int) -> str:
    """The last `lines` of every pod of the job's JobSet, rank order (pod names sort by node index)."""
    pods = core.list_namespaced_pod(ns, label_selector=f"{JOBSET_NAME_LABEL}={name}").items
    out = []
    for pod in sorted(pods, key=lambda p: p.metadata.name):
        text = core.read_namespaced_pod_log(pod.metadata.name, ns, tail_lines=lines)
        out.append(f"--- {pod.metadata.name} (last {lines} lines)\n{text.rstrip()}")
    return "\n".join(out) or f"(no pods left for {name})"


def summary_path(settings, name: str) -> str:
    """Where rank 0 of the TrainJob writes its run summary (shared claim), for the step to read back."""
    return settings.resolve(f"trainjobs/{name}/summary.json")


def train_with_trainjob(settings, *, training_set: str | None, params: dict[str, Any] | None,
                        say: Callable[[str], None] = print, custom: Any = None, core: Any = None) -> dict[str, Any]:
    """The training step's cluster mode: write params to the shared claim, run the TrainJob, return rank 0's summary.

    The job's name derives from what the step's cache key holds (environment, training set, params),
    so a retried step follows the job it started instead of starting a second one.
    """
    import json
    import os

    name = trainjob_name(json.dumps([settings.env, training_set, params], sort_keys=True))
    workdir = os.path.dirname(summary_path(settings, name))
    os.makedirs(workdir, exist_ok=True)
    body = render_trainjob(settings, name=name, image=settings.kfp.gpu_image, training_set=training_set)
    extra = ["--summary", summary_path(settings, name)]
    if params:
        params_file = os.path.join(workdir, "params.json")
        with open(params_file, "w", encoding="utf-8") as fh:
            json.dump(params, fh, sort_keys=True)
        extra += ["--params", params_file]
    body["spec"]["trainer"]["args"] = [*body["spec"]["trainer"]["args"], *extra]
    if custom is None or core is None:
        from kubernetes import client, config

        config.load_incluster_config()
        custom, core = client.CustomObjectsApi(), client.CoreV1Api()
    run_trainjob(body, custom=custom, core=core, poll_interval_s=settings.trainjob.poll_interval_s, say=say)
    try:
        with open(summary_path(settings, name), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise TrainJobFailed(f"TrainJob {name} completed but rank 0 left no readable summary at "
                             f"{summary_path(settings, name)}: {exc}") from None
