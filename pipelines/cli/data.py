"""`rankops data`: generate synthetic raw search logs and list lakehouse snapshots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pipelines.cli.context import SummaryOption, fail, run_action, settings_of

data_app = typer.Typer(help="Raw data: synthetic search logs and versioned lakehouse tables.", no_args_is_help=True)
out_console = Console()


@data_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", help="Output directory (one sub-folder per day).")],
    impressions: Annotated[int, typer.Option("--impressions", min=0, help="Clean impressions in the search log.")] = 20000,
    days: Annotated[int, typer.Option("--days", min=1, help="Days = ingest batches.")] = 3,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 7,
    dirty_share: Annotated[
        float, typer.Option("--dirty-share", min=0.0, max=0.5, help="Share of lines with exactly one defect.")
    ] = 0.02,
    start_date: Annotated[str, typer.Option("--start-date", help="First day, YYYY-MM-DD.")] = "2026-10-01",
    queries: Annotated[
        int | None, typer.Option("--queries", min=1, help="Distinct queries (default: impressions/40, 60..2000).")
    ] = None,
    videos: Annotated[int | None, typer.Option("--videos", min=1, help="Catalogue size (default: 3.5 x queries).")] = None,
    drift: Annotated[
        float, typer.Option("--drift", min=0.0, max=1.0, help=(
            "Drift growing over the days (0 none, 1 strong): user behaviour, new short-form videos, new queries, "
            "stale relevance, topic mix."))
    ] = 0.0,
    summary: SummaryOption = None,
) -> None:
    """Write a realistic, deterministic raw data set (search_log, videos, judgements) under OUT."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from components.common.summary import write_summary
    from components.datagen.generate import generate_dataset

    with Progress(
        TextColumn("[bold]generating[/bold]"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:
        task = bar.add_task("impressions", total=impressions)
        result = run_action(lambda: generate_dataset(
            out, impressions=impressions, days=days, seed=seed, dirty_share=dirty_share, start_date=start_date,
            queries=queries, videos=videos, drift=drift, progress=lambda n: bar.advance(task, n),
        ), errors=(ValueError, FileExistsError))
    kinds = result["kinds"]
    out_console.print(
        f"[green]wrote[/green] {result['lines']:,} lines, {len(result['batches'])} batches, to {out}\n"
        f"  {impressions:,} impressions in {result['elapsed_s']:.1f} s = {result['rows_per_s'] or 0:,} rows/s"
    )
    for kind, k in sorted(kinds.items()):
        bad = sum(k["quarantined"].values())
        out_console.print(f"  {kind:<10} {k['lines']:>9,} lines {k['valid']:>9,} valid {bad:>6,} dirty {k['duplicates']:>6,} dup")
    world = result["world"]
    out_console.print(
        f"  world: {world['queries']:,} queries, {world['videos']:,} videos, {world['judged_pairs']:,} judged pairs\n"
        f"  defect classes: {len(result['defects'])}, files the ETL must ignore: {len(result['ignored_files'])}\n"
        f"  expected ETL accounting: {out / '_generator.json'}"
    )
    write_summary(
        summary,
        {
            "out_dir": str(out),
            "generator_file": str(out / "_generator.json"),
            "batches": result["batches"],
            "params": result["params"],
            "drift": result["drift"],
            "lines": result["lines"],
            "header_lines": result["header_lines"],
            "valid_rows": result["valid_rows"],
            "quarantined_rows": result["quarantined_rows"],
            "duplicate_rows": result["duplicate_rows"],
            "quarantine_reasons": result["quarantine_reasons"],
            "defects": result["defects"],
            "ignored_files": result["ignored_files"],
            "kinds": {kind: {key: k[key] for key in ("lines", "valid", "duplicates")} for kind, k in kinds.items()},
            "elapsed_s": result["elapsed_s"],
            "rows_per_s": result["rows_per_s"],
        },
    )


def snapshot_rows(store: Any, tables: list[str]) -> list[dict[str, Any]]:
    """One dict per snapshot (oldest first per table), with whether it is the published latest."""
    rows = []
    for table in tables:
        latest = store.latest_id(table)
        for snap in store.list(table):
            m = snap.manifest
            rows.append(
                {
                    "table": table,
                    "snapshot_id": snap.snapshot_id,
                    "created_at": m.get("created_at"),
                    "rows": m.get("row_count"),
                    "latest": snap.snapshot_id == latest,
                    "parents": m.get("parents", {}),
                    "git_sha": m.get("git_sha"),
                    "path": snap.path,
                }
            )
    return rows


@data_app.command("versions")
def versions(
    ctx: typer.Context,
    table: Annotated[str | None, typer.Argument(help="One table, e.g. silver/search_log (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the snapshots of every lakehouse table (or one): id, created, rows, published, parents."""
    from components.common.snapshots import SnapshotStore

    settings = settings_of(ctx)
    store = SnapshotStore(settings.lakehouse)
    tables = store.tables()
    if table is not None:
        if table not in tables:
            known = ", ".join(tables) if tables else "none yet"
            raise fail(f"no snapshots of table {table!r} under {store.root} (tables: {known})")
        tables = [table]
    rows = snapshot_rows(store, tables)
    if as_json:
        typer.echo(json.dumps({"lakehouse": str(store.root), "snapshots": rows}, indent=2, default=str))
        return
    if not rows:
        out_console.print(f"the lakehouse {store.root} is empty: run `rankops etl run --input DIR` first")
        return
    view = Table(title=f"snapshots in {store.root}", caption="* = published latest (what later stages read)")
    for col in ("table", "snapshot", "created at", "rows", "*", "parents"):
        view.add_column(col, justify="right" if col == "rows" else "left", no_wrap=col != "parents", overflow="fold")
    for r in rows:
        refs = (str(v) if "@" in str(v) else f"{k}@{v}" for k, v in r["parents"].items())
        parents = "\n".join(ref.rsplit("@", 1)[0] + "@" + ref.rsplit("@", 1)[1][:8] for ref in refs) or "-"
        created = str(r["created_at"] or "")[:16].replace("T", " ")
        view.add_row(r["table"], r["snapshot_id"], created, f"{r['rows']:,}", "[green]*[/green]" if r["latest"] else "", parents)
    out_console.print(view)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
    app.add_typer(data_app, name="data")
