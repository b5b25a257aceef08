"""The evaluation task of the click model: log-loss, calibration and F1, against a position prior.

Metrics (scikit-learn) on the test split's impressions: log-loss, Brier score, ROC AUC, the
expected calibration error over `calibration_bins` equal-width bins (with the table of observed
vs predicted CTR per bin), and precision / recall / F1 of "will click" at the probability
threshold with the best F1 on the validation split. Per query, `neg_log_loss` (higher is better,
as scikit-learn names it) is what the platform's paired test compares; slices are position
ranges. The baseline is the click-through rate of each position on the train split, smoothed
towards the overall rate (`prior_smoothing` pseudo-impressions): what a model must beat.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from components.evaluation.tasks import EvaluationTask

from . import NAME
from .model import EPS, probability_metrics


def prepare(frame: pd.DataFrame, settings: Any) -> pd.DataFrame:
    """Every impression is judged (clicked or not): no deduplication, a stable order."""
    return frame.sort_values(["query_id", "video_id", "event_timestamp"], kind="stable").reset_index(drop=True)


def calibration(labels: np.ndarray, probabilities: np.ndarray, bins: int) -> tuple[float, list[dict[str, float]]]:
    """Expected calibration error and the per-bin table, from scikit-learn's calibration_curve."""
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(labels, probabilities, n_bins=bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], probabilities), minlength=bins)  # its bin assignment
    filled = counts[counts > 0]  # calibration_curve drops empty bins, in bin order
    table = [{"bin_low": float(edges[i]), "impressions": int(counts[i]), "predicted": float(p), "observed": float(o)}
             for i, p, o in zip(np.flatnonzero(counts), predicted, observed, strict=True)]
    ece = float(np.sum(filled / len(labels) * np.abs(observed - predicted))) if len(labels) else float("nan")
    return ece, table


def position_slices(positions: pd.Series, lows: list[int]) -> dict[str, np.ndarray]:
    bounds = [*lows[1:], None]
    out = {}
    for low, high in zip(lows, bounds, strict=True):
        name = f"position:{low}" if high == low + 1 else f"position:{low}+" if high is None else f"position:{low}-{high - 1}"
        out[name] = ((positions >= low) & (positions < high if high is not None else True)).to_numpy()
    return out


def evaluate(full: pd.DataFrame, scores: np.ndarray, settings: Any) -> dict[str, Any]:
    """{"overall", "per_query": {"neg_log_loss": {query: value}}, "slices"} of click probabilities `scores`."""
    from components.evaluation.metrics import choose_threshold, pointwise_metrics

    cfg = getattr(settings, NAME)
    scores = np.asarray(scores, dtype=float)
    test_mask, val_mask = (full["split"] == "test").to_numpy(), (full["split"] == "validation").to_numpy()
    judged = scores[test_mask | val_mask]
    if np.isnan(judged).any() or judged.min(initial=0.0) < 0 or judged.max(initial=0.0) > 1:
        raise ValueError(f"the {NAME} task needs click probabilities in [0, 1] for every validation/test impression; "
                         f"got values in [{np.nanmin(judged):.4g}, {np.nanmax(judged):.4g}]"
                         + (" and NaN" if np.isnan(judged).any() else ""))
    test = full[test_mask].reset_index(drop=True)
    y, p = test["label"].to_numpy(int), np.clip(scores[test_mask], EPS, 1 - EPS)
    threshold_from = "validation" if val_mask.any() else "test"
    fit = (full["label"].to_numpy(int)[val_mask], scores[val_mask]) if val_mask.any() else (y, p)
    ece, table = calibration(y, p, cfg.calibration_bins)
    overall = {**probability_metrics(y, p), "ece": ece, "mean_predicted": float(p.mean()), "observed_ctr": float(y.mean()),
               **pointwise_metrics(y, p, choose_threshold(*fit)), "threshold_from": threshold_from,
               "queries": int(test["query_id"].nunique()), "candidates": len(test), "calibration": table}
    per_query = {}
    for qid, rows in test.groupby("query_id", sort=True).indices.items():
        per_query[str(qid)] = probability_metrics(y[rows], p[rows])["neg_log_loss"]
    slices = {}
    for name, mask in position_slices(test["position"], cfg.position_slices).items():
        if mask.any():
            slices[name] = {**probability_metrics(y[mask], p[mask]), "queries": int(test.loc[mask, "query_id"].nunique()),
                            "candidates": int(mask.sum())}
    return {"overall": overall, "per_query": {"neg_log_loss": per_query}, "slices": slices}


def position_prior(full: pd.DataFrame, settings: Any) -> np.ndarray:
    """Each row's position CTR on the train split, smoothed towards the overall train CTR."""
    cfg = getattr(settings, NAME)
    train = full[full["split"] == "train"]
    overall = float(train["label"].mean()) if len(train) else 0.0
    by_position = train.groupby("position")["label"].agg(["sum", "count"])
    ctr = (by_position["sum"] + cfg.prior_smoothing * overall) / (by_position["count"] + cfg.prior_smoothing)
    return full["position"].map(ctr).fillna(overall).to_numpy(float)


def render(metrics: dict[str, Any]) -> str:
    """The Markdown report: model vs position prior, the model's calibration table, the slices."""
    model, prior = metrics["model"], metrics["position_prior"]

    def num(value: Any) -> str:
        return "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)

    keys = ["log_loss", "brier", "auc", "ece", "mean_predicted", "observed_ctr", "precision", "recall", "f1", "threshold"]
    lines = [f"# Evaluation of `{metrics.get('model_uri', 'model')}` ({NAME})", "",
             f"Training set `{metrics.get('training_set')}`, test split: {model.get('candidates')} impressions of "
             f"{model.get('queries')} queries; the position prior scores the same impressions.", "",
             "| metric | model | position prior |", "|---|---|---|"]
    lines += [f"| {k} | {num(model.get(k))} | {num(prior.get(k))} |" for k in keys]
    lines += ["", f"## Calibration of the model ({len(model.get('calibration') or [])} non-empty bins)", "",
              "| bin from | impressions | predicted CTR | observed CTR |", "|---|---|---|---|"]
    lines += [f"| {b['bin_low']:.2f} | {b['impressions']} | {b['predicted']:.4f} | {b['observed']:.4f} |"
              for b in model.get("calibration") or []]
    lines += ["", "## Slices", "", "| slice | impressions | model log_loss | prior log_loss |", "|---|---|---|---|"]
    for name, block in metrics.get("slices", {}).items():
        lines.append(f"| {name} | {block['model'].get('candidates')} | {num(block['model'].get('log_loss'))} | "
                     f"{num(block.get('position_prior', {}).get('log_loss'))} |")
    return "\n".join(lines) + "\n"


TASK = EvaluationTask(name=NAME, baseline_name="position_prior", prepare=prepare, evaluate=evaluate,
                      baseline=position_prior, render=render, confusion_labels=("not clicked", "clicked"))
