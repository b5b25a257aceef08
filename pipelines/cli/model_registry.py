"""`rankops register`, `rankops lineage`, `rankops reproduce`: the registry stage."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from pipelines.cli.context import SummaryOption, console, run_action, settings_of


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""

    @app.command("register")
    def register_cmd(
        ctx: typer.Context,
        model: Annotated[str, typer.Option("--model", help="MLflow model URI of a trained model.")],
        pipeline_run: Annotated[str | None, typer.Option("--pipeline-run", help="KFP run id to record.")] = None,
        summary: SummaryOption = None,
    ) -> None:
        """Check MODEL, register it with lineage tags, alias it challenger, write it back to git."""
        from mlflow.exceptions import MlflowException

        from components.registry.register import register_model
        from components.registry.validity import InvalidModel

        settings = settings_of(ctx)
        result = run_action(lambda: register_model(settings, model, pipeline_run=pipeline_run),
                            errors=(InvalidModel, MlflowException), summary=summary,
                            status="validity checks and registration")
        wb = result["writeback"]
        console.print(f"[green]registered[/green] {result['name']} v{result['version']} "
                      f"({'existing version' if result['reused'] else 'new'}), alias {result['alias']}")
        if wb.get("commit"):
            console.print(f"  git: {wb['path']} on {wb['branch']} @ {wb['commit'][:10]}"
                          f"{' (pushed)' if wb.get('pushed') else ''}")
        if wb.get("pull_request"):
            console.print(f"  pull request #{wb['pull_request']['number']} into {wb['base']}: "
                          f"{wb['pull_request']['html_url']}")
        if wb.get("error") or wb.get("skipped"):
            console.print(f"  [yellow]git write-back: {wb.get('error') or wb.get('skipped')}[/yellow]")

    @app.command("lineage")
    def lineage_cmd(
        ctx: typer.Context,
        version: Annotated[str, typer.Argument(help="Version number, vN or alias (champion, challenger).")],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
        summary: SummaryOption = None,
    ) -> None:
        """Code, data snapshots (bronze → training set), features, params and metrics of VERSION."""
        from rich.table import Table

        from components.registry.lineage import lineage
        from components.registry.lookup import RegistryError

        info = run_action(lambda: lineage(settings_of(ctx), version), errors=(RegistryError,), summary=summary)
        if as_json:
            typer.echo(json.dumps(info, indent=2, sort_keys=True, default=str))
            return
        from rich.console import Console

        out = Console()
        git = info["git"]
        out.print(f"[bold]{info['name']} v{info['version']}[/bold] aliases {info['aliases'] or '-'}; run {info['run_id']}")
        out.print(f"code: {git['sha']} on {git['branch']} (dirty={git['dirty']}); pipeline run {info['pipeline_run'] or '-'}")
        out.print(f"feature service: {info['feature_service']}; training set {info['training_set']}")
        table = Table(title="data snapshots")
        for col in ("table", "snapshot", "rows", "content hash"):
            table.add_column(col)
        for snap in info["snapshots"]:
            table.add_row(snap.get("table", snap["ref"]), snap.get("snapshot_id", "missing"),
                          str(snap.get("row_count", "")), (snap.get("content_hash") or "")[:16])
        out.print(table)
        out.print("params: " + ", ".join(f"{k}={v}" for k, v in sorted(info["params"].items())))
        out.print("metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(info["metrics"].items())))

    @app.command("card")
    def card_cmd(
        ctx: typer.Context,
        version: Annotated[str, typer.Argument(help="Version number, vN or alias (champion, challenger).")],
        html: Annotated[bool, typer.Option("--html", help="Print the HTML card's path instead of the Markdown's.")] = False,
        open_it: Annotated[bool, typer.Option("--open", help="Also open the HTML card in the default browser.")] = False,
    ) -> None:
        """Download the model card of VERSION and print its local path."""
        from mlflow.exceptions import MlflowException

        from components.cards.card_io import fetch_card
        from components.registry.lookup import RegistryError

        paths = run_action(lambda: fetch_card(settings_of(ctx), version), errors=(RegistryError, MlflowException))
        typer.echo(paths["html"] if html else paths["markdown"])
        if open_it:
            import webbrowser
            from pathlib import Path

            webbrowser.open(Path(paths["html"]).resolve().as_uri())

    @app.command("reproduce")
    def reproduce_cmd(
        ctx: typer.Context,
        version: Annotated[str, typer.Argument(help="Version number, vN or alias.")],
        summary: SummaryOption = None,
    ) -> None:
        """Re-train VERSION from its commit (tmp worktree), snapshot and params; compare the weights."""
        from components.registry.lookup import RegistryError
        from components.registry.reproduce import ReproduceError, reproduce

        result = run_action(lambda: reproduce(settings_of(ctx), version), errors=(RegistryError, ReproduceError),
                            summary=summary, status=f"re-training {version} from its recorded code and data")
        if result["identical"]:
            console.print(f"[green]reproduced[/green] v{result['version']} from {result['git_sha'][:10]}: "
                          f"weights identical ({result['tensors']} tensors and weight files; run {result['run_id']})")
        else:
            console.print(f"[yellow]v{result['version']} re-trained but weights differ[/yellow]: "
                          f"max abs diff {result.get('max_abs_diff')} {result.get('detail', '')}")
            raise typer.Exit(3)
