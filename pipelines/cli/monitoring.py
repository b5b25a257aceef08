"""`rankops monitor`: drift/quality/performance checks, acting on breaches, and the skew guard."""

from __future__ import annotations

from typing import Annotated

import typer

from pipelines.cli.context import SummaryOption, console, fail, run_action, settings_of

BREACH_EXIT = 3


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
    monitor = typer.Typer(help="Data quality, drift and live performance; breach events trigger retraining.",
                          no_args_is_help=False)
    app.add_typer(monitor, name="monitor")

    @monitor.callback(invoke_without_command=True)
    def check(
        ctx: typer.Context,
        reference: Annotated[str | None, typer.Option("--reference", help="Snapshot ref (table or table@ID) or a Parquet dir.")] = None,
        current: Annotated[str | None, typer.Option("--current", help="table, table@ID, table@last:N, "
                                                    "table@since:YYYY-MM-DD or a Parquet dir.")] = None,
        report: Annotated[str | None, typer.Option("--report", help="Report directory.")] = None,
        summary: SummaryOption = None,
        trigger: Annotated[bool, typer.Option("--trigger", help="On a breach, start retraining now.")] = False,
        html: Annotated[bool, typer.Option("--html/--no-html", help="Evidently HTML dashboard.")] = True,
        gold_quality: Annotated[bool, typer.Option("--gold-quality/--no-gold-quality",
                                                   help="Re-run the ETL gate's expectations on the latest gold.")] = True,
    ) -> None:
        """Compare CURRENT with REFERENCE; exit 3 and write an event on a breach."""
        if ctx.invoked_subcommand is not None:
            return
        if not reference or not current:
            raise fail("give --reference and --current (or a subcommand: act, events, skew)", code=2)
        from components.common.summary import write_summary
        from components.monitoring.run import MonitorInputError, run_monitor

        settings = settings_of(ctx)
        try:
            with console.status("monitoring: quality, drift, performance"):
                result = run_monitor(settings, reference=reference, current=current, report_dir=report, html=html,
                                     gold_quality=gold_quality)
        except MonitorInputError as exc:
            raise fail(str(exc)) from None
        perf = result["performance"]
        console.print(f"drifted columns {result['drift']['drifted']}/{result['drift']['columns']}, "
                      f"NDCG@{perf['k']} {perf['ndcg_current']} (ref {perf['ndcg_reference']}), "
                      f"CTR@{perf['ctr_k']} {perf['ctr_current']}; report {result['report']['html']}")
        if result["breach"] and trigger:
            from components.monitoring.alerts import act_on_event, default_trigger

            result["trigger"] = act_on_event(settings, result["event"]["breach_id"], default_trigger(settings))
        write_summary(summary, result)
        if result["breach"]:
            for b in result["breaches"]:
                console.print(f"[red]breach[/red] {b['check']}: {b['message']}")
            console.print(f"event {result['event']['path']} (act on it: rankops monitor act)")
            raise typer.Exit(BREACH_EXIT)
        console.print("[green]no breach[/green]")

    @monitor.command("act")
    def act(
        ctx: typer.Context,
        breach_id: Annotated[str | None, typer.Argument(help="One event; default every pending one.")] = None,
        summary: SummaryOption = None,
    ) -> None:
        """Start retraining for pending breach events (each breach fires exactly once)."""
        from components.monitoring.alerts import act_on_event, act_on_pending, default_trigger

        settings = settings_of(ctx)
        trig = default_trigger(settings)
        done = run_action(lambda: [act_on_event(settings, breach_id, trig)] if breach_id else act_on_pending(settings, trig),
                          errors=(FileNotFoundError,), summary=summary, record=lambda acted: {"acted": acted})
        for d in done:
            console.print(f"{d['breach_id']}: {'retraining started ' + str(d.get('run_id')) if d['fired'] else d['reason']}")
        if not done:
            console.print("no pending events")

    @monitor.command("events")
    def events(ctx: typer.Context, status: Annotated[str | None, typer.Option("--status")] = None) -> None:
        """List breach events (pending, triggered, trigger_failed)."""
        from rich.table import Table

        from components.monitoring.alerts import list_events

        table = Table("breach id", "created", "status", "checks")
        for e in list_events(settings_of(ctx), status):
            table.add_row(e["breach_id"], e["created_at"][:19], e["status"], ", ".join(b["check"] for b in e["breaches"]))
        console.print(table)

    @monitor.command("skew")
    def skew(
        ctx: typer.Context,
        model: Annotated[str | None, typer.Option("--model", help="Default models:/<name>@champion.")] = None,
        training_set: Annotated[str | None, typer.Option("--training-set")] = None,
        sample: Annotated[int, typer.Option("--sample", min=1)] = 50,
        summary: SummaryOption = None,
    ) -> None:
        """Train/serve skew guard: online features and scores vs the training set and batch path."""
        from components.inference.model import ModelNotFound, model_uri_of
        from components.monitoring.skew import check_skew

        settings = settings_of(ctx)
        result = run_action(lambda: check_skew(settings, model_uri=model or model_uri_of(settings),
                                               training_set=training_set, sample=sample),
                            errors=(ModelNotFound, LookupError), summary=summary)
        console.print(f"{result['pairs']} pairs: {result['feature_mismatch_count']} feature mismatches, "
                      f"max |online - batch| score {result['score_max_abs_diff']:.2e}")
        if not result["passed"]:
            raise fail("train/serve skew detected", code=BREACH_EXIT)
