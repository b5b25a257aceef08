"""One typed configuration with a profile per environment.

Precedence, lowest first: model defaults (the `local` profile), the profile file
`profiles/<env>.yaml` (environment variables in it are expanded), then environment
variables `RANKOPS_<SECTION>__<KEY>` (values parsed as YAML scalars). Every level is
strict, so a wrong key or value fails at start with a message naming where it came from.
`RANKOPS_HOME` (default `./.rankops`) roots every relative path of the profile.

Stages own their sections: each declares its model in the `rankops.settings` entry-point group
(see pyproject.toml), so this module imports none of them. `RANKOPS_PROJECT` names a project
(`components.common.projects`) whose profile is layered over the platform's.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import Field, ValidationError, create_model, field_validator, model_validator

from components.common import plugins
from components.common.model import StrictModel

Env = Literal["local", "dev", "staging", "prod"]
ENVS: tuple[str, ...] = ("local", "dev", "staging", "prod")
PROFILES_DIR = Path(__file__).with_name("profiles")
ENV_PREFIX = "RANKOPS_"
RESERVED_ENV = {"RANKOPS_ENV", "RANKOPS_HOME", "RANKOPS_PROJECT"}
# Field order of the registered sections (the order validation errors are listed in); a section
# not named here follows by name. Only an order: nothing here imports or requires a stage.
SECTION_ORDER = ("etl", "features", "training", "trainjob", "evaluation", "registry", "promotion", "serving",
                 "monitoring")


class ConfigError(ValueError):
    """A configuration problem, with the file or variable it came from."""


class SparkExecutorSettings(StrictModel):
    """Executors the driver asks for; dynamic allocation moves between min and max."""

    instances: int = Field(2, ge=0, description="Executors at start (spark.dynamicAllocation.initialExecutors).")
    min_instances: int = Field(0, ge=0)
    max_instances: int = Field(8, ge=1)
    memory: str = "4g"
    cores: int = Field(1, gt=0)


class SparkKubernetesSettings(StrictModel):
    """Where executor pods go and how the driver (the pipeline step's pod) talks to them.

    The ports are fixed so NetworkPolicies can name them (manifests/components/spark).
    """

    namespace: str | None = Field(None, description="Defaults to kfp.namespace.")
    service_account: str = "rankops-spark-executor"
    pod_template: str = "/etc/rankops/spark/executor-pod-template.yaml"
    container_name: str = "spark-executor"
    driver_port: int = Field(7078, gt=1024, lt=65536)
    block_manager_port: int = Field(7079, gt=1024, lt=65536)


class SparkSettings(StrictModel):
    """Spark session options; `local[*]` on a laptop, `k8s://...` (executor pods) in the cluster."""

    master: str = "local[*]"
    app_name: str = "rankops"
    driver_memory: str = "2g"
    driver_java_options: str = Field("-XX:+UseParallelGC", description=(
        "JVM flags of the driver (and of local[*]'s in-process executors); the local profile adds "
        "-XX:TieredStopAtLevel=1: its jobs are too short for the optimising JIT to pay back."))
    shuffle_partitions: int = Field(8, gt=0)
    executor: SparkExecutorSettings = Field(default_factory=SparkExecutorSettings)
    kubernetes: SparkKubernetesSettings = Field(default_factory=SparkKubernetesSettings)
    conf: dict[str, str] = Field(default_factory=dict, description="Extra spark.* options.")

    @model_validator(mode="after")
    def _executors_in_range(self) -> SparkSettings:
        e = self.executor
        if not e.min_instances <= e.instances <= e.max_instances:
            raise ValueError(f"executor: need min_instances <= instances <= max_instances, got "
                             f"{e.min_instances} <= {e.instances} <= {e.max_instances}")
        return self

    @field_validator("conf", mode="before")
    @classmethod
    def _conf_as_text(cls, value: Any) -> Any:
        """Spark takes every option as text; YAML and env values may arrive as bool or number."""
        if not isinstance(value, Mapping):
            return value
        return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}


class StorageSettings(StrictModel):
    """The lakehouse (versioned snapshots) and where reports are written."""

    lakehouse: str = "lakehouse"
    reports: str = "reports"


class MlflowSettings(StrictModel):
    """Tracking server and artifact store; the local profile uses SQLite under RANKOPS_HOME."""

    tracking_uri: str = "sqlite:///{home}/mlflow/mlflow.db"
    artifact_location: str = "{home}/mlflow/artifacts"
    experiment: str = "rankops"


class KfpSettings(StrictModel):
    """Kubeflow Pipelines: where runs go and which images they run on.

    `image`/`gpu_image` are what specs submitted to this environment are re-pointed at; in the
    cluster they come from the overlay (RANKOPS_KFP__IMAGE in rankops-runtime, set with the
    overlay's image digests) or, inside a pipeline step, from the submission itself.
    """

    host: str | None = None
    namespace: str = "rankops-dev"
    image: str = "ghcr.io/rankops/rankops:0.1.0"
    gpu_image: str = "ghcr.io/rankops/rankops-gpu:0.1.0"
    pipeline_root: str = "pipeline-root"
    require_digest: bool = Field(False, description="Refuse submissions whose images are not pinned by digest.")


class Settings(StrictModel):
    """The whole configuration of one environment: these common sections plus every registered
    stage section (`settings_model()` is the complete class; `load_settings` returns one)."""

    env: Env = "local"
    home: Path = Field(default_factory=lambda: Path(".rankops").resolve())
    project: str | None = Field(None, description="The project layered over the platform (RANKOPS_PROJECT).")
    spark: SparkSettings = Field(default_factory=SparkSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    kfp: KfpSettings = Field(default_factory=KfpSettings)

    def resolve(self, path: str) -> str:
        """Absolute path for `path`: URIs and absolute paths as-is, the rest under `home`."""
        path = path.replace("{home}", str(self.home))
        if "://" in path or os.path.isabs(path):
            return path
        return str(self.home / path)

    @property
    def lakehouse(self) -> str:
        return self.resolve(self.storage.lakehouse)

    @property
    def reports_dir(self) -> str:
        return self.resolve(self.storage.reports)

    @property
    def tracking_uri(self) -> str:
        return self.mlflow.tracking_uri.replace("{home}", str(self.home))


def settings_model() -> type[Settings]:
    """Settings plus one field per section registered in the `rankops.settings` entry-point group."""
    try:
        sections = plugins.load_all(plugins.SETTINGS, "settings section")
    except plugins.PluginError as exc:
        raise ConfigError(str(exc)) from None
    rank = {name: i for i, name in enumerate(SECTION_ORDER)}
    ordered = sorted(sections.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))
    return _settings_model(tuple(ordered))


@functools.cache
def _settings_model(sections: tuple[tuple[str, Any], ...]) -> type[Settings]:
    fields: dict[str, Any] = {}
    for name, model in sections:
        if name in Settings.model_fields:
            raise ConfigError(f"settings section {name!r} ({model}) would replace a common setting of the same name")
        if not (isinstance(model, type) and issubclass(model, StrictModel)):
            raise ConfigError(f"settings section {name!r} is {model!r}, not a StrictModel class")
        fields[name] = (model, Field(default_factory=model))
    return create_model("RankopsSettings", __base__=Settings, __module__=__name__, **fields)


def __getattr__(name: str) -> Any:
    """`RankopsSettings` (the complete class) resolves lazily, so pickled settings load anywhere."""
    if name == "RankopsSettings":
        return settings_model()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _read_profile(path: Path) -> dict[str, Any]:
    try:
        text = os.path.expandvars(path.read_text(encoding="utf-8"))
        data = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read profile: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a profile must be a mapping of sections, got {type(data).__name__}")
    return data


def _env_keys(segments: list[str]) -> list[str]:
    """Field names lowercased; keys inside a free-form mapping (spark.conf) kept as written,
    since Spark's keys are case-sensitive (spark.driver.extraJavaOptions)."""
    model: Any = settings_model()
    keys = []
    for segment in segments:
        if model is None:
            keys.append(segment)
            continue
        key = segment.lower()
        keys.append(key)
        field = model.model_fields.get(key)
        options = (field.annotation, *get_args(field.annotation)) if field is not None else ()
        model = next((t for t in options if isinstance(t, type) and issubclass(t, StrictModel)), None)
    return keys


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Nested dict from RANKOPS_<SECTION>__<KEY>[__<SUBKEY>] variables."""
    out: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV or "__" not in name:
            continue
        keys = _env_keys(name[len(ENV_PREFIX) :].split("__"))
        if any(not k for k in keys):
            raise ConfigError(f"environment variable {name}: empty key segment")
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {name}: {key} is both a value and a section")
        try:
            value = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            value = raw
        node[keys[-1]] = value
    return out


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge; a mapping that switches its `family` (a discriminated section such as
    training.model) replaces the base's rather than mixing two families' parameters."""
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        switches = isinstance(value, Mapping) and isinstance(old, dict) and "family" in old and \
            "family" in value and value["family"] != old["family"]
        if isinstance(value, Mapping) and isinstance(old, dict) and not switches:
            merged[key] = _merge(old, value)
        else:
            merged[key] = value
    return merged


def _found(loc: tuple[Any, ...], data: Mapping[str, Any]) -> bool:
    node: Any = data
    for key in loc:
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True


def _origin(loc: tuple[Any, ...], env_data: Mapping[str, Any], profile: Path,
            project_profile: tuple[Path, Mapping[str, Any]] | None = None) -> str:
    if _found(loc, env_data):
        return "environment variable " + ENV_PREFIX + "__".join(str(k).upper() for k in loc)
    if project_profile is not None and _found(loc, project_profile[1]):
        return str(project_profile[0])
    return str(profile)


def load_settings(env: str | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings for `env` (else RANKOPS_ENV, else local); raise ConfigError naming the culprit.

    With RANKOPS_PROJECT set, the project's `<env>.yaml` is layered between the platform's
    profile and the environment variables.
    """
    environ = os.environ if environ is None else environ
    env = env or environ.get("RANKOPS_ENV") or "local"
    if env not in ENVS:
        raise ConfigError(f"unknown environment {env!r} (from --env or RANKOPS_ENV); choose one of {', '.join(ENVS)}")
    profile = PROFILES_DIR / f"{env}.yaml"
    data = _read_profile(profile)
    project_name = environ.get("RANKOPS_PROJECT") or None
    project_profile = None
    if project_name:
        from components.common.projects import ProjectError, load_project

        try:
            project = load_project(project_name)
        except ProjectError as exc:
            raise ConfigError(f"{exc} (from RANKOPS_PROJECT or --project)") from None
        path = project.profile(env)
        project_profile = (path, _read_profile(path) if path.exists() else {})
        data = _merge(_merge(data, project.defaults()), project_profile[1])
    env_data = _env_overrides(environ)
    data = _merge(data, env_data)
    data["env"] = env
    data["project"] = project_name
    data["home"] = Path(environ.get("RANKOPS_HOME") or ".rankops").expanduser().resolve()
    try:
        return settings_model().model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            lines.append(f"  {where}: {err['msg']} (from {_origin(err['loc'], env_data, profile, project_profile)})")
        raise ConfigError(f"invalid configuration for profile {env!r}:\n" + "\n".join(lines)) from None
