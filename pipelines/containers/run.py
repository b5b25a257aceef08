"""`make run-containers`: the end_to_end pipeline with every step in the image, then the ranker.

kfp.local's DockerRunner starts each step over podman's Docker-compatible socket, as uid 10001 with
a read-only root, no capabilities, a tmpfs /tmp and the lakehouse volume at /mnt/lakehouse: the pod
security of the manifests. Steps load the `dev` profile unchanged and reach its services by the
cluster's host names; they get the Secret and ConfigMap keys their compiled spec asks for. What
differs from the cluster is said in the summary's `stand_ins`: the GitOps remote is a local
`git daemon` instead of GitHub (no forge API: requests are branches decided by `promote approve`),
there is no prod MLflow to copy promoted versions to, Spark runs in the step's container instead
of starting executor pods (no Kubernetes API), and the train step runs the CPU image with the
local profile's tiny model (`params_json`), as this machine has no GPU.

Everything the run writes lives under `<RANKOPS_HOME>/containers/<run id>/` (lakehouse, step
outputs, summary); the services and their data are thrown away at the end, on error and on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.containers.engine import REPO_ROOT, RUN_AS_UID, open_engine
from pipelines.containers.services import DevServices, endpoints_of, free_loopback
from pipelines.containers.steps import StepRunner, task_placements

PVC_LAKEHOUSE = "rankops-lakehouse"
PVC_MODELS = "rankops-models"  # the pretrained checkpoint of staging/prod; dev's tiny model needs none


class StepFailed(RuntimeError):
    """A pipeline step exited non-zero in its container: its name, exit code and log tail."""

    def __init__(self, step: str, exit_code: int | None, log_tail: list[str]):
        super().__init__(f"step {step} failed in its container with exit code {exit_code}")
        self.step, self.exit_code, self.log_tail = step, exit_code, log_tail


def cpu_training_params() -> str:
    """The local profile's tiny CPU model as the pipeline's `params_json` (no GPU here)."""
    from components.training.settings import TrainingSettings

    return json.dumps(TrainingSettings().model_dump(mode="json"), sort_keys=True)


def stand_in_env(git_url: str, local: Any) -> dict[str, str]:
    """What every container gets on top of the dev profile, and why: the GitOps remote is a `git daemon`
    with no forge API (no GitHub here), so the write-back and the request are branches on it and the
    request is decided by `rankops promote approve` (forge kind local); there is no prod MLflow, so prod
    reads dev's registry (no promotion target); there is no Kubernetes API to start Spark executor pods,
    so Spark runs inside the step's container (master local[*]); the latency budgets are the local
    profile's as configured here, as the model is (this box's shared cores are not the cluster's nodes:
    the dev budgets failed on load alone)."""
    return {"RANKOPS_REGISTRY__GIT_URL": git_url, "RANKOPS_PROMOTION__GIT_URL": git_url,
            "RANKOPS_SPARK__MASTER": "local[*]",
            "RANKOPS_REGISTRY__FORGE__KIND": "local", "RANKOPS_PROMOTION__FORGE__KIND": "local",
            "RANKOPS_PROMOTION__TARGET": "null",
            "RANKOPS_PROMOTION__LATENCY_BUDGET_MS": str(local.promotion.latency_budget_ms),
            "RANKOPS_TRAINING__LATENCY_BUDGET_MS": str(local.training.latency_budget_ms)}


def checkout() -> Path:
    """The git checkout whose branches seed the GitOps forge: this source tree, else the current directory."""
    return REPO_ROOT if (REPO_ROOT / ".git").exists() else Path.cwd()


def writable_dir(path: Path) -> Path:
    """A folder the containers' uid 10001 can write (the volume's fsGroup in the cluster)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, RUN_AS_UID, RUN_AS_UID)
    else:  # rootless engines map uid 10001 to a sub-uid: only an open folder is writable to it
        path.chmod(0o777)
    return path


@contextmanager
def interruptible() -> Iterator[threading.Event]:
    """Ctrl-C and SIGTERM end the run (KeyboardInterrupt), so the teardown runs either way; the event
    they set is what the step loop checks too, because a KeyboardInterrupt raised while a finalizer or
    a library's broad `except` runs is swallowed, and the run would go on to the next step."""
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def uninterrupted() -> Iterator[None]:
    """A teardown a second Ctrl-C cannot cut short."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_in_containers(home: Path, image: str, *, params: dict[str, Any] | None = None, ranker: bool = True,
                      repo: Path | None = None, echo: Any = print) -> dict[str, Any]:
    """Run the end_to_end pipeline in containers (and check the ranker); return the summary."""
    from components.common.config import load_settings
    from components.common.image import GPU_IMAGE, IMAGE

    started = time.monotonic()
    settings = load_settings("dev", environ={"RANKOPS_HOME": str(home)})
    run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    state = Path(home) / "containers" / run_id
    lakehouse, kfp_root, models = (writable_dir(state / name) for name in ("lakehouse", "kfp", "models"))
    label = {"rankops.run": run_id}
    summary: dict[str, Any] = {"run_id": run_id, "env": "dev", "image": image, "state_dir": str(state),
                               "lakehouse": str(lakehouse), "steps": []}
    with interruptible() as stop:
        engine = open_engine()
        services = None
        try:
            summary["image_id"] = engine.image_id(image)
            endpoints = endpoints_of(settings, "")
            endpoints = endpoints_of(settings, free_loopback(endpoints.ports))
            services = DevServices(endpoints, engine, image, repo or checkout(), label)
            overrides = stand_in_env(services.git_url, load_settings("local", environ={**os.environ,
                                                                                          "RANKOPS_HOME": str(home)}))
            summary["services"] = {"address": endpoints.ip, "hosts": sorted(endpoints.hosts)}
            summary["stand_ins"] = {"env": overrides, "train_image": f"{GPU_IMAGE} -> {image} (no GPU here)",
                                    "params_json": "local profile's tiny CPU model"}
            echo(f"services of profile dev on {endpoints.ip} ({', '.join(sorted(endpoints.hosts))})")
            t0 = time.monotonic()
            services.start(echo)
            summary["services"]["seconds"] = round(time.monotonic() - t0, 2)
            pipeline_params = {"impressions": 20000, "days": 3, "params_json": cpu_training_params(), **(params or {})}
            summary["params"] = {k: v for k, v in pipeline_params.items() if k != "params_json"}
            runner = StepRunner(placements={}, secrets=services.secrets, config_maps=services.config_maps,
                                pvcs={PVC_LAKEHOUSE: str(lakehouse), PVC_MODELS: str(models)}, images={IMAGE: image, GPU_IMAGE: image},
                                run_label=label, stop=stop,
                                echo=lambda text, end="": print(text, end=end, flush=True))
            t0 = time.monotonic()
            try:
                result = run_pipeline(runner, services, kfp_root, overrides, pipeline_params)
            finally:
                summary["steps"] = [r.to_dict() for r in runner.records]
                summary["pipeline_seconds"] = round(time.monotonic() - t0, 2)
            summary.update(result)
            runner.raise_if_stopped()
            request_id = result.get("request_id")
            if ranker and request_id:
                from pipelines.containers.ranker import check_ranker

                echo("ranker from the image with the dev profile")
                summary["ranker"] = check_ranker(services, request_id=request_id, version=result["version"],
                                                 lakehouse=str(lakehouse), overrides=overrides, echo=echo)
            elif ranker:
                summary["ranker"] = {"skipped": f"no promotion request (verdict {result.get('verdict')})"}
            summary["gitops"] = services.forge_changes([f"{settings.registry.models_dir}/{settings.registry.model_name}"
                                                        f".json", f"{settings.promotion.prod_overlay}/model.env"])
        finally:
            with uninterrupted():
                if services is not None:
                    services.stop()
                for container in engine.client.containers.list(all=True, filters={"label": f"rankops.run={run_id}"}):
                    container.remove(force=True)
                engine.close()
            summary["seconds"] = round(time.monotonic() - started, 2)
            (state / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def run_pipeline(runner: StepRunner, services: DevServices, kfp_root: Path, overrides: dict[str, str],
                 params: dict[str, Any]) -> dict[str, Any]:
    """The end_to_end pipeline on kfp.local's DockerRunner; StepFailed names the step that failed."""
    import warnings

    from kfp import local

    from pipelines.catalogue import load_pipeline
    from pipelines.local import latest_run_dir, task_outputs

    func = load_pipeline("end_to_end")
    runner.placements = task_placements(func)
    local.init(runner=local.DockerRunner(environment=overrides, **services.container_args()),
               pipeline_root=str(kfp_root), raise_on_error=True, enable_caching=False)
    started = time.monotonic()
    previous_host = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = services.engine.docker_host  # kfp.local opens its client with docker.from_env()
    try:
        with runner.installed(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*have no effect in the current local runner.*")
            func(env="dev", **params)
    except RuntimeError:
        failed = runner.failed()
        if failed is None:
            raise
        raise StepFailed(failed.name, failed.exit_code, failed.log_tail) from None
    finally:
        if previous_host is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = previous_host
    run_dir = latest_run_dir(kfp_root, func.pipeline_spec.pipeline_info.name)
    tasks = task_outputs(run_dir) if run_dir else {}
    decision = tasks.get("compare-op", {}).get("artifacts", {}).get("decision", {}).get("metadata", {})
    return {"pipeline": "end_to_end", "run_dir": str(run_dir), "tasks": tasks,
            "kfp_seconds": round(time.monotonic() - started, 2),
            "version": tasks.get("register-op", {}).get("parameters", {}).get("Output"),
            "verdict": ("promote" if decision.get("promote") else "keep") if decision else None,
            "request_id": tasks.get("promotion-request-op", {}).get("parameters", {}).get("Output")}
