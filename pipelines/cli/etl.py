"""`rankops etl`: raw files -> bronze -> silver -> gold, quality gate, publish."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipelines.cli.context import SummaryOption, fail, settings_of

etl_app = typer.Typer(help="Medallion ETL (PySpark): bronze, silver, gold, quality gate.", no_args_is_help=True)
out_console = Console()


@etl_app.command("run")
def run(
    ctx: typer.Context,
    input_dir: Annotated[
        Path, typer.Option("--input", help="Raw data directory: <batch>/search_log|videos|judgements/ files.")
    ],
    summary: SummaryOption = None,
) -> None:
    """Ingest new raw files, rebuild silver and gold, gate them, publish all or nothing."""
    from components.common.summary import write_summary
    from components.etl.run import EtlError, QualityGateFailed, run_etl

    settings = settings_of(ctx)
    err = Console(stderr=True)
    try:
        with err.status("[bold]etl[/bold] starting Spark") as status:
            result = run_etl(settings, input_dir, progress=lambda msg: status.update(f"[bold]etl[/bold] {msg}"))
    except QualityGateFailed as exc:
        write_summary(summary, exc.summary)
        _print(exc.summary)
        raise fail(str(exc)) from None
    except EtlError as exc:
        raise fail(str(exc)) from None
    write_summary(summary, result)
    _print(result)


@etl_app.command("collect-impressions")
def collect_impressions_cmd(
    ctx: typer.Context,
    landing: Annotated[Path, typer.Option("--landing", help="The ETL's input folder (what `etl run --input` reads).")],
    spool: Annotated[Path | None, typer.Option(
        "--spool", help="The ranker's impression folder; default serving.impression_log_dir.")] = None,
    batch: Annotated[str | None, typer.Option("--batch", help="Batch folder; default ranker-<UTC date>.")] = None,
    summary: SummaryOption = None,
) -> None:
    """Move the ranker's closed impression files into <landing>/<batch>/impressions/ (each once)."""
    from components.common.summary import write_summary
    from components.etl.collect import CollectError, collect_impressions
    from components.inference.impressions import impression_spool

    settings = settings_of(ctx)
    source = spool or impression_spool(settings)
    try:
        result = collect_impressions(source, landing, stale_s=settings.serving.impression_stale_s, batch=batch,
                                     shadow_keep_s=settings.serving.shadow_keep_s)
    except (CollectError, OSError) as exc:
        raise fail(str(exc)) from None
    write_summary(summary, result)
    out_console.print(f"impressions: {len(result['moved'])} file(s), {result['lines']} line(s) moved to "
                      f"{landing / result['batch'] / 'impressions'}; {result['open']} file(s) still open")
    for path in result["sealed"]:
        out_console.print(f"  closed stale file {path}")
    for path in result["fragments"]:
        out_console.print(f"  [yellow]half-written last line kept aside[/yellow] {path}")
    if result["pruned_shadow"]:
        out_console.print(f"  deleted {len(result['pruned_shadow'])} shadow-score file(s) older than "
                          f"{settings.serving.shadow_keep_s / 86400:g} days")


def _print(result: dict) -> None:
    """A short human summary: counts per kind, reasons, gold rows, where the report is."""
    state = "[green]published[/green]" if result["published"] else "[red]NOT published[/red]"
    out_console.print(
        f"etl run {result['run_id']}: {state} in {result['seconds']:.1f} s; "
        f"{len(result['files_ingested'])} file(s) ingested, {len(result['files_already_ingested'])} already known"
    )
    for kind, k in sorted(result["by_kind"].items()):
        out_console.print(f"  {kind:<10} bronze {k['bronze']:>9,}  silver {k['silver']:>9,}  "
                          f"quarantined {k['quarantined']:>6,}  duplicates {k['duplicates']:>6,}")
    if result["quarantine_reasons"]:
        reasons = ", ".join(f"{r} {n}" for r, n in result["quarantine_reasons"].items())
        out_console.print(f"  quarantine reasons: {reasons}")
    gold = ", ".join(f"{t.split('/')[1]} {n:,}" for t, n in result["gold_rows"].items())
    out_console.print(f"  gold rows: {gold}")
    for problem in result["file_problems"]:
        out_console.print(f"  [yellow]file problem[/yellow] {problem['path']}: {problem['problem']}")
    out_console.print(f"  quality report: {result['report_md']}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
    app.add_typer(etl_app, name="etl")
