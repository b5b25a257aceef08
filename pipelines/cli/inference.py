"""`rankops` commands of the inference stage: batch `score` and the online `serve`."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from pipelines.cli.context import SummaryOption, console, fail, run_action, settings_of


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""

    @app.command("score")
    def score(
        ctx: typer.Context,
        model: Annotated[str | None, typer.Option("--model", help="models:/NAME@ALIAS, models:/NAME/V or runs:/...; "
                                                  "default models:/<registry.model_name>@champion.")] = None,
        input_ref: Annotated[str | None, typer.Option("--input", help="Snapshot ref (table or table@ID) or Parquet dir; "
                                                      "default the latest training set.")] = None,
        out: Annotated[str | None, typer.Option("--out", help="Lakehouse table of the scored snapshot.")] = None,
        batch_size: Annotated[int | None, typer.Option("--batch-size", min=1)] = None,
        summary: SummaryOption = None,
    ) -> None:
        """Score every (query, candidate) pair in Spark and write a versioned scored snapshot."""
        from components.inference.model import ModelNotFound, model_uri_of
        from components.inference.run import ScoringInputError, run_batch_scoring

        settings = settings_of(ctx)
        uri = model or model_uri_of(settings, alias=settings.registry.champion_alias)
        ref = input_ref or f"features/training_set_{settings.serving.feature_service}"
        result = run_action(
            lambda: run_batch_scoring(settings, model_uri=uri, input_ref=ref, out_table=out, batch_size=batch_size),
            errors=(ModelNotFound, ScoringInputError), summary=summary, status=f"scoring {ref} with {uri}")
        console.print(f"[green]scored[/green] {result['rows']} pairs with {result['model_uri']} -> "
                      f"{result['snapshot']} ({result['pairs_per_s']} pairs/s)")

    @app.command("serve")
    def serve(
        ctx: typer.Context,
        port: Annotated[int | None, typer.Option("--port", help="Default serving.port (8080).")] = None,
        host: Annotated[str | None, typer.Option("--host", help="Default serving.host.")] = None,
        model_name: Annotated[str | None, typer.Option("--model-name", envvar="MODEL_NAME")] = None,
        model_version: Annotated[str | None, typer.Option("--model-version", envvar="MODEL_VERSION",
                                                          help="Pin a version (wins over --alias).")] = None,
        alias: Annotated[str | None, typer.Option("--alias", help="Registry alias (default champion).")] = None,
    ) -> None:
        """Run the online ranker (POST /rerank, /healthz, /readyz, /metrics, GET /experiment, POST /admin/reload)."""
        from components.inference.model import model_uri_of
        from components.inference.server import run_server

        settings = settings_of(ctx)
        uri = model_uri_of(settings, name=model_name or None, version=(model_version or "").strip() or None,
                           alias=alias)
        console.print(f"serving {uri} on {host or settings.serving.host}:{port or settings.serving.port} "
                      f"(pid {os.getpid()})")
        try:
            run_server(settings, port=port, host=host, model_uri=uri)
        except ImportError as exc:
            raise fail(f"online feature store unavailable: {exc}") from None
