"""`rankops experiment report`: the verdict of an online experiment from the ranker's impression log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.context import SummaryOption, console, run_action, settings_of

experiment_app = typer.Typer(help="Online experiments (shadow, A/B, interleaving) of the ranker.",
                             no_args_is_help=True)


@experiment_app.command("report")
def report_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The experiment's name, as pinned in serving.experiment.")],
    report: Annotated[Path, typer.Option("--report", help="Directory for report.json and report.html.")],
    impressions: Annotated[Path | None, typer.Option(
        "--impressions", help="Impression log file or directory; default serving.impression_log_dir.")] = None,
    clicks: Annotated[Path | None, typer.Option(
        "--clicks", help="Click log ({request_id, video_id, position, ts} lines), file or directory; default: "
        "the clicks-*.jsonl files beside the impressions.")] = None,
    alpha: Annotated[float, typer.Option("--alpha", min=0.0, max=1.0, help="Significance level of the verdict.")] = 0.05,
    k: Annotated[int, typer.Option("--k", min=1, help="Cut-off of CTR@k and top-k overlap.")] = 10,
    summary: SummaryOption = None,
) -> None:
    """Per-arm CTR@k (A/B), wins/ties/losses (interleaving) or agreement (shadow), and a verdict with its p-value."""
    from components.experiments.report import ExperimentReportError, run_report
    from components.inference.impressions import impression_spool
    from components.registry.transfer import public_uri

    settings = settings_of(ctx)
    source = impressions or impression_spool(settings)
    result = run_action(lambda: run_report(name, report, source, clicks, alpha=alpha, k=k,
                                                   registry=public_uri(settings.tracking_uri)),
                        errors=(ExperimentReportError,), summary=summary, status=f"analysing experiment {name}")
    p = result["p_value"]
    console.print(f"[green]experiment {name}[/green] ({result['mode']}): {result['verdict']} "
                  f"(p={'n/a' if p is None else f'{p:.3g}'}) over {result['queries']} queries; "
                  f"report {result['report_dir']}/report.html")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
    app.add_typer(experiment_app, name="experiment")
