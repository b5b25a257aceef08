"""The one registry of model families: `training.model.family` names one, and stage code asks here.

A family brings its parameter model (the strict `training.model` section when it is chosen), its
`train` (same signature as `api.train`, returns a TrainResult with a packaged MLflow pyfunc), how
to load its packaged scorer, how to check its packaged artifact, and its Optuna search space.
Families are declared in the `rankops.families` entry-point group (`electra` and `lambdamart`
in rankops' pyproject.toml; another package adds its own there). Callables may be given as
"module:function" strings so that choosing a family imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.common import plugins
from components.common.model import StrictModel
from components.common.plugins import Ref, resolve

DEFAULT_FAMILY = "electra"


class FamilyParams(StrictModel):
    """Base of every family's parameter model; `family` tells which one a section holds."""

    family: str


@dataclass(frozen=True)
class Family:
    """A model family: its parameters and the four things the stages ask of it."""

    name: str
    params: type[FamilyParams]
    train: Ref  # (settings, *, training_set, params, callbacks, resume, tags, validate, log_model, nested) -> TrainResult
    load_scorer: Ref  # (directory) -> object with .score(DataFrame) -> scores and .meta
    check_artifact: Ref  # (local model directory) -> (passed, detail)
    search_space: Ref  # (optuna trial) -> {dotted param: value}
    model_kind: str = ""
    description: str = ""

    def call(self, what: str, *args: Any, **kwargs: Any) -> Any:
        """Call the family's `what` ("train", "load_scorer", ...), importing it on first use."""
        return resolve(getattr(self, what))(*args, **kwargs)


def family_names() -> list[str]:
    return plugins.plugin_names(plugins.FAMILIES)


def get_family(name: str) -> Family:
    """The family registered as `name` (ValueError listing the registered ones otherwise)."""
    try:
        family = plugins.load_plugin(plugins.FAMILIES, name, "model family")
    except plugins.PluginError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(family, Family):
        raise ValueError(f"model family {name!r} is declared as {type(family).__name__}, not a Family")
    return family


def family_params(value: Any) -> Any:
    """`training.model` as its family's parameter model (the validator of TrainingSettings.model)."""
    if isinstance(value, FamilyParams) or not isinstance(value, dict):
        return value
    return get_family(str(value.get("family", DEFAULT_FAMILY))).params.model_validate(value)


def family_of_metadata(meta: dict[str, Any]) -> Family:
    """The family of a packaged model from its metadata (models packaged before families: electra)."""
    return get_family(str(meta.get("family") or DEFAULT_FAMILY))
