"""`rankops promote request|approve|reject|sync|rollback|history|status`: GitOps promotion with a human decision."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from pipelines.cli.context import SummaryOption, console, fail, run_action, settings_of


def _expected_errors() -> tuple[type[BaseException], ...]:
    from mlflow.exceptions import MlflowException

    from components.common.snapshots import SnapshotNotFound
    from components.evaluation.frames import EvaluationDataError
    from components.evaluation.run import ScoringError
    from components.promotion.records import HistoryCorrupt
    from components.promotion.state import PromotionError
    from components.registry.forge import ForgeError
    from components.registry.gitops import GitError
    from components.registry.lookup import RegistryError
    from components.registry.transfer import TransferError

    return (PromotionError, GitError, RegistryError, HistoryCorrupt, SnapshotNotFound, EvaluationDataError,
            ScoringError, MlflowException, ForgeError, TransferError)


def print_proposal(result: dict) -> None:
    """Where a request or rollback now waits, and who decides it: local mode says that it is local."""
    pull = result.get("pull_request")
    if pull:
        console.print(f"  pull request #{pull['number']}: {pull['html_url']}")
        for warning in result.get("warnings") or []:
            console.print(f"  [yellow]forge: {warning}[/yellow]")
        console.print("  the merge by the CODEOWNERS (data experts) approves it; `rankops promote sync` "
                      "(or the merge event) then moves the champion")
    else:
        console.print(f"  [yellow]local mode (no forge)[/yellow]: branch {result['branch']} in the GitOps repo"
                      f"{' (pushed)' if result.get('pushed') else ''}; nothing was opened on a forge")
        if result.get("action") != "rollback":
            console.print(f"  approve with: rankops promote approve {result['request_id']} --by NAME")


def read_json(path: Path | None) -> Any:
    """The JSON document at `path` (None without one); errors name the file."""
    if path is None:
        return None
    text = path.read_text(encoding="utf-8")  # an OSError names the file itself
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        from components.promotion.state import PromotionError

        raise PromotionError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None


def number(value: Any, spec: str) -> str:
    """`value` formatted with `spec`, or "-" when the decision does not say (a forced request's hand-made file)."""
    return format(value, spec) if isinstance(value, int | float) and not isinstance(value, bool) else "-"


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
        force: Annotated[bool, typer.Option(
            "--force", help="Open the request without a passing, verified comparison (recorded as forced).")] = False,
        online_evidence: Annotated[Path | None, typer.Option(
            "--online-evidence", help="The JSON (or its folder) of `rankops experiment report`: attached to the "
            "request; required when promotion.require_online_evidence is set.")] = None,
        summary: SummaryOption = None,
    ) -> None:
        """Verified comparison + staging checks, then a branch pinning VERSION in the prod overlay (a pull request)."""
        from components.promotion.request import request_promotion

        settings = settings_of(ctx)
        result = run_action(
            lambda: request_promotion(settings, version, decision=read_json(decision), by=by, force=force,
                                      online_evidence=online_evidence),
            errors=(*_expected_errors(), OSError, json.JSONDecodeError), summary=summary,
            status=f"comparing and staging-checking {version}")
        d = result["decision"]
        copied = f" (copy of v{result['source_version']})" if result["version"] != result["source_version"] else ""
        if result.get("reused"):
            console.print(f"[yellow]already requested[/yellow]: request {result['request_id']} is open for "
                          "this version and comparison run; nothing new was opened")
        console.print(f"[green]request {result['request_id']}[/green]: pins v{result['version']}{copied} in "
                      f"{result['target_registry']} (champion {result['champion_seen'] or 'none'}), "
                      f"delta {number(d.get('delta'), '+.4f')}, p={number(d.get('p_value'), '.4g')}"
                      + (" [red]FORCED[/red]" if result["forced"] else f"; comparison run {result['evidence']['compare_run_id']}"))
        print_proposal(result)

    @promote.command("approve")
    def approve_cmd(
        ctx: typer.Context,
        request: Annotated[str, typer.Argument(help="Request id from `promote request`.")],
        by: Annotated[str, typer.Option("--by", help="Name of the approver.")],
        note: Annotated[str | None, typer.Option("--note", help="Why.")] = None,
        summary: SummaryOption = None,
    ) -> None:
        """Merge the pin into main, move the champion alias, record the approval."""
        from components.promotion.decisions import approve_request

        entry = run_action(lambda: approve_request(settings_of(ctx), request, by=by, note=note),
                           errors=_expected_errors(), summary=summary)
        before = f"v{entry['from_version']}" if entry["from_version"] else "none"
        console.print(f"[green]approved[/green] {request} (local mode): champion {before} -> v{entry['to_version']} "
                      f"by {by} (main @ {entry['commit'][:10]})")

    @promote.command("reject")
    def reject_cmd(
        ctx: typer.Context,
        request: Annotated[str, typer.Argument(help="Request id from `promote request`.")],
        by: Annotated[str, typer.Option("--by", help="Name of the reviewer.")],
        note: Annotated[str, typer.Option("--note", help="Why (required).")],
        summary: SummaryOption = None,
    ) -> None:
        """Record a rejection; the champion and the prod pin stay."""
        from components.promotion.decisions import reject_request

        entry = run_action(lambda: reject_request(settings_of(ctx), request, by=by, note=note),
                           errors=_expected_errors(), summary=summary)
        console.print(f"[yellow]rejected[/yellow] {request} (v{entry['to_version']}, local mode) by {by}: {note}")

    @promote.command("rollback")
    def rollback_cmd(
        ctx: typer.Context,
        to: Annotated[str | None, typer.Option("--to", help="Version to restore (default: the previous champion).")] = None,
        by: Annotated[str | None, typer.Option("--by", help="Who rolls back (default: the OS user).")] = None,
        note: Annotated[str | None, typer.Option("--note", help="Why.")] = None,
        summary: SummaryOption = None,
    ) -> None:
        """Restore the previous champion: alias and prod pin, audited."""
        from components.promotion.decisions import rollback

        entry = run_action(lambda: rollback(settings_of(ctx), to=to, by=by, note=note),
                           errors=_expected_errors(), summary=summary)
        if entry.get("request_id"):  # forge mode: the rollback is a pull request
            console.print(f"[green]rollback requested[/green] {entry['request_id']}: v{entry['from_version']} -> "
                          f"v{entry['to_version']}")
            print_proposal(entry)
            return
        console.print(f"[green]rolled back[/green] (local mode) champion v{entry['from_version']} -> "
                      f"v{entry['to_version']} (main @ {entry['commit'][:10]})")

    @promote.command("sync")
    def sync_cmd(
        ctx: typer.Context,
        request: Annotated[str | None, typer.Argument(help="A request id to report on (optional).")] = None,
        event: Annotated[Path | None, typer.Option(
            "--event", help="A GitHub pull_request webhook payload (e.g. $GITHUB_EVENT_PATH); its state is re-read "
            "from the forge.")] = None,
        summary: SummaryOption = None,
    ) -> None:
        """Forge mode: after a merge, move the champion to main's pin (checked against the merged pull request)."""
        from components.promotion.sync import sync

        result = run_action(lambda: sync(settings_of(ctx), request_id=request, event=read_json(event)),
                            errors=(*_expected_errors(), OSError, json.JSONDecodeError), summary=summary)
        if result.get("ignored"):
            console.print(f"[yellow]{result['ignored']}[/yellow]")
            return
        if result["moved"]:
            done = result["completed"]
            before = f"v{result['champion_before']}" if result["champion_before"] else "none"
            console.print(f"[green]champion {before} -> v{result['champion']}[/green] after "
                          f"{done['action']} {done['request_id']} (pull request #{done['pull_request']['number']} "
                          f"merged by {done['pull_request']['merged_by']})")
        else:
            console.print(f"champion v{result['champion']}, prod pin v{result['pin']}: nothing to move")
        recorded = result.get("recorded")
        if recorded:
            console.print(f"  history: {recorded['request_id']} merged by {recorded['by']} recorded on main "
                          f"({recorded['commit'][:10]})")
        for rejected in result.get("rejected") or []:
            if rejected["recorded"]:
                console.print(f"  request {rejected['request_id']}: {rejected['state']} ({rejected['pull_request']})")
        if result.get("request"):
            console.print(f"  request {result['request']['request_id']}: {result['request']['state']}")

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

        entries = run_action(lambda: history(settings_of(ctx))[:limit], errors=_expected_errors())
        if as_json:
            typer.echo(json.dumps(entries, indent=2, sort_keys=True, default=str))
            return
        table = Table(title="promotion history (newest first)")
        for col in ("#", "at", "action", "from", "to", "by", "request", "delta", "p", "note"):
            table.add_column(col)
        for e in entries:
            d = e.get("decision") or {}
            table.add_row(str(e.get("seq")), str(e.get("at", ""))[:19], e.get("action", ""), str(e.get("from_version")),
                          str(e.get("to_version")), str(e.get("by") or e.get("via")), str(e.get("request_id") or "-"),
                          f"{d['delta']:+.4f}" if d.get("delta") is not None else "-",
                          f"{d['p_value']:.3g}" if d.get("p_value") is not None else "-", e.get("note") or "")
        Console().print(table)

    @promote.command("status")
    def status_cmd(ctx: typer.Context) -> None:
        """Champion alias vs prod pin on main (they must agree)."""
        from components.promotion.state import read_main, registries, repo_of
        from components.registry.lookup import alias_version

        settings = settings_of(ctx)
        try:
            main = read_main(settings, repo_of(settings))
            _, target = registries(settings)  # the registry prod reads
            champion = alias_version(target, settings.registry.model_name, settings.registry.champion_alias)
        except _expected_errors() as exc:
            raise fail(str(exc)) from None
        ok = champion == main.pin
        colour = "green" if ok else "yellow"
        repair = ("`rankops promote sync` moves it after a merge" if settings.promotion.forge.kind != "local"
                  else "the next decision repairs the alias from git, or roll back")
        console.print(f"[{colour}]champion alias {champion}, prod pin {main.pin}[/{colour}] "
                      f"({'consistent' if ok else 'differ: ' + repair}; mode {settings.promotion.forge.kind})")
