"""I/O of the backtest: per window a point-in-time training set, a trained model, metrics vs BM25.

The training-set snapshot is already point-in-time correct (Feast joined each label with the
features as of its event time), so cutting it at t gives exactly what training at t could see.
Each window's rows become an unpublished snapshot `features/backtest_<service>` that the real
trainer reads; the CLI and the KFP pipeline's ParallelFor both call `run_window`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.backtest.windows import BacktestError, Window, plan_windows, stability, window_frame

if TYPE_CHECKING:
    from components.common.config import Settings

REPORTED = ("ndcg@10", "mrr@10", "map", "recall@10", "queries", "candidates")


def load_full(settings: Settings, training_set: str | None):
    from components.evaluation.frames import dedupe_pairs, load_training_set

    snap, frame = load_training_set(settings, training_set)
    if "event_timestamp" not in frame.columns:
        raise BacktestError(f"{snap.ref} has no event_timestamp: a backtest needs the labels' times")
    return snap, dedupe_pairs(frame)


def plan(settings: Settings, windows: int, horizon_days: float | None, training_set: str | None = None) -> dict[str, Any]:
    snap, full = load_full(settings, training_set)
    ts = full["event_timestamp"]
    planned = plan_windows(ts.min(), ts.max(), windows, horizon_days)
    return {"training_set": snap.ref, "windows": [w.to_dict() for w in planned]}


def window_snapshot(settings: Settings, training_set: str, window: Window):
    """(source snapshot, the window's frame, its unpublished snapshot `features/backtest_<service>`)."""
    from components.common.snapshots import SnapshotStore

    snap, full = load_full(settings, training_set)
    frame = window_frame(full, window)
    extra = dict(snap.manifest.get("extra") or {})
    service = extra.get("feature_service") or settings.training.feature_service
    wsnap = SnapshotStore(settings.lakehouse).write(
        f"features/backtest_{service}", frame, parents={"source": snap.ref}, publish=False,
        extra={**extra, "backtest_window": window.to_dict()})
    return snap, frame, wsnap


def train_window(settings: Settings, source: str, wsnap, window: Window, params: dict[str, Any] | None, *,
                 log_model: bool):
    from components.training.api import train

    return train(settings, training_set=wsnap.ref, params=params, log_model=log_model, validate=False,
                 tags={"rankops.backtest_window": str(window.index), "rankops.backtest_of": source})


def train_origin(settings: Settings, training_set: str, first: Window, params: dict[str, Any] | None = None) -> str:
    """The model trained at the first cutoff, kept in MLflow: every window also scores it, which shows how a
    model that is not retrained ages on drifting data."""
    snap, _, wsnap = window_snapshot(settings, training_set, first)
    return str(train_window(settings, snap.ref, wsnap, first, params, log_model=True).model_uri)


def run_window(settings: Settings, training_set: str, window: Window, params: dict[str, Any] | None = None,
               origin_uri: str | None = None) -> dict[str, Any]:
    """Train on the window's past (window 0 is the origin model itself), score its range with that model, the
    origin model and BM25, test the retrained model against BM25."""
    import numpy as np

    from components.evaluation.compare import decide
    from components.evaluation.evaluate import evaluate_scores, scored_rows
    from components.evaluation.frames import feature_columns, model_input
    from components.evaluation.run import score_baseline, score_model
    from components.registry.lookup import use_mlflow

    use_mlflow(settings)  # the origin model is read from the profile's MLflow, whatever ran before in this process
    snap, frame, wsnap = window_snapshot(settings, training_set, window)
    extra = dict(snap.manifest.get("extra") or {})
    origin = score_model(origin_uri, frame, extra) if origin_uri else None
    if origin is not None and window.index == 0:
        scores, run_id = origin, None
    else:
        result = train_window(settings, snap.ref, wsnap, window, params, log_model=False)
        rows = scored_rows(frame)
        scores, run_id = np.full(len(frame), np.nan), result.run_id
        scores[rows] = result.scorer.score(model_input(frame[rows], feature_columns(frame, extra, None),
                                                       extra.get("defaults")))
    cfg = settings.evaluation
    model_eval, bm25_eval = evaluate_scores(frame, scores, cfg), evaluate_scores(frame, score_baseline(frame), cfg)
    decision = decide(bm25_eval, model_eval, cfg, reference_name="bm25", challenger_name=f"window {window.index}")
    split = frame["split"]

    def reported(evaluation: dict[str, Any]) -> dict[str, Any]:
        return {k: evaluation["overall"][k] for k in REPORTED if k in evaluation["overall"]}

    row = {"window": window.to_dict(), "training_set": snap.ref, "window_snapshot": wsnap.ref, "run_id": run_id,
           "train_rows": int((split != "test").sum()), "test_rows": int((split == "test").sum()),
           "model": reported(model_eval), "bm25": reported(bm25_eval), "delta": decision["delta"],
           "p_value": decision["p_value"], "stat_test": decision["stat_test"], "effect_size": decision["effect_size"]}
    if origin is not None:
        row.update(origin=reported(evaluate_scores(frame, origin, cfg)), origin_uri=origin_uri)
    return row


def summarize(settings: Settings, training_set: str, rows: list[dict[str, Any]],
              report_dir: str | Path | None = None) -> dict[str, Any]:
    """The stability summary, the report (backtest.json, .md, .html) and its MLflow run."""
    from components.backtest.record import record_backtest
    from components.backtest.report import render_backtest, render_backtest_html
    from components.evaluation.run import write_json

    rows = sorted(rows, key=lambda r: r["window"]["index"])
    metric = settings.evaluation.primary_metric
    result = {"training_set": training_set, "metric": metric, "windows": rows, "stability": stability(rows, metric),
              "finished_at": datetime.now(UTC).isoformat()}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = Path(report_dir) if report_dir else Path(settings.reports_dir) / "backtest" / stamp
    write_json(out / "backtest.json", result)
    (out / "backtest.md").write_text(render_backtest(result), encoding="utf-8")
    (out / "backtest.html").write_text(render_backtest_html(result), encoding="utf-8")
    run_id = record_backtest(settings, result)  # the model card of a version trained on this set shows it
    return {**result, "report_dir": str(out), "run_id": run_id}


def run_backtest(settings: Settings, windows: int, horizon_days: float | None = None, *,
                 training_set: str | None = None, params: dict[str, Any] | None = None,
                 report_dir: str | Path | None = None, version: str | None = None) -> dict[str, Any]:
    """Plan the windows over the training set's time range, train the origin model, run each window, summarize.

    With `version` (a registered version), the backtest runs on that version's training set and its
    model card is re-rendered with the result (the card's "Backtest stability" section)."""
    if version is not None:
        training_set = version_training_set(settings, version, training_set)
    planned = plan(settings, windows, horizon_days, training_set)
    source, spans = planned["training_set"], [Window.from_dict(w) for w in planned["windows"]]
    origin_uri = train_origin(settings, source, spans[0], params)
    rows = [run_window(settings, source, w, params, origin_uri) for w in spans]
    result = summarize(settings, planned["training_set"], rows, report_dir)
    if version is not None:
        from components.cards.card_io import add_backtest
        from components.registry.lookup import use_mlflow

        card = add_backtest(settings, use_mlflow(settings), version)
        result["model_card"] = card["artifact_uri"] if card else None
    return result


def version_training_set(settings: Settings, version: str, training_set: str | None) -> str:
    """The training set `version` was trained on (a different --training-set would not describe it)."""
    from components.registry.lineage import lineage

    own = lineage(settings, version)["training_set"]
    if not own:
        raise BacktestError(f"v{version} records no training set (tag rankops.training_set): nothing to backtest")
    if training_set is not None and training_set != own:
        raise BacktestError(f"v{version} was trained on {own}, not {training_set}: drop --training-set to "
                            "backtest the version")
    return own
