"""Register a checked model version with its lineage tags, alias it `challenger`, write it back to git."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from components.registry.lineage import data_snapshot_ids, snapshot_chain
from components.registry.lookup import TAG_PREFIX, lineage_tags_of_run, run_id_of, use_mlflow
from components.registry.validity import InvalidModel, check_validity

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from components.common.config import Settings


def existing_version(client: MlflowClient, name: str, run_id: str | None, source: str) -> str | None:
    """The version already registered from this model (reruns reuse it instead of duplicating)."""
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name='{name}'")
    except MlflowException:
        return None
    for mv in versions:
        if mv.tags.get(f"{TAG_PREFIX}model_uri") == source or (run_id and mv.run_id == run_id and mv.source == source):
            return str(mv.version)
    return None


def version_tags(lineage: dict[str, str], chain: list[dict[str, Any]], run_id: str | None, model_uri: str,
                 pipeline_run: str | None) -> dict[str, str]:
    """Tags a version carries: git, data snapshots, feature service, training run, pipeline run."""
    tags = {k: v for k, v in lineage.items() if k.startswith(TAG_PREFIX)}
    tags[f"{TAG_PREFIX}model_uri"] = model_uri
    tags[f"{TAG_PREFIX}training_run_id"] = run_id or ""
    tags[f"{TAG_PREFIX}data_snapshots"] = json.dumps(data_snapshot_ids(chain), sort_keys=True)
    if pipeline_run:
        tags[f"{TAG_PREFIX}pipeline_run_id"] = pipeline_run
    return tags


def register_model(settings: Settings, model_uri: str, *, pipeline_run: str | None = None) -> dict[str, Any]:
    """Validity checks, then register (idempotent per model), tag, alias `challenger`, git write-back."""
    import mlflow

    from components.cards.card_io import create_model_card
    from components.registry.writeback import model_record, write_back

    client = use_mlflow(settings)
    name = settings.registry.model_name
    report = check_validity(settings, model_uri)
    if not report["passed"]:
        raise InvalidModel(model_uri, report)
    run_id = run_id_of(client, model_uri)
    lineage = lineage_tags_of_run(client, run_id)
    pipeline_run = pipeline_run or lineage.get(f"{TAG_PREFIX}pipeline_run_id") or os.environ.get("RANKOPS_PIPELINE_RUN_ID")
    chain = snapshot_chain(settings.lakehouse, lineage.get(f"{TAG_PREFIX}training_set"))
    version = existing_version(client, name, run_id, model_uri)
    reused = version is not None
    previous: dict[str, str] = {}
    if version is None:
        mv = mlflow.register_model(model_uri, name, await_registration_for=60)
        version = str(mv.version)
    else:  # a rerun keeps what the first registration recorded unless told otherwise
        previous = dict(client.get_model_version(name, version).tags or {})
        pipeline_run = pipeline_run or previous.get(f"{TAG_PREFIX}pipeline_run_id")
    tags = version_tags(lineage, chain, run_id, model_uri, pipeline_run)
    tags[f"{TAG_PREFIX}validity"] = json.dumps({"passed": True, "checker": report.get("checker")})
    tags[f"{TAG_PREFIX}registered_at"] = previous.get(f"{TAG_PREFIX}registered_at") or datetime.now(UTC).isoformat()
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, settings.registry.challenger_alias, version)
    card = create_model_card(settings, client, name, version)
    metrics = dict(client.get_run(run_id).data.metrics) if run_id else {}
    record = model_record(name, version, run_id, model_uri, lineage, chain, metrics, pipeline_run)
    writeback = write_back(settings, record) if settings.registry.write_back else {"skipped": "disabled in settings"}
    if writeback.get("commit"):
        client.set_model_version_tag(name, version, f"{TAG_PREFIX}writeback_commit", writeback["commit"])
    if writeback.get("pull_request"):
        client.set_model_version_tag(name, version, f"{TAG_PREFIX}writeback_pull_request",
                                     writeback["pull_request"]["html_url"])
    identity = {k: record[k] for k in ("name", "version", "model_uri", "source", "run_id", "data_snapshots")}
    return {**identity, "alias": settings.registry.challenger_alias, "reused": reused, "tags": tags,
            "validity": report, "writeback": writeback,
            "model_card": card}
