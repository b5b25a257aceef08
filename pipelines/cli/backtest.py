"""`rankops backtest`: rolling-origin evaluation over the lakehouse's time range."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.context import SummaryOption, console, fail, run_action, settings_of


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""

    @app.command("backtest")
    def backtest_cmd(
        ctx: typer.Context,
        windows: Annotated[int, typer.Option("--windows", help="Number of consecutive evaluation windows (K).")],
        horizon_days: Annotated[float | None, typer.Option(
            "--horizon-days", help="Days each window evaluates after its cutoff; default: span / (K + 1).")] = None,
        training_set: Annotated[str | None, typer.Option(
            "--training-set", help="Snapshot ref table[@id]; default: the latest training set.")] = None,
        params: Annotated[str | None, typer.Option("--params", help="Training overrides as JSON, e.g. "
                                                   '\'{"max_steps": 60}\'.')] = None,
        report: Annotated[Path | None, typer.Option("--report", help="Report directory.")] = None,
        version: Annotated[str | None, typer.Option(
            "--version", help="A registered version: backtest its training set and update its model card.")] = None,
        summary: SummaryOption = None,
    ) -> None:
        """Train on the labels up to t, evaluate on (t, t + D], for K windows; print the stability summary."""
        from components.backtest.run import run_backtest
        from components.backtest.windows import BacktestError
        from components.common.snapshots import SnapshotNotFound
        from components.evaluation.frames import EvaluationDataError
        from components.registry.lookup import RegistryError

        try:
            overrides = json.loads(params) if params else None
        except json.JSONDecodeError as exc:
            raise fail(f"--params is not JSON: {exc}") from None
        result = run_action(lambda: run_backtest(settings_of(ctx), windows, horizon_days, training_set=training_set,
                                                 params=overrides, report_dir=report, version=version),
                            errors=(BacktestError, SnapshotNotFound, EvaluationDataError, RegistryError),
                            summary=summary,
                            status=f"backtesting over {windows} window(s)")
        s, metric = result["stability"], result["metric"]
        for row in result["windows"]:
            w = row["window"]
            console.print(f"window {w['index']} ({w['cutoff'][:10]} .. {w['end'][:10]}): {metric} "
                          f"{row['model'][metric]:.4f} vs bm25 {row['bm25'][metric]:.4f} (p={row['p_value']:.3g})")
        console.print(f"[green]backtest[/green] {metric} mean {s['mean']:.4f} ± {s['std']:.4f}, worst window "
                      f"{s['worst_window']} ({s['min']:.4f}); report {result['report_dir']}")
        if version is not None:
            console.print(f"model card of v{version}: {result['model_card'] or 'none (registered without a card)'}")
