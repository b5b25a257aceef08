"""`rankops` commands of the training stage: train, tune, check-model."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.context import SummaryOption, console, fail, run_action, settings_of


def _read_params(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise fail(f"--params {path}: cannot read JSON: {exc}") from None
    if not isinstance(data, dict):
        raise fail(f"--params {path}: expected a JSON object of training params, got {type(data).__name__}")
    return data


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""

    @app.command("train")
    def train_cmd(
        ctx: typer.Context,
        interactive: Annotated[bool, typer.Option("--interactive", help="Live metrics table in the terminal.")] = False,
        resume: Annotated[bool, typer.Option("--resume", help="Continue the last run from its latest checkpoint.")] = False,
        params: Annotated[Path | None, typer.Option("--params", help="JSON of training params (e.g. from `rankops tune`).")] = None,
        training_set: Annotated[str | None, typer.Option("--training-set", help="Snapshot ref table[@id]; default the latest of the feature service.")] = None,
        no_validate: Annotated[bool, typer.Option("--no-validate", help="Skip the validity checks (not for registration).")] = False,
        summary: SummaryOption = None,
    ) -> None:
        """Fine-tune the ELECTRA cross-encoder on a training-set snapshot, tracked in MLflow."""
        from components.common.snapshots import SnapshotNotFound
        from components.common.summary import write_summary
        from components.training.api import ModelInvalid, TrainingError, train
        from components.training.data import TrainingSetError

        settings = settings_of(ctx)
        overrides = _read_params(params)
        callbacks = []
        if interactive:
            from components.training.interactive import LiveTrainingView

            callbacks.append(LiveTrainingView(console=console))
        try:
            result = train(settings, training_set=training_set, params=overrides, callbacks=callbacks,
                           resume=resume, validate=not no_validate)
        except ModelInvalid as exc:
            path = os.path.join(settings.reports_dir, "training", f"validity-{exc.run_id}.json")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Path(path).write_text(json.dumps(exc.report, indent=2, sort_keys=True), encoding="utf-8")
            write_summary(summary, {"run_id": exc.run_id, "tracking_uri": settings.tracking_uri, "model_uri": None,
                                    "validity": exc.report, "validity_report": path, "passed": False})
            raise fail(f"{exc} (report: {path})") from None
        except (TrainingError, TrainingSetError, SnapshotNotFound) as exc:
            raise fail(str(exc)) from None
        finally:
            for cb in callbacks:
                cb.close()
        if not result.run_id:  # a torchrun worker (rank > 0): rank 0 reports
            return
        write_summary(summary, result.to_dict())
        metrics = "  ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items()))
        console.print(f"[green]trained[/green] run {result.run_id} in {result.steps} steps"
                      f"{' (early stop)' if result.stopped_early else ''}: {metrics}")
        console.print(f"model {result.model_uri}  (tracking {result.tracking_uri})")

    @app.command("tune")
    def tune_cmd(
        ctx: typer.Context,
        trials: Annotated[int | None, typer.Option("--trials", min=1, help="Optuna trials (default training.tune_trials).")] = None,
        out: Annotated[Path | None, typer.Option("--out", help="Where to write the best params JSON.")] = None,
        params: Annotated[Path | None, typer.Option("--params", help="Base params JSON every trial starts from.")] = None,
        training_set: Annotated[str | None, typer.Option("--training-set", help="Snapshot ref table[@id].")] = None,
        summary: SummaryOption = None,
    ) -> None:
        """Hyper-parameter search with pruning; each trial is an MLflow child run."""
        from components.common.snapshots import SnapshotNotFound
        from components.training.api import TrainingError
        from components.training.data import TrainingSetError
        from components.training.tune import run_tuning

        settings = settings_of(ctx)
        result = run_action(
            lambda: run_tuning(settings, trials=trials, training_set=training_set, base_params=_read_params(params),
                               out=str(out) if out else None),
            errors=(TrainingError, TrainingSetError, SnapshotNotFound, RuntimeError), summary=summary)
        console.print(f"[green]tuned[/green] {result['completed']} complete / {result['pruned']} pruned trials; "
                      f"best {result['metric']}={result['best_value']:.4f}; params -> {result['params_path']}")

    @app.command("check-model")
    def check_model_cmd(
        ctx: typer.Context,
        model_uri: Annotated[str, typer.Argument(help="MLflow model URI (models:/..., runs:/...).")],
        summary: SummaryOption = None,
    ) -> None:
        """Run the validity checks on a packaged model; exit 1 when any fails."""
        from components.training.validity import check_model

        report = run_action(lambda: check_model(settings_of(ctx), model_uri), summary=summary,
                            record=lambda r: r.to_dict())
        for check in report.checks:
            mark = "[green]ok[/green]  " if check.passed else "[red]FAIL[/red]"
            console.print(f"{mark} {check.name}: {check.detail}")
        if not report.passed:
            raise fail(f"model {model_uri} is not valid")
