"""A live training plot for notebooks, on the same callback hooks as `rankops train --interactive`.

`train(settings, callbacks=[LivePlot(reference=bm25_reference(settings))])` redraws one
output cell while the run goes: training loss, and validation NDCG@10 / MRR@10 against
steps with BM25's value on the same validation rows as the line to beat.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from components.common.charts import chart
from components.training.metrics import metric_key, ranking_metrics


def bm25_reference(settings, training_set: str | None = None, metrics: Sequence[str] = ("ndcg@10", "mrr@10"),
                   feature_service: str | None = None) -> dict[str, float]:
    """BM25's validation metrics on the rows training validates on, with the in-loop definitions."""
    from components.common.snapshots import SnapshotStore
    from components.evaluation.baseline import score_bm25

    service = feature_service or settings.training.feature_service
    store = SnapshotStore(settings.lakehouse)
    frame = store.read_pandas(store.resolve(training_set or f"features/training_set_{service}"))
    val = frame[frame["split"] == "validation"].reset_index(drop=True)
    if val.empty:
        raise ValueError(f"training set {training_set or service}: no validation rows to score BM25 on")
    return ranking_metrics(val["query_id"], val["video_id"], val["label"], score_bm25(val), tuple(metrics))


class LivePlot:
    """Training callback: one figure, redrawn in place (a notebook display handle) as metrics arrive."""

    def __init__(self, reference: dict[str, float] | None = None, metrics: Sequence[str] = ("ndcg@10", "mrr@10"),
                 redraw_every_s: float = 1.0, display: Callable[..., Any] | None = None):
        self.reference = dict(reference or {})
        self.keys = [metric_key(m) for m in metrics]
        self.redraw_every_s = redraw_every_s
        self.total = 0
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.evals: list[tuple[int, dict[str, float]]] = []
        self.draws = 0
        self._display, self._handle, self._last = display, None, -math.inf

    def on_step(self, step: int, total: int, logs: dict[str, Any]) -> None:
        self.total = total
        self.steps.append(step)
        self.losses.append(float(logs["train_loss"]))
        if time.monotonic() - self._last >= self.redraw_every_s:
            self.draw()

    def on_evaluate(self, step: int, metrics: dict[str, float]) -> None:
        self.evals.append((step, dict(metrics)))
        self.draw()

    def on_train_end(self, result) -> None:
        self.draw()

    def close(self) -> None:
        """Nothing to release: the figure is re-made on each draw (kept for the CLI's callback contract)."""

    @chart
    def figure(self):
        """The current state as a figure: loss on the left, validation metrics and BM25 on the right."""
        from components.common.charts import new_figure

        fig = new_figure(10.0, 3.6)
        loss_ax, metric_ax = fig.subplots(1, 2)
        loss_ax.plot(self.steps, self.losses, color="#1f77b4", linewidth=1, label="training loss")
        val_steps = [s for s, _ in self.evals]
        if any("val_loss" in m for _, m in self.evals):
            loss_ax.plot(val_steps, [m.get("val_loss") for _, m in self.evals], marker="o", color="#ff7f0e",
                         label="validation loss (pointwise BCE)")
        loss_ax.set_xlabel("step")
        loss_ax.set_ylabel("loss")
        loss_ax.legend(loc="best", fontsize=8)
        loss_ax.grid(alpha=0.3)
        colors = ["#2ca02c", "#9467bd", "#d62728", "#8c564b"]
        for key, color in zip(self.keys, colors, strict=False):
            name = key.replace("_at_", "@")
            metric_ax.plot(val_steps, [m.get(f"val_{key}") for _, m in self.evals], marker="o", color=color,
                           label=f"validation {name}")
            if key in self.reference:
                metric_ax.axhline(self.reference[key], color=color, linestyle="--", alpha=0.8,
                                  label=f"BM25 {name} {self.reference[key]:.3f}")
        metric_ax.set_xlim(0, max([self.total, *self.steps, 1]))
        metric_ax.set_ylim(0, 1.02)
        metric_ax.set_xlabel("step")
        metric_ax.legend(loc="lower right", fontsize=8)
        metric_ax.grid(alpha=0.3)
        done = f"step {self.steps[-1]} of {self.total}" if self.steps else "starting"
        fig.suptitle(f"Training ({done})")
        return fig

    def draw(self) -> None:
        """Render the figure as PNG into this callback's output (created on the first draw)."""
        from IPython.display import Image
        from IPython.display import display as ipython_display

        from components.common.charts import png_of

        image = Image(data=png_of(self.figure()), format="png")
        show = self._display or ipython_display
        if self._handle is None:
            self._handle = show(image, display_id=True)
        else:
            self._handle.update(image)
        self.draws += 1
        self._last = time.monotonic()
