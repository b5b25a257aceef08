"""The container engine: podman's Docker-compatible socket, the Docker SDK client on it, and the
cluster's pod security as `containers.run` arguments.

podman runs with the repository's `docker/containers.conf` (runc, cgroupfs, no default ulimits: what
works on machines like the development box); the machine's own configuration is never edited.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = REPO_ROOT / "docker" / "containers.conf"
TOOLS_TARGET = "make container-tools"
IMAGES_TARGET = "make images"

# What the manifests give every rankops container (securityContext of manifests/base/*.yaml):
# uid/gid 10001, read-only root, no privilege escalation, no capabilities, an emptyDir at /tmp.
RUN_AS = "10001:10001"
RUN_AS_UID = 10001
TMPFS = {"/tmp": "rw,exec,nosuid,nodev,mode=1777"}  # an emptyDir: writable, not noexec (Spark loads native libs)


class EngineError(RuntimeError):
    """No usable container engine or image; the message is one line naming what to run."""


def pod_security(empty_dir: str | Path) -> dict[str, Any]:
    """`containers.run` arguments for the cluster's pod security. podman adds writable tmpfs mounts at
    /run and /var/tmp to read-only containers; `empty_dir` (an empty host folder) is bound read-only over
    /var/tmp so a step can write only where a pod could (/run is root's)."""
    from docker.types import Mount

    return {"user": RUN_AS, "read_only": True, "tmpfs": dict(TMPFS), "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "mounts": [Mount("/var/tmp", str(empty_dir), type="bind", read_only=True)]}


@dataclass
class Engine:
    """A Docker SDK client on podman's socket; `close()` stops the socket service if this started it."""

    client: Any
    docker_host: str
    service: subprocess.Popen | None = None
    socket_dir: str | None = None

    def image_id(self, image: str) -> str:
        """The local id of `image`; EngineError naming `make images` when it was never built."""
        import docker

        try:
            return self.client.images.get(image).id
        except docker.errors.ImageNotFound:
            raise EngineError(f"image {image} is not built on this machine: run `{IMAGES_TARGET}`") from None

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.service is not None and self.service.poll() is None:
                self.service.terminate()
                try:
                    self.service.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.service.kill()
            if self.socket_dir:
                shutil.rmtree(self.socket_dir, ignore_errors=True)


def engine_env() -> dict[str, str]:
    """Environment for podman/buildah: the repository's containers.conf unless one is already chosen."""
    return {**os.environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(CONTAINERS_CONF))}


def open_engine(timeout_s: float = 30.0) -> Engine:
    """A client on DOCKER_HOST when set, else on a podman socket service started here (stopped by close())."""
    try:
        import docker
    except ImportError:
        raise EngineError("the Python package `docker` is missing: run `make install`") from None
    host = os.environ.get("DOCKER_HOST")
    if host:
        try:
            client = docker.DockerClient(base_url=host, timeout=600)
            client.ping()
        except Exception as exc:
            raise EngineError(f"no container engine answers at DOCKER_HOST={host} ({type(exc).__name__}); "
                              f"unset DOCKER_HOST to use podman (`{TOOLS_TARGET}` installs it)") from None
        return Engine(client, host)
    podman = shutil.which("podman")
    if podman is None:
        raise EngineError(f"podman is not installed: run `{TOOLS_TARGET}` (apt packages podman, buildah, runc)")
    socket_dir = tempfile.mkdtemp(prefix="rankops-podman-")  # short: a unix socket path has 107 bytes
    sock = Path(socket_dir) / "podman.sock"
    env = engine_env()
    with open(Path(socket_dir) / "service.log", "wb") as log:
        service = subprocess.Popen([podman, "system", "service", "--time=0", f"unix://{sock}"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    host = f"unix://{sock}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if service.poll() is not None:
            tail = (Path(socket_dir) / "service.log").read_text(errors="replace").strip().splitlines()[-1:]
            shutil.rmtree(socket_dir, ignore_errors=True)
            raise EngineError(f"podman's socket service exited ({'; '.join(tail) or service.returncode}): "
                              f"check `podman info`; `{TOOLS_TARGET}` installs podman")
        if sock.exists():
            try:
                client = docker.DockerClient(base_url=host, timeout=600)
                client.ping()
                return Engine(client, host, service, socket_dir)
            except Exception:
                pass
        time.sleep(0.2)
    service.terminate()
    shutil.rmtree(socket_dir, ignore_errors=True)
    raise EngineError(f"podman's socket did not answer within {timeout_s:.0f} s: check `podman info`")
