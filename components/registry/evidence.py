"""A comparison's record in MLflow, so a promotion request can prove which comparison backs it.

The comparison becomes an MLflow run (tag `rankops.kind=compare`) holding the challenger,
the champion it was measured against, the verdict and the SHA-256 of the decision report;
the report itself (decision.json) is the run's artifact. The decision carries the run id and
the hash, so whoever receives it can check it against the run instead of trusting the file.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from components.registry.lookup import TAG_PREFIX

if TYPE_CHECKING:
    from components.common.config import Settings

KIND = "compare"
UNHASHED = ("report_sha256", "report_dir")  # the hash itself, and where this copy happens to lie


def as_stored(decision: dict[str, Any]) -> dict[str, Any]:
    """The decision as decision.json holds it: plain JSON types, NaN/inf as null."""
    from components.evaluation.run import finite

    return json.loads(json.dumps(finite(decision), default=str, allow_nan=False))


def report_digest(decision: dict[str, Any]) -> str:
    """SHA-256 of the decision's canonical JSON (sorted keys, no spaces), without the unhashed keys."""
    content = {k: v for k, v in as_stored(decision).items() if k not in UNHASHED}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def experiment_id(settings: Settings) -> str:
    from components.training.tracking import ensure_experiment

    return ensure_experiment(settings)


def record_comparison(settings: Settings, decision: dict[str, Any]) -> dict[str, str]:
    """Log the decision as an MLflow run; returns the fields to add to it: compare_run_id, report_sha256."""
    from components.registry.lookup import use_mlflow

    client = use_mlflow(settings)
    exp = experiment_id(settings)
    run = client.create_run(exp, tags={"mlflow.runName": f"compare v{decision.get('challenger_version')}",
                                       f"{TAG_PREFIX}kind": KIND})
    run_id = run.info.run_id
    digest = report_digest({**decision, "compare_run_id": run_id})
    tags = {"model_name": decision.get("model_name"), "challenger_version": decision.get("challenger_version"),
            "champion_version": decision.get("champion_version") or "", "reference": decision.get("reference"),
            "verdict": "promote" if decision.get("promote") else "keep", "report_sha256": digest,
            "training_set": decision.get("training_set")}
    try:
        for key, value in tags.items():
            client.set_tag(run_id, f"{TAG_PREFIX}{key}", str(value if value is not None else ""))
        for key in ("delta", "p_value", "effect_size"):
            value = decision.get(key)
            if isinstance(value, int | float) and value == value:  # NaN stays out of the metrics
                client.log_metric(run_id, key, float(value))
        client.log_dict(run_id, as_stored({**decision, "compare_run_id": run_id, "report_sha256": digest}),
                        "decision.json")
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return {"compare_run_id": run_id, "report_sha256": digest}
