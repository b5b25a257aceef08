"""`rankops features ...`: register the Feast definitions, materialise, build training sets.

Feast is imported inside the commands (`import feast` costs seconds), never at module top.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli.context import SummaryOption, console, fail, run_action, settings_of

features = typer.Typer(help="Feast feature store: apply, materialize, training sets, online lookups.",
                       no_args_is_help=True)


def _expected_errors() -> tuple[type[BaseException], ...]:
    from components.common.snapshots import SnapshotNotFound
    from components.features.definitions import DefinitionError
    from components.features.feast_registry import RegistryError

    return (DefinitionError, RegistryError, SnapshotNotFound, ValueError)


@features.command("apply")
def apply_cmd(ctx: typer.Context, summary: SummaryOption = None) -> None:
    """Validate the definitions against the latest gold snapshots and register them."""
    settings = settings_of(ctx)
    from components.features.apply import run_apply

    result = run_action(lambda: run_apply(settings), errors=_expected_errors(), summary=summary,
                        status=f"feast apply ({settings.env})")
    console.print(f"[green]applied[/green] {len(result['feature_views'])} views, "
                  f"{len(result['feature_services'])} services ({', '.join(result['feature_services'])}) "
                  f"on {', '.join(result['gold_snapshots'].values())}")


@features.command("materialize")
def materialize_cmd(
    ctx: typer.Context,
    incremental: Annotated[bool, typer.Option("--incremental/--full",
                                              help="Only rows newer than the last run (default), or everything.")] = True,
    summary: SummaryOption = None,
) -> None:
    """Load the registered gold snapshots into the online store."""
    settings = settings_of(ctx)
    from components.features.materialize import run_materialize

    result = run_action(lambda: run_materialize(settings, incremental=incremental), errors=_expected_errors(),
                        summary=summary)
    table = Table("feature view", "window", "rows", title=f"materialize ({result['mode']})")
    for name, v in result["feature_views"].items():
        table.add_row(name, v.get("skipped") or f"{v['start']} .. {v['end']}", str(v["rows_in_window"]))
    console.print(table)


@features.command("training-set")
def training_set_cmd(
    ctx: typer.Context,
    service: Annotated[str | None, typer.Option("--service", help="Feature service (default: profile's).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also copy the training set to this Parquet file.")] = None,
    summary: SummaryOption = None,
) -> None:
    """Point-in-time features for every gold label row, written as a versioned snapshot."""
    settings = settings_of(ctx)
    from components.features.training_set import build_training_set, summarize

    snap = run_action(lambda: build_training_set(settings, service, out=str(out) if out else None),
                      errors=_expected_errors(), summary=summary, status="point-in-time retrieval", record=summarize)
    result = summarize(snap)
    console.print(f"[green]training set[/green] {snap.ref}: {snap.row_count} rows, "
                  f"{len(result['features'])} numeric features")


@features.command("status")
def status_cmd(
    ctx: typer.Context,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when the registry is missing or stale.")] = False,
    summary: SummaryOption = None,
) -> None:
    """Which gold snapshots the registry serves, and whether the lakehouse has moved on."""
    settings = settings_of(ctx)
    from components.features.feast_registry import registry_status

    status = run_action(lambda: registry_status(settings), summary=summary)
    if not status["exists"]:
        console.print(f"registry {status['registry']} ({settings.env}): [red]missing[/red]")
    for table, sid in sorted(status["registered"].items()):
        mark = "[red]stale[/red]" if table in status["stale_tables"] else "[green]current[/green]"
        console.print(f"{table}: registered {sid}, latest {status['latest'][table]} {mark}")
    if check and (not status["exists"] or status["stale_tables"]):
        raise fail(f"feature registry of profile {settings.env!r} is {'stale' if status['exists'] else 'missing'}; "
                   f"run `rankops --env {settings.env} features apply`")


@features.command("config")
def config_cmd(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option("--out", help="Write feature_store.yaml here instead of stdout.")] = None,
) -> None:
    """Print (or write) the feature_store.yaml generated from the profile, for the plain feast CLI."""
    settings = settings_of(ctx)
    from components.features.store_config import render_store_yaml, write_store_yaml

    if out:
        console.print(f"wrote {write_store_yaml(settings, out)}")
    else:
        typer.echo(render_store_yaml(settings), nl=False)


@features.command("online")
def online_cmd(
    ctx: typer.Context,
    query: Annotated[str, typer.Option("--query", help="Query text as typed by the user.")],
    video_id: Annotated[list[str], typer.Option("--video-id", help="Candidate video id (repeat).")],
    service: Annotated[str | None, typer.Option("--service")] = None,
) -> None:
    """Look up online features for one query and some candidates (debugging aid)."""
    settings = settings_of(ctx)
    from components.features.online import get_online_features

    df = run_action(lambda: get_online_features(settings, query, video_id, service), errors=_expected_errors())
    typer.echo(df.to_json(orient="records", indent=2))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
    app.add_typer(features, name="features")
