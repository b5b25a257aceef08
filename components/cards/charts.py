"""Figures of the model card."""

from __future__ import annotations

from typing import Any

from components.common.charts import BAD_COLOR, MODEL_COLOR, chart, new_figure


@chart
def importance_figure(importance: dict[str, Any]):
    """Horizontal bars: the metric drop per feature (most important on top), negative drops in red."""
    rows = importance["features"][::-1]
    fig = new_figure(7.0, max(2.4, 0.42 * len(rows) + 1.2))
    ax = fig.add_subplot()
    values = [r["importance"] for r in rows]
    ax.barh([r["feature"] for r in rows], values, xerr=[r["std"] for r in rows],
            color=[MODEL_COLOR if v >= 0 else BAD_COLOR for v in values], capsize=3)
    ax.axvline(0, color="#444", linewidth=0.8)
    ax.set_xlabel(f"{importance['metric']} drop when shuffled")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"Permutation importance ({importance['queries']} validation queries)")
    return fig
