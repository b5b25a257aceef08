"""A backtest's record in MLflow: one run per backtest, found again by the model card of a version
trained on the same training set."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.registry.lookup import TAG_PREFIX

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from components.common.config import Settings

KIND = "backtest"


def record_backtest(settings: Settings, result: dict[str, Any]) -> str:
    """Log the stability figures as metrics and backtest.json as the artifact; return the run id."""
    from components.evaluation.run import finite
    from components.registry.evidence import experiment_id
    from components.registry.lookup import use_mlflow

    client = use_mlflow(settings)
    run = client.create_run(experiment_id(settings), tags={
        "mlflow.runName": f"backtest {result['training_set']}", f"{TAG_PREFIX}kind": KIND,
        f"{TAG_PREFIX}training_set": result["training_set"], f"{TAG_PREFIX}metric": result["metric"]})
    for key, value in result["stability"].items():
        if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
            client.log_metric(run.info.run_id, key, float(value))
    client.log_dict(run.info.run_id, finite(result), "backtest.json")
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


def latest_backtest(client: MlflowClient, settings: Settings, training_set: str | None) -> dict[str, Any] | None:
    """{run_id, metric, stability} of the newest backtest of `training_set`, or None."""
    from components.registry.evidence import experiment_id

    if not training_set:
        return None
    runs = client.search_runs([experiment_id(settings)],
                              filter_string=f"tags.`{TAG_PREFIX}kind` = '{KIND}' and "
                                            f"tags.`{TAG_PREFIX}training_set` = '{training_set}'",
                              order_by=["attributes.start_time DESC"], max_results=1)
    if not runs:
        return None
    run = runs[0]
    return {"run_id": run.info.run_id, "metric": run.data.tags.get(f"{TAG_PREFIX}metric"),
            "stability": dict(run.data.metrics)}
