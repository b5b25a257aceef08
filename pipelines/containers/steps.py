"""Each pipeline step in its own container, set up the way its compiled spec asks the cluster.

`kfp.local.DockerRunner` starts one container per task with the pipeline root bind-mounted; what
it cannot express per task is the Kubernetes platform config (the Secrets and ConfigMaps a task
reads as environment variables, its volumes). `StepRunner` takes over kfp.local's container start
(`docker_task_handler.run_docker_container`, kfp 2.17) for the length of a run: it gives each task
exactly the Secret/ConfigMap keys and PVCs of its platform config (from stand-ins of those
objects), the cluster's pod security, and records what ran: image id, uid, read-only root, exit
code, log tail.
"""

from __future__ import annotations

import collections
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LOG_TAIL_LINES = 40


class StepSetupError(RuntimeError):
    """A task asks for a Secret, ConfigMap or volume the stand-in cluster does not have."""


@dataclass(frozen=True)
class Placement:
    """What one task's platform config asks for: (secret, {key: env}, optional), config maps, PVC mounts."""

    secrets: tuple[tuple[str, tuple[tuple[str, str], ...], bool], ...] = ()
    config_maps: tuple[tuple[str, tuple[tuple[str, str], ...], bool], ...] = ()
    volumes: tuple[tuple[str, str], ...] = ()  # (pvc name, mount path)


@dataclass
class StepRecord:
    """What one step ran in and how it ended (the `--summary` of make run-containers lists these)."""

    name: str
    attempt: int
    spec_image: str
    image: str
    image_id: str
    uid: int | None
    configured_user: str
    read_only_root: bool
    cap_drop: list[str]
    volumes: dict[str, str]
    secrets: list[str]
    exit_code: int | None = None
    seconds: float | None = None
    log_tail: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def task_placements(pipeline_func: Any) -> dict[str, Placement]:
    """{task name: Placement} from a pipeline's spec and its Kubernetes platform config."""
    from google.protobuf import json_format

    spec = pipeline_func.pipeline_spec
    platform = json_format.MessageToDict(pipeline_func.platform_spec)
    executors = platform.get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {}).get("executors", {})
    dags = [spec.root.dag, *(c.dag for c in spec.components.values() if c.dag.tasks)]
    out: dict[str, Placement] = {}
    for dag in dags:
        for task_name, task in dag.tasks.items():
            component = spec.components[task.component_ref.name]
            if not component.executor_label:
                continue  # a sub-DAG (dsl.If): its tasks are listed with it
            config = executors.get(component.executor_label, {})
            out[task_name] = Placement(
                secrets=tuple((s["secretName"], tuple((k["secretKey"], k["envVar"]) for k in s.get("keyToEnv", [])),
                               bool(s.get("optional"))) for s in config.get("secretAsEnv", [])),
                config_maps=tuple((c["configMapName"],
                                   tuple((k["configMapKey"], k["envVar"]) for k in c.get("keyToEnv", [])),
                                   bool(c.get("optional"))) for c in config.get("configMapAsEnv", [])),
                volumes=tuple((v["constant"], v["mountPath"]) for v in config.get("pvcMount", [])),
            )
    return out


def env_of(placement: Placement, secrets: Mapping[str, Mapping[str, str]],
           config_maps: Mapping[str, Mapping[str, str]], task: str) -> dict[str, str]:
    """The environment variables a pod of `task` would get from its Secrets and ConfigMaps."""
    env: dict[str, str] = {}
    for kind, refs, store in (("Secret", placement.secrets, secrets), ("ConfigMap", placement.config_maps, config_maps)):
        for name, keys, optional in refs:
            if name not in store:
                if optional:
                    continue
                raise StepSetupError(f"step {task} needs {kind} {name}, which the stand-in cluster does not have "
                                     f"(it has {', '.join(sorted(store))})")
            for key, var in keys:
                if key not in store[name]:
                    raise StepSetupError(f"step {task}: {kind} {name} has no key {key}")
                env[var] = store[name][key]
    return env


def task_of(command: list[str]) -> str:
    """The task name of a kfp.local command: its executor output file sits in `<run>/<task>/`."""
    executor_input = json.loads(command[command.index("--executor_input") + 1])
    return Path(executor_input["outputs"]["outputFile"]).parent.name


class StepRunner:
    """Runs kfp.local's task containers with per-task env and volumes and records each step."""

    def __init__(self, *, placements: Mapping[str, Placement], secrets: Mapping[str, Mapping[str, str]],
                 config_maps: Mapping[str, Mapping[str, str]], pvcs: Mapping[str, str],
                 images: Mapping[str, str], run_label: dict[str, str], stop: threading.Event | None = None,
                 echo: Any = print):
        self.placements, self.secrets, self.config_maps = placements, secrets, config_maps
        self.pvcs, self.images, self.run_label, self.echo = pvcs, images, run_label, echo
        self.stop = stop or threading.Event()
        self.records: list[StepRecord] = []

    def raise_if_stopped(self) -> None:
        """Ctrl-C/SIGTERM was received (its KeyboardInterrupt may have been swallowed): stop here."""
        if self.stop.is_set():
            raise KeyboardInterrupt("stop requested")

    @contextmanager
    def installed(self) -> Iterator[StepRunner]:
        """Route kfp.local's container starts through `run_container` while the block runs."""
        from kfp.local import docker_task_handler

        original = docker_task_handler.run_docker_container
        docker_task_handler.run_docker_container = self.run_container
        try:
            yield self
        finally:
            docker_task_handler.run_docker_container = original

    def run_container(self, client: Any, image: str, command: list[str], volumes: dict[str, Any],
                      **run_args: Any) -> int:
        """kfp.local's `run_docker_container` contract: start, stream the log, return the exit code."""
        from docker.types import Mount

        self.raise_if_stopped()
        task = task_of(command)
        placement = self.placements.get(task)
        if placement is None:
            raise StepSetupError(f"task {task} is not in the pipeline spec")
        mounts = list(run_args.pop("mounts", []))
        for pvc, path in placement.volumes:
            if pvc not in self.pvcs:
                raise StepSetupError(f"step {task} mounts PVC {pvc} at {path}; the stand-in cluster has "
                                     f"{', '.join(sorted(self.pvcs))}")
            mounts.append(Mount(path, self.pvcs[pvc], type="bind"))
        env = {**run_args.pop("environment", {}), **env_of(placement, self.secrets, self.config_maps, task)}
        local_image = self.images.get(image, image)
        image_id = client.images.get(local_image).id
        started = time.monotonic()
        # a pod's `command` replaces the image's ENTRYPOINT (Docker's `command` would be appended to it)
        container = client.containers.run(image=local_image, entrypoint=command[:1], command=command[1:],
                                          volumes=volumes, mounts=mounts, environment=env, detach=True,
                                          labels=self.run_label, **run_args)
        tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
        try:
            for chunk in container.logs(stream=True, follow=True):
                text = chunk.decode(errors="replace")
                self.echo(text, end="")
                tail.extend(text.splitlines())
                self.raise_if_stopped()
            self.raise_if_stopped()
            code = int(container.wait()["StatusCode"])
            container.reload()
            attrs = container.attrs
        finally:
            try:
                container.remove(force=True)
            except Exception:  # already gone (a Ctrl-C teardown got there first)
                pass
        output = json.loads(command[command.index("--executor_input") + 1])["outputs"]["outputFile"]
        host = attrs["HostConfig"]
        self.records.append(StepRecord(
            name=task, attempt=1 + sum(r.name == task for r in self.records), spec_image=image, image=local_image, image_id=image_id,
            uid=os.stat(output).st_uid if os.path.exists(output) else None,  # who wrote its outputs
            configured_user=attrs["Config"].get("User", ""), read_only_root=bool(host.get("ReadonlyRootfs")),
            cap_drop=list(run_args.get("cap_drop", [])), volumes={p: s for s, p in placement.volumes},
            secrets=sorted({n for n, _, _ in placement.secrets if n in self.secrets}),
            exit_code=code, seconds=round(time.monotonic() - started, 2), log_tail=list(tail)))
        return code

    def failed(self) -> StepRecord | None:
        """The last failed attempt (kfp.local gives up after a task's last retry)."""
        return next((r for r in reversed(self.records) if r.exit_code), None)
