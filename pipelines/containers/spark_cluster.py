"""A Spark standalone cluster in containers from the project image: one master, N workers, and a
driver container that runs a command against it.

Spark's own daemons (`org.apache.spark.deploy.master.Master`, `...worker.Worker`, through the
`spark-class` of the image's pyspark) on the host network, every container under the cluster's pod
security (uid 10001, read-only root, tmpfs /tmp). Each worker (and the executors it launches) has
an address of its own on the loopback (127.0.0.2, .3, ...), as each pod has its own IP: on one
shared address Spark would take the executors for neighbours on one disk and read each other's
shuffle files from a /tmp that is private to each container. The driver runs in a container of
the same image too, as it does in the cluster (the pipeline step's pod is the driver): driver and
executors then share one Python and one installed `components`, which PySpark requires (the
executors start the driver's `PYSPARK_PYTHON`, a path that exists only in the image). Shared data
(the lakehouse, MLflow's store) is one host folder mounted at the same path in every container, as
a shared volume or object store is in the cluster.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.common.net import LOOPBACK, free_port
from pipelines.containers.engine import Engine, pod_security

WORK_DIR = "/tmp/spark-work"  # the workers' scratch (executor stdout/stderr, fetched files) on the tmpfs


class ClusterError(RuntimeError):
    """The standalone cluster did not come up, or its driver failed; the message carries the log tail."""


def worker_address(index: int) -> str:
    """Worker `index`'s own loopback address (Linux routes all of 127.0.0.0/8 to lo)."""
    return f"127.0.0.{index + 2}"


@dataclass
class StandaloneCluster:
    """A running master and its workers; `master_url` is what `spark.master` gets."""

    engine: Engine
    image: str
    run_args: dict[str, Any]
    label: dict[str, str]
    master_port: int = 0
    ui_port: int = 0
    containers: list[Any] = field(default_factory=list)

    @property
    def master_url(self) -> str:
        return f"spark://{LOOPBACK}:{self.master_port}"

    def _start(self, name: str, command: list[str], environment: dict[str, str] | None = None,
               **extra: Any) -> Any:
        container = self.engine.client.containers.run(
            self.image, entrypoint=["tini", "--"], command=command, detach=True, labels=self.label,
            name=f"rankops-{name}-{self.label['rankops.run']}", environment=environment or {}, **self.run_args,
            **extra)
        self.containers.append(container)
        return container

    def start(self, workers: int, cores: int, memory: str, timeout_s: float = 180.0) -> None:
        """The master, then `workers` workers; returns once all of them registered with the master."""
        self.master_port, self.ui_port = free_port(), free_port()
        self._start("spark-master", ["spark-class", "org.apache.spark.deploy.master.Master", "--host", LOOPBACK,
                                     "--port", str(self.master_port), "--webui-port", str(self.ui_port)])
        self.wait_for_workers(0, timeout_s)
        for i in range(workers):
            address = worker_address(i)
            self._start(f"spark-worker-{i + 1}", [
                "spark-class", "org.apache.spark.deploy.worker.Worker", self.master_url, "--host", address,
                "--cores", str(cores), "--memory", memory, "--webui-port", str(free_port(address)),
                "--work-dir", WORK_DIR], {"SPARK_LOCAL_IP": address})
        self.wait_for_workers(workers, timeout_s)

    def state(self) -> dict[str, Any]:
        """The master's own view (its web UI's /json): workers, cores, applications."""
        with urllib.request.urlopen(f"http://{LOOPBACK}:{self.ui_port}/json", timeout=5) as response:
            return json.load(response)

    def wait_for_workers(self, count: int, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for container in self.containers:
                container.reload()
                if container.status not in ("created", "running"):
                    raise ClusterError(f"{container.name} exited: {log_tail(container)}")
            try:
                state = self.state()
            except OSError:
                state = None
            if state is not None and sum(w["state"] == "ALIVE" for w in state["workers"]) >= count:
                return state
            time.sleep(0.5)
        raise ClusterError(f"the Spark master did not see {count} alive workers within {timeout_s:.0f} s: "
                           + "; ".join(f"{c.name}: {log_tail(c)}" for c in self.containers))

    def run_driver(self, command: list[str], environment: dict[str, str], working_dir: str = "/app",
                   name: str = "spark-driver", timeout_s: float = 900.0) -> str:
        """`command` in a driver container of the image, in `working_dir` (writable, for what libraries
        put in the current directory, e.g. MLflow's default ./mlruns); its stdout, or ClusterError with
        the log tail."""
        container = self._start(name, command, environment, working_dir=working_dir)
        try:
            status = container.wait(timeout=timeout_s)
        except Exception as exc:  # the SDK raises its transport's timeout
            raise ClusterError(f"the driver did not finish within {timeout_s:.0f} s ({type(exc).__name__}): "
                               f"{log_tail(container)}") from None
        if status.get("StatusCode") != 0:
            raise ClusterError(f"the driver exited with code {status.get('StatusCode')}: {log_tail(container, 30)}")
        return container.logs(stdout=True, stderr=False).decode(errors="replace")

    def stop(self) -> None:
        for container in reversed(self.containers):
            try:
                container.remove(force=True)
            except Exception:  # already gone
                pass
        self.containers.clear()


def log_tail(container: Any, lines: int = 8) -> str:
    try:
        return " | ".join(container.logs(tail=lines).decode(errors="replace").strip().splitlines())
    except Exception as exc:
        return f"(no log: {exc})"


@contextmanager
def standalone_cluster(engine: Engine, image: str, *, scratch: Path, mounts: list[Any] | None = None,
                       workers: int = 2, cores: int = 1, memory: str = "1g",
                       label: dict[str, str] | None = None) -> Iterator[StandaloneCluster]:
    """A master and `workers` workers of `cores` cores and `memory` each; removed on exit, error or Ctrl-C.

    `scratch` is an empty host folder (bound read-only over /var/tmp, see `pod_security`); `mounts`
    (docker.types.Mount) go into every container, the driver's included.
    """
    args = pod_security(scratch)
    args["mounts"] = [*args["mounts"], *(mounts or [])]
    args["network_mode"] = "host"
    label = label or {"rankops.run": f"spark-{time.strftime('%H%M%S')}-{free_port() % 10000}"}
    cluster = StandaloneCluster(engine, image, args, label)
    try:
        cluster.start(workers, cores, memory)
        yield cluster
    finally:
        cluster.stop()
