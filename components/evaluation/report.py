"""Markdown renderings of the evaluation and of the champion/challenger decision."""

from __future__ import annotations

import math
from typing import Any

POINTWISE = ("precision", "recall", "f1", "threshold")


def fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def ranking_keys(block: dict[str, Any]) -> list[str]:
    return [k for k in block if "@" in k or k in ("map", "mrr", "ndcg")]


def render_evaluation(metrics: dict[str, Any]) -> str:
    """The evaluation report: model vs BM25 overall, pointwise, then every slice."""
    model, bm25 = metrics["model"], metrics["bm25"]
    keys = ranking_keys(model)
    parts = [
        f"# Evaluation of `{metrics.get('model_uri', 'model')}`",
        f"Training set `{metrics.get('training_set')}`, test split: {model.get('queries')} judged queries, "
        f"{model.get('candidates')} candidates. BM25 scores the same candidates.",
        "## Ranking",
        table(["metric", "model", "bm25", "delta"], [[k, model[k], bm25.get(k), model[k] - bm25.get(k, math.nan)] for k in keys]),
        f"## Pointwise (threshold chosen on {model.get('threshold_from', 'validation')})",
        table(["metric", "model", "bm25"], [[k, model.get(k), bm25.get(k)] for k in POINTWISE]),
        "## Slices",
    ]
    primary = metrics.get("primary_metric", keys[0] if keys else "")
    rows = []
    for name, block in metrics.get("slices", {}).items():
        m, b = block["model"], block.get("bm25", {})
        rows.append([name, m.get("queries"), m.get(primary), b.get(primary)])
    parts.append(table(["slice", "queries", f"model {primary}", f"bm25 {primary}"], rows))
    return "\n\n".join(parts) + "\n"


def render_decision(decision: dict[str, Any]) -> str:
    """The decision report a reviewer reads before approving a promotion."""
    verdict = "PROMOTE" if decision["promote"] else "KEEP"
    metric = decision["metric"]
    parts = [
        f"# Decision: {verdict} challenger `{decision['challenger']}` vs {decision['reference']}",
        f"Rule: {metric} improves by >= {decision['min_delta']} and the paired {decision['stat_test']} test over "
        f"{decision['queries']} queries gives p < {decision['alpha']}; guarded slices may drop by at most their tolerance.",
        table(
            ["", "value"],
            [
                [f"delta {metric}", decision["delta"]],
                ["p-value", decision["p_value"]],
                ["effect size (paired Cohen's d)", decision["effect_size"]],
                ["wins / ties / losses (queries)", "{W} / {T} / {L}".format(**decision["win_tie_loss"])],
            ],
        ),
        "## Metrics side by side",
        table(
            ["metric", decision["reference"], "challenger", "delta"],
            [[k, v["reference"], v["challenger"], v["delta"]] for k, v in decision["metrics"].items()],
        ),
        "## Slices",
        table(
            ["slice", "queries", "reference", "challenger", "delta", "tolerance", "ok"],
            [[s["slice"], s["queries"], s["reference"], s["challenger"], s["delta"], s["tolerance"], s["ok"]]
             for s in decision["slices"]],
        ),
        "## Reasons",
        "\n".join(f"- {r}" for r in decision["reasons"]),
    ]
    return "\n\n".join(parts) + "\n"
