"""The pipelines rankops ships: name -> pipeline function, and where their compiled specs live.

With a project selected (RANKOPS_PROJECT), its pipelines replace the platform's in every command
(their steps carry the project, see placement.on_cluster); their specs live in the project's own
`compiled/` folder.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

COMPILED_DIR = Path(__file__).with_name("compiled")

# name -> "module:function"; imported lazily so `rankops --help` stays fast.
PIPELINES: dict[str, str] = {
    "etl": "pipelines.etl:etl_pipeline",
    "training": "pipelines.training:training_pipeline",
    "batch_inference": "pipelines.batch_inference:batch_inference_pipeline",
    "monitoring": "pipelines.monitoring:monitoring_pipeline",
    "end_to_end": "pipelines.end_to_end:end_to_end_pipeline",
    "backtest": "pipelines.backtest:backtest_pipeline",
}


class UnknownPipeline(KeyError):
    """A pipeline name that is not in PIPELINES (or whose module is not there yet)."""

    def __str__(self) -> str:
        return str(self.args[0])


def project_pipelines() -> dict[str, str]:
    """The selected project's pipelines (name -> "module:function"), none without a project."""
    from components.common.projects import active_project

    project = active_project()
    return dict(project.pipelines) if project else {}


def all_pipelines() -> dict[str, str]:
    """The selected project's pipelines, else the platform's (a spec is compiled for one of them)."""
    return project_pipelines() or dict(PIPELINES)


def pipeline_names() -> list[str]:
    """Names of the pipelines of this checkout (the selected project's, else the platform's)."""
    return list(all_pipelines())


def load_pipeline(name: str) -> Any:
    """The @dsl.pipeline function registered as `name`."""
    known = all_pipelines()
    if name not in known:
        raise UnknownPipeline(f"unknown pipeline {name!r}; choose one of {', '.join(known)}")
    module_name, attr = known[name].split(":")
    return getattr(importlib.import_module(module_name), attr)


def compiled_path(name: str, directory: Path | None = None) -> Path:
    """Where the spec of `name` lives (default: the committed pipelines/compiled/, or the project's)."""
    if directory is None and name in project_pipelines():
        from components.common.projects import active_project

        directory = active_project().compiled  # type: ignore[union-attr]
    return Path(directory or COMPILED_DIR) / f"{name}.yaml"
