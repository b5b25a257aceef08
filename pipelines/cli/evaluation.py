"""`rankops evaluate` and `rankops compare`: model vs BM25, challenger vs champion."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.context import SummaryOption, console, run_action, settings_of


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""

    @app.command("evaluate")
    def evaluate(
        ctx: typer.Context,
        model: Annotated[str, typer.Option("--model", help="MLflow model URI (runs:/, models:/name/3, models:/name@champion).")],
        training_set: Annotated[str | None, typer.Option("--training-set", help="Snapshot ref table[@id]; default: the model's own, else the latest.")] = None,
        report: Annotated[Path | None, typer.Option("--report", help="Report directory (metrics.json, per_query.json, report.md).")] = None,
        summary: SummaryOption = None,
    ) -> None:
        """Ranking + pointwise metrics of MODEL and of BM25 on the test split, with slices."""
        from components.common.snapshots import SnapshotNotFound
        from components.evaluation.frames import EvaluationDataError
        from components.evaluation.run import ScoringError, run_evaluation
        from components.evaluation.tasks import evaluation_task

        settings = settings_of(ctx)
        result = run_action(lambda: run_evaluation(settings, model, training_set=training_set, report_dir=report),
                            errors=(SnapshotNotFound, EvaluationDataError, ScoringError), summary=summary,
                            status="scoring model and BM25 on the test split")
        primary = settings.evaluation.primary_metric
        base = evaluation_task(settings).baseline_name
        m, b = result["model"], result[base]
        console.print(
            f"[green]evaluated[/green] {model} on {result['training_set']}: {primary} {m[primary]:.4f} "
            f"({base} {b[primary]:.4f}), f1 {m['f1']:.4f}; report {result['report_dir']}"
        )

    @app.command("compare")
    def compare(
        ctx: typer.Context,
        challenger: Annotated[str, typer.Option("--challenger", help="Registered version (3, v3) or alias.")],
        champion: Annotated[str | None, typer.Option("--champion", help="Reference version; default the champion alias.")] = None,
        training_set: Annotated[str | None, typer.Option("--training-set", help="Snapshot ref; default the challenger's.")] = None,
        report: Annotated[Path | None, typer.Option("--report", help="Report directory (decision.json, decision.md).")] = None,
        summary: SummaryOption = None,
    ) -> None:
        """Challenger vs champion (or BM25 when there is none) with a paired significance test."""
        from components.common.snapshots import SnapshotNotFound
        from components.evaluation.compare_run import run_compare
        from components.evaluation.frames import EvaluationDataError
        from components.evaluation.run import ScoringError
        from components.registry.lookup import RegistryError

        settings = settings_of(ctx)
        decision = run_action(
            lambda: run_compare(settings, challenger, champion=champion, training_set=training_set, report_dir=report),
            errors=(SnapshotNotFound, EvaluationDataError, ScoringError, RegistryError, ValueError), summary=summary,
            status="scoring challenger and reference on the same candidates")
        colour = "green" if decision["promote"] else "yellow"
        console.print(
            f"[{colour}]{decision['verdict'].upper()}[/{colour}] {decision['challenger']} vs {decision['reference']}: "
            f"{decision['metric']} delta {decision['delta']:+.4f}, p={decision['p_value']:.4g}; "
            f"report {decision['report_dir']}"
        )
        for reason in decision["reasons"]:
            console.print(f"  - {reason}")
