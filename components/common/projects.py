"""Projects: another team's ML project on the platform, selected by `RANKOPS_PROJECT` (or `--project`).

A project is a package that declares a `Project` in the `rankops.projects` entry-point group and
its extensions (contract, model family, evaluation task, settings sections) in the other groups
of `components.common.plugins`. Selecting it layers its profiles over the platform's and adds its
pipelines to `rankops pipeline`; every stage then runs the same code with the project's settings.
`rankops new project NAME` writes a new one from the template (`pipelines/templates/project`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.common import plugins

ENV_VAR = "RANKOPS_PROJECT"


class ProjectError(LookupError):
    """An unknown project, or one whose declaration is broken (the message says which)."""


@dataclass(frozen=True)
class Project:
    """What the platform needs to know about a project beyond its registered extensions."""

    name: str
    root: Path  # the project's package folder
    description: str = ""
    pipelines: dict[str, str] = field(default_factory=dict)  # pipeline name -> "module:function"
    profiles_dir: str = "profiles"  # under root: <env>.yaml layered over the platform profile
    compiled_dir: str = "compiled"  # under root: the committed specs of `pipelines`
    feature_repo: str = "feature_repo"  # under root: the project's own Feast repository

    def profile(self, env: str) -> Path:
        return self.root / self.profiles_dir / f"{env}.yaml"

    @property
    def compiled(self) -> Path:
        return self.root / self.compiled_dir

    def defaults(self) -> dict[str, Any]:
        """Settings every profile of the project starts from (its profiles may still override them)."""
        return {"features": {"repo_path": str(self.root / self.feature_repo)}}


def load_project(name: str) -> Project:
    """The project registered as `name`; ProjectError listing the registered ones otherwise."""
    try:
        project = plugins.load_plugin(plugins.PROJECTS, name, "project")
    except plugins.PluginError as exc:
        raise ProjectError(str(exc)) from None
    if not isinstance(project, Project):
        raise ProjectError(f"project {name!r} is declared as {type(project).__name__}, not a Project")
    return project


def active_project(environ: dict[str, str] | None = None) -> Project | None:
    """The project RANKOPS_PROJECT names in this process, or None (the platform's own search ranking)."""
    name = (os.environ if environ is None else environ).get(ENV_VAR)
    return load_project(name) if name else None
