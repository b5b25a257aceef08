"""Extension points: named plug-ins found through Python entry points.

A stage's configuration section, a model family, an ETL contract, an evaluation task and a whole
project are each looked up by name in one entry-point group. A package (rankops itself, or another
team's) adds one by declaring it in its pyproject.toml, so no rankops module imports an extension
by name. `register_plugin` adds one for this process only (notebooks, tests).

    [project.entry-points."rankops.families"]
    lambdamart = "components.training.lambdamart:FAMILY"
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

SETTINGS = "rankops.settings"  # section name -> StrictModel class
FAMILIES = "rankops.families"  # training.model.family -> components.training.families.Family
CONTRACTS = "rankops.contracts"  # etl.contract -> components.etl.contracts.Contract
TASKS = "rankops.evaluation_tasks"  # evaluation.task -> components.evaluation.tasks.EvaluationTask
PROJECTS = "rankops.projects"  # RANKOPS_PROJECT -> components.common.projects.Project
OWN_DIST = "rankops"

_REGISTERED: dict[str, dict[str, Any]] = {}

Ref = str | Callable[..., Any]  # a callable, or "module:function" imported on first use


def resolve(ref: Ref) -> Callable[..., Any]:
    """The callable `ref` names (importing its module when it is a "module:function" string)."""
    if callable(ref):
        return ref
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


class PluginError(LookupError):
    """An extension that is not registered, or does not load (the message names the group)."""


@functools.cache
def _declared(group: str) -> dict[str, Any]:
    """name -> entry point: rankops' own first in declared order, then other packages' by name."""
    found = list(entry_points(group=group))
    own = [ep for ep in found if ep.dist is not None and ep.dist.name == OWN_DIST]
    others = sorted((ep for ep in found if ep not in own), key=lambda ep: ep.name)
    out: dict[str, Any] = {}
    for ep in [*own, *others]:
        if ep.name in out:
            where = ep.dist.name if ep.dist is not None else "?"
            raise PluginError(f"{group}: {ep.name!r} is declared twice (again by package {where})")
        out[ep.name] = ep
    return out


def plugin_names(group: str) -> list[str]:
    """Registered names of `group`, declared ones first."""
    return [*_declared(group), *(n for n in _REGISTERED.get(group, {}) if n not in _declared(group))]


@functools.cache
def _load_declared(group: str, name: str) -> Any:
    ep = _declared(group)[name]
    try:
        return ep.load()
    except Exception as exc:  # an extension's import error, named with where it was declared
        raise PluginError(f"{group}: {name!r} = {ep.value} does not load: {type(exc).__name__}: {exc}") from exc


def load_plugin(group: str, name: str, what: str) -> Any:
    """The object registered as `name` in `group`; PluginError listing the choices otherwise."""
    registered = _REGISTERED.get(group, {})
    if name in registered:
        return registered[name]
    if name not in _declared(group):
        known = ", ".join(plugin_names(group)) or "none"
        raise PluginError(f"unknown {what} {name!r}; registered: {known} (entry-point group {group})")
    return _load_declared(group, name)


def load_all(group: str, what: str) -> dict[str, Any]:
    """Every plug-in of `group`, by name, in `plugin_names` order."""
    return {name: load_plugin(group, name, what) for name in plugin_names(group)}


def register_plugin(group: str, name: str, obj: Any) -> None:
    """Add (or replace) a plug-in for this process only; entry points are how packages declare theirs."""
    _REGISTERED.setdefault(group, {})[name] = obj


def unregister_plugin(group: str, name: str) -> None:
    _REGISTERED.get(group, {}).pop(name, None)
