"""`rankops new project NAME`: a new project folder from the template kept in the repository.

The template (`pipelines/templates/project/`) is a complete, runnable project: a click-through-rate
model on the platform's raw search logs with its own contract, Feast repository, model family,
evaluation task, settings section, profiles, pipeline and manifests. Rendering replaces `{{name}}`
(the project name), `{{NAME}}` (upper case) and `{{package}}` (`rankops_<name>`) in paths and texts;
a `.tmpl` suffix (on files tools would otherwise read as the repository's own, e.g. pyproject.toml)
is dropped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).with_name("templates") / "project"
NAME_RE = re.compile(r"[a-z][a-z0-9_]{1,30}")
SKIP = {"__pycache__", ".pytest_cache", ".ruff_cache"}


class ScaffoldError(ValueError):
    """The name or the target folder cannot take a new project (the message says why)."""


def template_values(name: str) -> dict[str, str]:
    """What each `{{...}}` marker of the project template becomes for `name`."""
    return {"{{name}}": name, "{{NAME}}": name.upper(), "{{package}}": f"rankops_{name}"}


def check_name(name: str) -> None:
    """A lower-case identifier that no registered extension or settings section already uses."""
    from components.common import plugins
    from components.common.config import Settings

    if not NAME_RE.fullmatch(name):
        raise ScaffoldError(f"project name {name!r}: use 2-31 lower-case letters, digits and '_', starting with a letter")
    taken = {
        "a settings section": set(plugins.plugin_names(plugins.SETTINGS)) | set(Settings.model_fields),
        "a data contract": set(plugins.plugin_names(plugins.CONTRACTS)),
        "an evaluation task": set(plugins.plugin_names(plugins.TASKS)),
        "a project": set(plugins.plugin_names(plugins.PROJECTS)),
        "a model family": {n.removesuffix("_gbdt") for n in plugins.plugin_names(plugins.FAMILIES)},
    }
    for what, names in taken.items():
        if name in names:
            raise ScaffoldError(f"project name {name!r} is already {what} of this installation; choose another")


def render_text(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def template_files(template: Path = TEMPLATE) -> list[Path]:
    return sorted(p for p in template.rglob("*") if p.is_file() and not SKIP & set(p.relative_to(template).parts))


def render_project(name: str, target: Path, template: Path = TEMPLATE) -> list[str]:
    """Write the template rendered for `name` under `target`; the written paths, relative to it."""
    values = template_values(name)
    written = []
    for src in template_files(template):
        dest = target / render_text(str(src.relative_to(template)), values).removesuffix(".tmpl")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(render_text(src.read_text(encoding="utf-8"), values), encoding="utf-8")
        written.append(str(dest.relative_to(target)))
    return written


def new_project(name: str, out_dir: str | Path, *, template: Path = TEMPLATE) -> dict[str, Any]:
    """Write `<out_dir>/<name>/` from the template; refuse a taken name or an existing folder."""
    check_name(name)
    target = Path(out_dir) / name
    if target.exists():
        raise ScaffoldError(f"{target} already exists: choose another name or folder (nothing was written)")
    values = template_values(name)
    written = render_project(name, target, template)
    return {"project": name, "path": str(target), "package": values["{{package}}"], "files": written,
            "next": [f"pip install -e {target}", f"rankops --project {name} pipeline compile",
                     f"rankops --project {name} pipeline run {name}_end_to_end --local"]}
