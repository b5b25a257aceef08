"""MLflow look-ups shared by evaluation, registry and promotion: client, versions, runs, lineage tags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

    from components.common.config import Settings

from components.common.mlflow_client import use_mlflow  # noqa: F401 (the callers' import path)

TAG_PREFIX = "rankops."


class RegistryError(LookupError):
    """A model, version or alias that is not in the registry (the message says which)."""


def version_uri(name: str, version: str | int) -> str:
    return f"models:/{name}/{version}"


def resolve_version(client: MlflowClient, name: str, ref: str | int) -> ModelVersion:
    """A version from '3', 'v3', 'champion' or '@champion' (alias)."""
    from mlflow.exceptions import MlflowException

    text = str(ref).strip()
    try:
        if text.startswith("@") or not text.lstrip("vV").isdigit():
            return client.get_model_version_by_alias(name, text.lstrip("@"))
        return client.get_model_version(name, text.lstrip("vV"))
    except MlflowException as exc:
        raise RegistryError(f"model {name!r} has no version or alias {text!r}") from exc


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version an alias points at, or None (no model, no alias)."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def run_id_of(client: MlflowClient, model_uri: str) -> str | None:
    """The MLflow run that produced `model_uri` (runs:/, models:/name/version, models:/m-id, or a path)."""
    if model_uri.startswith("runs:/"):
        return model_uri[len("runs:/") :].split("/", 1)[0]
    if model_uri.startswith("models:/"):
        rest = model_uri[len("models:/") :]
        if rest.startswith("m-") and "/" not in rest:
            import mlflow

            return mlflow.get_logged_model(rest).source_run_id
        name, _, ref = rest.partition("/")
        ref = ref.split("@", 1)[0] if ref else rest.split("@", 1)[1]
        return resolve_version(client, name.split("@")[0], ref).run_id
    return None


def lineage_tags_of_run(client: MlflowClient, run_id: str | None) -> dict[str, str]:
    """The `rankops.*` tags training put on its run (git, data snapshots, feature service, pipeline run)."""
    if not run_id:
        return {}
    run = client.get_run(run_id)
    return {k: v for k, v in run.data.tags.items() if k.startswith(TAG_PREFIX)}


def training_set_of(settings: Settings, model_uri: str) -> str | None:
    """The training-set snapshot ref the model was trained on, if its run recorded it."""
    client = use_mlflow(settings)
    try:
        tags = lineage_tags_of_run(client, run_id_of(client, model_uri))
    except Exception:  # noqa: BLE001 - a model outside the registry simply has no recorded lineage
        return None
    return tags.get(f"{TAG_PREFIX}training_set")


def model_metadata(model: Any) -> dict[str, Any]:
    """The `metadata` dict of a loaded pyfunc (features, defaults), empty when absent."""
    meta = getattr(getattr(model, "metadata", None), "metadata", None)
    return dict(meta or {})
