"""Staging checks before a promotion request: the challenger must behave as serving expects.

On a fixed set of test queries: batch scoring works (one finite float per candidate,
deterministic), the online contract holds (scoring one query's candidates alone gives the
same scores and order as in the batch), and a query's rerank fits the latency budget.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from components.common.config import Settings


def fixed_set(full: pd.DataFrame, n_queries: int) -> pd.DataFrame:
    """The first `n_queries` test queries by id with all their candidates (the same set every time)."""
    from components.evaluation.frames import TEST_SPLITS, split_mask

    test = full[split_mask(full, TEST_SPLITS)]
    queries = sorted(test["query_id"].astype(str).unique())[:n_queries]
    return test[test["query_id"].astype(str).isin(queries)].sort_values(["query_id", "video_id"]).reset_index(drop=True)


def check_scoring(predict, frame: pd.DataFrame, inputs: pd.DataFrame, budget_ms: float) -> dict[str, Any]:
    """Run the checks with `predict(inputs) -> scores`; every check reports, none raises."""
    checks: list[dict[str, Any]] = []

    def add(name: str, passed: bool, detail: str) -> None:
        checks.append({"name": name, "passed": bool(passed), "detail": detail})

    try:
        batch = np.asarray(predict(inputs), dtype=float).reshape(-1)
        again = np.asarray(predict(inputs), dtype=float).reshape(-1)
    except Exception as exc:  # noqa: BLE001 - a model that cannot batch-score fails the check, whatever the error
        add("batch scoring", False, f"{type(exc).__name__}: {exc}")
        return {"passed": False, "checks": checks}
    add("batch scoring", len(batch) == len(inputs) and bool(np.isfinite(batch).all()),
        f"{len(batch)} scores for {len(inputs)} candidates")
    add("deterministic", np.array_equal(batch, again), "two identical batch calls")
    latencies, mismatched, errors = [], [], []
    for qid, rows in frame.groupby("query_id", sort=True).indices.items():
        t0 = time.perf_counter()
        try:
            alone = np.asarray(predict(inputs.iloc[rows].reset_index(drop=True)), dtype=float).reshape(-1)
        except Exception as exc:  # noqa: BLE001 - a query serving cannot score fails the contract, whatever the error
            latencies.append((time.perf_counter() - t0) * 1000)
            errors.append(f"query {qid}: {type(exc).__name__}: {exc}")
            continue
        latencies.append((time.perf_counter() - t0) * 1000)
        same = len(alone) == len(rows) and np.allclose(alone, batch[rows], atol=1e-4)
        same = same and list(np.argsort(-alone, kind="stable")) == list(np.argsort(-batch[rows], kind="stable"))
        if not same:
            mismatched.append(str(qid))
    failed = len(mismatched) + len(errors)
    add("online contract", not failed,
        f"per-query scores/order equal batch for {len(latencies) - failed}/{len(latencies)} queries"
        + (f"; differ: {mismatched[:5]}" if mismatched else "")
        + (f"; failed: {'; '.join(errors[:5])}" if errors else ""))
    p95 = float(np.percentile(latencies, 95)) if latencies else 0.0
    add("latency budget", p95 <= budget_ms, f"p95 {p95:.1f} ms per query rerank (budget {budget_ms:.0f} ms)")
    return {"passed": all(c["passed"] for c in checks), "checks": checks, "queries": len(latencies),
            "candidates": int(len(inputs)), "latency_p95_ms": p95}


def run_staging_checks(settings: Settings, model_uri: str, training_set: str | None = None) -> dict[str, Any]:
    """Load the challenger as serving would and run the checks on the fixed query set."""
    import mlflow

    from components.evaluation.frames import feature_columns, model_input
    from components.evaluation.run import load_frame
    from components.registry.lookup import model_metadata, use_mlflow

    use_mlflow(settings)
    snap, full = load_frame(settings, training_set, model_uri)
    frame = fixed_set(full, settings.promotion.staging_queries)
    try:
        model = mlflow.pyfunc.load_model(model_uri)
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        return {"passed": False, "checks": [{"name": "loads", "passed": False, "detail": str(exc)}],
                "training_set": snap.ref}
    meta = model_metadata(model)
    inputs = model_input(frame, feature_columns(full, snap.manifest.get("extra"), meta), meta.get("defaults"))
    report = check_scoring(model.predict, frame, inputs, settings.promotion.latency_budget_ms)
    report["checks"].insert(0, {"name": "loads", "passed": True, "detail": model_uri})
    return {**report, "training_set": snap.ref, "model_uri": model_uri}
