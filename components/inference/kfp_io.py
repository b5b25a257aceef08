"""The I/O side of the batch-scoring KFP component: artifacts in, `run_batch_scoring` called, artifacts out."""

from __future__ import annotations

from typing import Any

from components.common.artifacts import SnapshotMeta, snapshot_ref_of
from components.common.kfp_step import kfp_step


@kfp_step
def run_batch_score_op(input_data, scored, metrics, *, env: str = "local", model_uri: str = "",
                       input_ref: str = "", spark_executors: int = 0) -> dict[str, Any]:
    from components.common.config import load_settings
    from components.common.spark import with_executors
    from components.inference.model import model_uri_of
    from components.inference.run import run_batch_scoring

    settings = with_executors(load_settings(env), spark_executors)
    uri = model_uri or model_uri_of(settings, alias=settings.registry.champion_alias)
    ref = input_ref or snapshot_ref_of(input_data) or f"features/training_set_{settings.serving.feature_service}"
    result = run_batch_scoring(settings, model_uri=uri, input_ref=ref)
    scored.uri = result["path"]
    scored.metadata.update(SnapshotMeta.of_ref(result["snapshot"]).to_metadata(
        rows=result["rows"], model_uri=result["model_uri"], model_version=result["model_version"],
        feature_service=result["feature_service"]))
    metrics.log_metric("rows", float(result["rows"]))
    if result.get("pairs_per_s"):
        metrics.log_metric("pairs_per_s", float(result["pairs_per_s"]))
    return result
