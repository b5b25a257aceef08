"""The `dev` profile's services on this machine, reached by the cluster's host names and ports.

PostgreSQL (Feast registry + MLflow backend, password auth), Redis (password), an S3-compatible
store (moto's server), a git forge (`git daemon`, the GitOps remote) and the MLflow tracking server
(in the project image, under pod security, proxying artifacts to S3 as manifests/base/mlflow.yaml
runs it). Every service listens on one loopback address of its own (127.x.y.1), so the profile's
ports (5432, 6379, 5000) are free whatever else runs on 127.0.0.1; containers map the profile's
host names (`postgres.rankops-dev.svc.cluster.local`, ...) to it. Credentials are made per run and
handed over as the cluster's Secrets would (`secrets`), never written to the repository.
Everything is throwaway: `stop()` ends every process and container and deletes the data.
"""

from __future__ import annotations

import glob
import http.client
import os
import secrets as pysecrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pipelines.containers.engine import Engine, pod_security

S3_PORT, GIT_PORT = 9000, 9418
BUCKET = "rankops-mlflow"


class ServiceError(RuntimeError):
    """A service did not start; the message names it and ends with its log tail."""


@dataclass(frozen=True)
class Endpoints:
    """Host names and ports of the profile's services, and the loopback address serving them all."""

    ip: str
    namespace: str
    postgres: tuple[str, int]
    redis: tuple[str, int]
    mlflow: tuple[str, int]
    s3: tuple[str, int]
    git: tuple[str, int]
    ranker_port: int

    @property
    def hosts(self) -> dict[str, str]:
        """extra_hosts for containers: every service name -> the loopback address."""
        return {h: self.ip for h, _ in (self.postgres, self.redis, self.mlflow, self.s3, self.git)}

    @property
    def ports(self) -> list[int]:
        return [p for _, p in (self.postgres, self.redis, self.mlflow, self.s3, self.git)] + [self.ranker_port]


def endpoints_of(settings: Any, ip: str) -> Endpoints:
    """The host names and ports the `dev` profile uses (so steps run it unchanged)."""
    ns = settings.kfp.namespace
    mlflow = urlparse(settings.mlflow.tracking_uri)
    redis_host, _, redis_port = settings.features.online_store_path.split(",")[0].partition(":")
    registry = urlparse(settings.features.registry_path)
    pg_host = registry.hostname if registry.hostname and "$" not in registry.netloc.split("@")[-1] else None
    return Endpoints(
        ip=ip, namespace=ns,
        postgres=(pg_host or f"postgres.{ns}.svc.cluster.local", 5432),
        redis=(redis_host, int(redis_port or 6379)), mlflow=(mlflow.hostname, mlflow.port or 80),
        s3=(f"s3.{ns}.svc.cluster.local", S3_PORT), git=(f"git.{ns}.svc.cluster.local", GIT_PORT),
        ranker_port=settings.serving.port)


def free_loopback(ports: list[int], seed: int | None = None) -> str:
    """A 127.x.y.1 address on which every port in `ports` can be bound."""
    seed = os.getpid() if seed is None else seed
    for i in range(256):
        n = (seed + i * 7919) % (200 * 250)
        ip = f"127.{20 + n // 250}.{1 + n % 250}.1"
        if all(_bindable(ip, p) for p in ports):
            return ip
    raise ServiceError(f"no loopback address with ports {ports} free")


def _bindable(ip: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((ip, port))
            return True
        except OSError:
            return False


def wait_port(ip: str, port: int, what: str, proc: subprocess.Popen | None, log: Path | None,
              timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"{what} exited with code {proc.returncode}: {_tail(log)}")
        try:
            socket.create_connection((ip, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise ServiceError(f"{what} did not listen on {ip}:{port} within {timeout_s:.0f} s: {_tail(log)}")


def _tail(log: Path | None, lines: int = 5) -> str:
    if log is None or not log.exists():
        return "(no log)"
    return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise ServiceError("PostgreSQL is not installed: run `make services` (apt package postgresql)")
    return found[-1]


@dataclass
class DevServices:
    """Start with `start()`, stop with `stop()` (idempotent; also what Ctrl-C ends in)."""

    endpoints: Endpoints
    engine: Engine
    image: str
    repo: Path  # the checkout whose committed branches seed the GitOps forge
    run_label: dict[str, str]
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rankops-services-")))
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    containers: list[Any] = field(default_factory=list)
    pg_password: str = field(default_factory=lambda: "pg-" + pysecrets.token_hex(12))
    redis_password: str = field(default_factory=lambda: "rk-" + pysecrets.token_hex(12))
    s3_key: str = field(default_factory=lambda: "AK" + pysecrets.token_hex(8).upper())
    s3_secret: str = field(default_factory=lambda: pysecrets.token_urlsafe(24))
    git_token: str = field(default_factory=lambda: "gt-" + pysecrets.token_hex(12))
    pg_data: Path | None = None  # set while PostgreSQL runs (pg_ctl daemonises it)
    forge_start: dict[str, str] = field(default_factory=dict)  # branch -> tip when the forge was seeded

    # ---- what pods get ------------------------------------------------------------------
    @property
    def secrets(self) -> dict[str, dict[str, str]]:
        """Stand-ins of the Kubernetes Secrets of docs/deployment.md, with this run's credentials."""
        pg_host, pg_port = self.endpoints.postgres
        s3_host, s3_port = self.endpoints.s3
        return {
            "rankops-postgres": {"POSTGRES_USER": "rankops", "POSTGRES_PASSWORD": self.pg_password},
            "rankops-redis": {"REDIS_PASSWORD": self.redis_password},
            "rankops-git": {"GIT_TOKEN": self.git_token},
            "rankops-mlflow": {
                "backend-store-uri": f"postgresql://rankops:{self.pg_password}@{pg_host}:{pg_port}/mlflow",
                "artifacts-destination": f"s3://{BUCKET}/{self.endpoints.namespace.removeprefix('rankops-')}"},
            "rankops-artifact-store": {"AWS_ACCESS_KEY_ID": self.s3_key, "AWS_SECRET_ACCESS_KEY": self.s3_secret,
                                       "MLFLOW_S3_ENDPOINT_URL": f"http://{s3_host}:{s3_port}"},
        }

    @property
    def config_maps(self) -> dict[str, dict[str, str]]:
        """Stand-ins of the namespace's ConfigMaps (manifests/base/kustomization.yaml, overlay dev)."""
        pg_host, pg_port = self.endpoints.postgres
        return {"rankops-runtime": {"RANKOPS_ENV": "dev"},
                "rankops-database": {"POSTGRES_HOST": pg_host, "POSTGRES_PORT": str(pg_port)},
                "ranker-model": {"MODEL_NAME": "rankops-ranker", "MODEL_VERSION": ""}}

    @property
    def git_url(self) -> str:
        """The GitOps remote (the forge stand-in replaces github.com; no token is needed on git://)."""
        host, port = self.endpoints.git
        return f"git://{host}:{port}/rankops.git"

    def container_args(self) -> dict[str, Any]:
        """Network and pod security of every container of the run."""
        empty = self.workdir / "empty"
        empty.mkdir(exist_ok=True)
        return {"network_mode": "host", "extra_hosts": self.endpoints.hosts, **pod_security(empty)}

    # ---- lifecycle ----------------------------------------------------------------------
    def start(self, echo: Any = print) -> None:
        for name, starter in (("PostgreSQL", self._start_postgres), ("Redis", self._start_redis),
                              ("S3 (moto)", self._start_s3), ("git forge", self._start_git),
                              ("MLflow server", self._start_mlflow)):
            started = time.monotonic()
            starter()
            echo(f"  {name:<14} up in {time.monotonic() - started:4.1f} s")

    def stop(self) -> None:
        for container in reversed(self.containers):
            try:
                container.remove(force=True)
            except Exception:
                pass
        self.containers.clear()
        for name in reversed(list(self.procs)):
            proc = self.procs.pop(name)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if self.pg_data is not None:
            self._as_postgres([_pg_bin("pg_ctl"), "-D", str(self.pg_data), "-m", "fast", "stop"], check=False)
            self.pg_data = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _spawn(self, name: str, args: list[str], **kwargs: Any) -> tuple[subprocess.Popen, Path]:
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:  # own session: the terminal's Ctrl-C reaches us, we stop them in order
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
        self.procs[name] = proc
        return proc, log

    def _as_postgres(self, args: list[str], check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess:
        cmd = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args
        proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
        if check and proc.returncode != 0:
            raise ServiceError(f"PostgreSQL: {' '.join(args[:1])} failed: {(proc.stderr or proc.stdout).strip()}")
        return proc

    def _start_postgres(self) -> None:
        ip, (_, port) = self.endpoints.ip, self.endpoints.postgres
        base = self.workdir / "pg"
        base.mkdir()
        (base / "pw").write_text(self.pg_password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres")
            for path in (base, base / "pw"):
                shutil.chown(path, "postgres")
        os.chmod(base / "pw", 0o600)
        self._as_postgres([_pg_bin("initdb"), "-D", str(base / "data"), "-U", "rankops", "--pwfile", str(base / "pw"),
                           "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"])
        opts = f"-c listen_addresses={ip} -p {port} -k {base} -c fsync=off -c full_page_writes=off"
        self._as_postgres([_pg_bin("pg_ctl"), "-D", str(base / "data"), "-o", opts, "-l", str(base / "log"), "-w",
                           "start"])
        self.pg_data = base / "data"
        for db in ("feast", "mlflow"):
            self._as_postgres([_pg_bin("createdb"), "-h", str(base), "-p", str(port), "-U", "rankops", db])

    def _start_redis(self) -> None:
        ip, (_, port) = self.endpoints.ip, self.endpoints.redis
        conf = self.workdir / "redis.conf"  # the password stays off the command line
        conf.write_text(f"bind {ip}\nport {port}\nrequirepass {self.redis_password}\nsave \"\"\nappendonly no\n"
                        f"dir {self.workdir}\n")
        os.chmod(conf, 0o600)
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(binary):
            raise ServiceError("redis-server is not installed: run `make services` (apt package redis-server)")
        proc, log = self._spawn("redis", [binary, str(conf)])
        wait_port(ip, port, "Redis", proc, log)

    def _start_s3(self) -> None:
        import boto3

        ip, (_, port) = self.endpoints.ip, self.endpoints.s3
        proc, log = self._spawn("s3", [sys.executable, "-m", "moto.server", "-H", ip, "-p", str(port)])
        wait_port(ip, port, "S3 (moto server)", proc, log)
        boto3.client("s3", endpoint_url=f"http://{ip}:{port}", aws_access_key_id=self.s3_key,
                     aws_secret_access_key=self.s3_secret, region_name="us-east-1").create_bucket(Bucket=BUCKET)

    def _start_git(self) -> None:
        ip, (_, port) = self.endpoints.ip, self.endpoints.git
        forge = self.workdir / "forge"
        forge.mkdir()
        clone = subprocess.run(["git", "clone", "-q", "--bare", str(self.repo), str(forge / "rankops.git")],
                               capture_output=True, text=True)
        if clone.returncode != 0:
            raise ServiceError(f"git forge: cannot seed it from {self.repo} (a checkout of this repository is needed): "
                               f"{clone.stderr.strip()}")
        self.forge_start = self.forge_refs()
        proc, log = self._spawn("git", ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
                                        "--informative-errors", f"--base-path={forge}", f"--listen={ip}",
                                        f"--port={port}", str(forge)])
        wait_port(ip, port, "git daemon", proc, log)

    def forge_refs(self) -> dict[str, str]:
        """Branch -> tip commit of the GitOps forge."""
        out = subprocess.run(["git", "-C", str(self.workdir / "forge" / "rankops.git"), "for-each-ref",
                              "--format=%(refname:short) %(objectname)", "refs/heads"], capture_output=True, text=True)
        return dict(line.split(" ", 1) for line in out.stdout.splitlines() if line)

    def forge_changes(self, files: list[str]) -> dict[str, Any]:
        """What the run pushed: each new or moved branch with its tip's subject, and `files` on those tips."""
        repo = str(self.workdir / "forge" / "rankops.git")
        changed = {b: c for b, c in self.forge_refs().items() if self.forge_start.get(b) != c}
        out: dict[str, Any] = {}
        for branch, commit in sorted(changed.items()):
            subject = subprocess.run(["git", "-C", repo, "log", "-1", "--format=%s", commit], capture_output=True,
                                     text=True).stdout.strip()
            shown = {f: subprocess.run(["git", "-C", repo, "show", f"{commit}:{f}"], capture_output=True,
                                       text=True).stdout for f in files}
            out[branch] = {"subject": subject, "files": {f: text for f, text in shown.items() if text}}
        return out

    def _start_mlflow(self) -> None:
        """As manifests/base/mlflow.yaml runs it: `mlflow server` in the image, Secrets as environment."""
        ip, (host, port) = self.endpoints.ip, self.endpoints.mlflow
        ns, store, art = self.endpoints.namespace, self.secrets["rankops-mlflow"], self.secrets["rankops-artifact-store"]
        allowed = ",".join([f"mlflow,mlflow.{ns},mlflow.{ns}.svc,{host}", f"mlflow:{port}", f"{host}:{port}",
                            f"localhost:{port}"])
        container = self.engine.client.containers.run(
            self.image, entrypoint=["mlflow", "server"], detach=True, labels=self.run_label,
            name=f"rankops-mlflow-{self.run_label['rankops.run']}",
            command=[f"--host={ip}", f"--port={port}", "--workers=2", f"--backend-store-uri={store['backend-store-uri']}",
                     f"--artifacts-destination={store['artifacts-destination']}", "--serve-artifacts",
                     f"--allowed-hosts={allowed}"],
            environment={"HOME": "/tmp", **art}, **self.container_args())
        self.containers.append(container)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # the readinessProbe: GET /health
            container.reload()
            if container.status not in ("created", "running"):
                raise ServiceError(f"MLflow server exited: {_container_tail(container)}")
            try:
                conn = http.client.HTTPConnection(ip, port, timeout=5)
                conn.request("GET", "/health", headers={"host": f"{host}:{port}"})
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise ServiceError(f"MLflow server did not answer /health on {ip}:{port} within 180 s: "
                           f"{_container_tail(container)}")


def _container_tail(container: Any, lines: int = 8) -> str:
    try:
        return " | ".join(container.logs(tail=lines).decode(errors="replace").strip().splitlines())
    except Exception as exc:
        return f"(no log: {exc})"
