"""`rankops promote request|approve|reject|rollback|history|status`: GitOps promotion with a human decision."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.context import console, fail, settings_of

Summary = Annotated[Path | None, typer.Option("--summary", help="Write a JSON summary here.")]


def _expected_errors() -> tuple[type[BaseException], ...]:
    from mlflow.exceptions import MlflowException

    from components.common.snapshots import SnapshotNotFound
    from components.evaluation.frames import EvaluationDataError
    from components.evaluation.run import ScoringError
    from components.promotion.records import HistoryCorrupt
    from components.promotion.state import PromotionError
    from components.registry.gitops import GitError
    from components.registry.lookup import RegistryError

    return (PromotionError, GitError, RegistryError, HistoryCorrupt, SnapshotNotFound, EvaluationDataError,
            ScoringError, MlflowException)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
    promote = typer.Typer(help="Promotion to prod through the GitOps repo, approved by a person.", no_args_is_help=True)
    app.add_typer(promote, name="promote")

    @promote.command("request")
    def request_cmd(
        ctx: typer.Context,
        version: Annotated[str, typer.Argument(help="Registered version (3, v3) or alias.")],
        decision: Annotated[Path | None, typer.Option("--decision", help="decision.json of an earlier `rankops compare` (default: compare now).")] = None,
        by: Annotated[str | None, typer.Option("--by", help="Who asks (default: the OS user).")] = None,
        force: Annotated[bool, typer.Option("--force", help="Open the request even when compare says keep.")] = False,
        summary: Summary = None,
    ) -> None:
        """Staging checks, then a branch + commit pinning VERSION in the prod overlay (the pull request)."""
        from components.common.summary import write_summary
        from components.promotion.request import request_promotion

        settings = settings_of(ctx)
        try:
            loaded = json.loads(decision.read_text(encoding="utf-8")) if decision else None
            with console.status(f"comparing and staging-checking {version}"):
                result = request_promotion(settings, version, decision=loaded, by=by, force=force)
        except (*_expected_errors(), OSError, json.JSONDecodeError) as exc:
            raise fail(str(exc)) from None
        write_summary(summary, result)
        d = result["decision"]
        console.print(f"[green]request {result['request_id']}[/green]: v{result['version']} (champion "
                      f"{result['champion_seen'] or 'none'}), delta {d['delta']:+.4f}, p={d['p_value']:.4g}; "
                      f"branch {result['branch']}")
        console.print(f"  approve with: rankops promote approve {result['request_id']} --by NAME")

    @promote.command("approve")
    def approve_cmd(
        ctx: typer.Context,
        request: Annotated[str, typer.Argument(help="Request id from `promote request`.")],
        by: Annotated[str, typer.Option("--by", help="Name of the approver.")],
        note: Annotated[str | None, typer.Option("--note", help="Why.")] = None,
        summary: Summary = None,
    ) -> None:
        """Merge the pin into main, move the champion alias, record the approval."""
        from components.common.summary import write_summary
        from components.promotion.decisions import approve_request

        try:
            entry = approve_request(settings_of(ctx), request, by=by, note=note)
        except _expected_errors() as exc:
            raise fail(str(exc)) from None
        write_summary(summary, entry)
        before = f"v{entry['from_version']}" if entry["from_version"] else "none"
        console.print(f"[green]approved[/green] {request}: champion {before} -> v{entry['to_version']} "
                      f"by {by} (main @ {entry['commit'][:10]})")

    @promote.command("reject")
    def reject_cmd(
        ctx: typer.Context,
        request: Annotated[str, typer.Argument(help="Request id from `promote request`.")],
        by: Annotated[str, typer.Option("--by", help="Name of the reviewer.")],
        note: Annotated[str, typer.Option("--note", help="Why (required).")],
        summary: Summary = None,
    ) -> None:
        """Record a rejection; the champion and the prod pin stay."""
        from components.common.summary import write_summary
        from components.promotion.decisions import reject_request

        try:
            entry = reject_request(settings_of(ctx), request, by=by, note=note)
        except _expected_errors() as exc:
            raise fail(str(exc)) from None
        write_summary(summary, entry)
        console.print(f"[yellow]rejected[/yellow] {request} (v{entry['to_version']}) by {by}: {note}")

    @promote.command("rollback")
    def rollback_cmd(
        ctx: typer.Context,
        to: Annotated[str | None, typer.Option("--to", help="Version to restore (default: the previous champion).")] = None,
        by: Annotated[str | None, typer.Option("--by", help="Who rolls back (default: the OS user).")] = None,
        note: Annotated[str | None, typer.Option("--note", help="Why.")] = None,
        summary: Summary = None,
    ) -> None:
        """Restore the previous champion: alias and prod pin, audited."""
        from components.common.summary import write_summary
        from components.promotion.decisions import rollback

        try:
            entry = rollback(settings_of(ctx), to=to, by=by, note=note)
        except _expected_errors() as exc:
            raise fail(str(exc)) from None
        write_summary(summary, entry)
        console.print(f"[green]rolled back[/green] champion v{entry['from_version']} -> v{entry['to_version']} "
                      f"(main @ {entry['commit'][:10]})")

    @promote.command("history")
    def history_cmd(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")] = False,
        limit: Annotated[int, typer.Option("--limit", help="Newest N entries.")] = 50,
    ) -> None:
        """The audit trail, newest first."""
        from rich.console import Console
        from rich.table import Table

        from components.promotion.decisions import history

        try:
            entries = history(settings_of(ctx))[:limit]
        except _expected_errors() as exc:
            raise fail(str(exc)) from None
        if as_json:
            typer.echo(json.dumps(entries, indent=2, sort_keys=True, default=str))
            return
        table = Table(title="promotion history (newest first)")
        for col in ("#", "at", "action", "from", "to", "by", "request", "delta", "p", "note"):
            table.add_column(col)
        for e in entries:
            d = e.get("decision") or {}
            table.add_row(str(e.get("seq")), str(e.get("at", ""))[:19], e.get("action", ""), str(e.get("from_version")),
                          str(e.get("to_version")), str(e.get("by")), str(e.get("request_id") or "-"),
                          f"{d['delta']:+.4f}" if d.get("delta") is not None else "-",
                          f"{d['p_value']:.3g}" if d.get("p_value") is not None else "-", e.get("note") or "")
        Console().print(table)

    @promote.command("status")
    def status_cmd(ctx: typer.Context) -> None:
        """Champion alias vs prod pin on main (they must agree)."""
        from components.promotion.state import read_main, repo_of
        from components.registry.lookup import alias_version, use_mlflow

        settings = settings_of(ctx)
        try:
            main = read_main(settings, repo_of(settings))
            champion = alias_version(use_mlflow(settings), settings.registry.model_name, settings.registry.champion_alias)
        except _expected_errors() as exc:
            raise fail(str(exc)) from None
        ok = champion == main.pin
        colour = "green" if ok else "yellow"
        console.print(f"[{colour}]champion alias {champion}, prod pin {main.pin}[/{colour}] "
                      f"({'consistent' if ok else 'differ: the next decision repairs the alias from git, or roll back'})")
