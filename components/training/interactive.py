"""`rankops train --interactive`: a rich live view of the same metrics MLflow receives."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table


class LiveTrainingView:
    """A training callback: progress bar, latest step metrics and the validation history."""

    def __init__(self, console=None, history: int = 8):
        self.progress = Progress(TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(), console=console)
        self.task = self.progress.add_task("train", total=None)
        self.step_logs: dict[str, float] = {}
        self.evals: list[tuple[int, dict[str, float]]] = []
        self.history = history
        self.live = Live(self.render(), console=console, refresh_per_second=4, transient=False)
        self.started = False

    def render(self) -> Group:
        step = Table(title="last step", show_header=True, header_style="bold cyan")
        for key in ("train_loss", "learning_rate", "grad_norm", "samples_per_s"):
            step.add_column(key)
        if self.step_logs:
            step.add_row(*(f"{self.step_logs.get(k, float('nan')):.4g}" for k in
                           ("train_loss", "learning_rate", "grad_norm", "samples_per_s")))
        val = Table(title="validation", show_header=True, header_style="bold green")
        keys = sorted({k for _, m in self.evals for k in m})
        val.add_column("step")
        for key in keys:
            val.add_column(key.removeprefix("val_"))
        for s, m in self.evals[-self.history :]:
            val.add_row(str(s), *(f"{m.get(k, float('nan')):.4f}" for k in keys))
        return Group(self.progress, step, val)

    def on_step(self, step: int, total: int, logs: dict[str, Any]) -> None:
        if not self.started:
            self.live.start()
            self.started = True
        self.progress.update(self.task, completed=step, total=total)
        self.step_logs = logs
        self.live.update(self.render())

    def on_evaluate(self, step: int, metrics: dict[str, float]) -> None:
        self.evals.append((step, metrics))

    def on_train_end(self, result) -> None:
        self.close()

    def close(self) -> None:
        if self.started:
            self.live.update(self.render())
            self.live.stop()
            self.started = False
