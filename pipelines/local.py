"""Run a pipeline on this machine through `kfp.local` (SubprocessRunner, no venv, no containers).

The same compiled components run here and in the cluster: each step is a subprocess of this
Python with the project installed, so a laptop run exercises the real component code.
Outputs land under `<RANKOPS_HOME>/kfp-local/<pipeline>-<timestamp>-<id>/<task>/<output>`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from components.common.config import Settings
from pipelines.catalogue import load_pipeline
from pipelines.step_output import StepOutput


def local_root(settings: Settings) -> Path:
    return Path(settings.home) / "kfp-local"


def describe_outputs(outputs: Any) -> dict[str, Any]:
    """JSON-friendly view of a local run's outputs (artifacts as uri + metadata)."""
    out: dict[str, Any] = {}
    for key, value in (outputs or {}).items():
        if hasattr(value, "uri"):
            out[key] = {"uri": value.uri, "metadata": dict(getattr(value, "metadata", {}) or {})}
        else:
            out[key] = value
    return out


def task_outputs(run_dir: Path) -> dict[str, dict[str, Any]]:
    """{task: {"parameters": {...}, "artifacts": {name: {uri, metadata}}}} from the executor outputs.

    A task inside a ParallelFor is keyed by its folder under the run, e.g. `for-loop-2-iteration-0/echo-op`.
    """
    import json

    out: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(run_dir).rglob("executor_output.json")):
        data = json.loads(path.read_text())
        params = {k: v for k, v in (data.get("parameterValues") or {}).items()}
        arts = {name: {"uri": a["artifacts"][0].get("uri"), "metadata": a["artifacts"][0].get("metadata", {})}
                for name, a in (data.get("artifacts") or {}).items() if a.get("artifacts")}
        out[path.parent.relative_to(run_dir).as_posix()] = {"parameters": params, "artifacts": arts}
    return out


def latest_run_dir(root: Path, pipeline_name: str) -> Path | None:
    """The newest `<pipeline name>-<timestamp>` folder kfp.local made under `root`."""
    runs = sorted(Path(root).glob(f"{pipeline_name}-*"), key=lambda p: p.stat().st_mtime)
    return runs[-1] if runs else None


@contextlib.contextmanager
def kept_root_logger() -> Iterator[None]:
    """Give the root logger back its handlers and level after a run.

    kfp.local swaps the root handlers for one on sys.stdout around each task and puts the old ones back.
    ParallelFor iterations run in threads, so those swaps interleave, and a run could end with kfp.local's
    handler on the run's stream in place of the caller's handlers (py4j then logged through it at exit).
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def run_local(name: str, settings: Settings, params: dict[str, Any] | None = None, *,
              cache: bool = False, pipeline_func: Any = None) -> dict[str, Any]:
    """Run pipeline `name` (or `pipeline_func`) locally with `env` = the settings' profile.

    Returns {pipeline, seconds, pipeline_root, outputs, log}; a failing step raises RuntimeError
    naming the task (kfp.local's message). Progress lines are printed; kfp.local's bookkeeping only
    at debug level, and every line goes to `log` (under the local root's logs/).
    """
    from kfp import local

    func = pipeline_func or load_pipeline(name)
    root = local_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root),
               raise_on_error=True, enable_caching=cache)
    arguments = {"env": settings.env, **(params or {})}
    log = root / "logs" / f"{func.pipeline_spec.pipeline_info.name}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    log.parent.mkdir(exist_ok=True)
    verbose = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    started = time.perf_counter()
    with warnings.catch_warnings(), log.open("w", encoding="utf-8") as full:
        # The subprocess runner warns about non-"python" image names; ours has Python inside.
        warnings.filterwarnings("ignore", message=".*non-Python base image.*", category=RuntimeWarning)
        # cluster placement (resources, GPU, retries) is meant for KFP; locally it is a no-op by design
        warnings.filterwarnings("ignore", message=".*have no effect in the current local runner.*")
        output = StepOutput(sys.stdout, full, verbose=verbose)
        try:
            with contextlib.redirect_stdout(output), kept_root_logger():
                task = func(**arguments)
        finally:
            output.close_pending()
    seconds = round(time.perf_counter() - started, 2)
    outputs = getattr(task, "outputs", None) or {}
    run_dir = latest_run_dir(root, func.pipeline_spec.pipeline_info.name)
    return {"pipeline": name, "env": settings.env, "seconds": seconds, "pipeline_root": str(root),
            "run_dir": str(run_dir) if run_dir else None, "params": arguments, "log": str(log),
            "outputs": describe_outputs(outputs), "tasks": task_outputs(run_dir) if run_dir else {}}
