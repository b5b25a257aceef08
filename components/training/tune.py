"""`rankops tune`: an Optuna search over the training knobs, each trial an MLflow child run.

Trials report the validation metric at every evaluation, so the median pruner stops weak
ones early; the best params are written as JSON that `rankops train --params` accepts. The
search space is the configured model family's (`families.py`).
"""

from __future__ import annotations

import json
import os
from typing import Any

from components.training.metrics import metric_key


def suggest_params(trial, family: str = "electra") -> dict[str, Any]:
    """The search space of `family` (each family declares its own)."""
    from components.training.families import get_family

    return get_family(family).call("search_space", trial)


class _PruningCallback:
    def __init__(self, trial, key: str):
        self.trial, self.key = trial, key

    def on_evaluate(self, step: int, metrics: dict[str, float]) -> None:
        import optuna

        self.trial.report(metrics[f"val_{self.key}"], step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step}")


def make_study(cfg):
    """The study `rankops tune` runs: seeded TPE, median pruning, maximising the validation metric.

    Create it yourself (a notebook) and pass it to `run_tuning(study=...)` to keep the trials for
    optuna.visualization.
    """
    import optuna

    sampler = optuna.samplers.TPESampler(seed=cfg.seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    return optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)


def run_tuning(settings, *, trials: int | None = None, training_set: str | None = None,
               base_params: dict[str, Any] | None = None, out: str | None = None, study=None) -> dict[str, Any]:
    """Run the study (default: a new `make_study`) under one MLflow parent run; return the summary
    (best params, value, paths)."""
    import mlflow
    import optuna

    from components.training.api import merge_params, train
    from components.training.tracking import ensure_experiment

    cfg = settings.training
    family = merge_params(cfg, base_params).model.family
    trials = trials or cfg.tune_trials
    key = metric_key(cfg.metric)
    ensure_experiment(settings)
    study = study if study is not None else make_study(cfg)
    base = {"max_steps": cfg.tune_max_steps, "early_stopping_patience": 0, **(base_params or {})}
    with mlflow.start_run(run_name="tune") as parent:
        mlflow.set_tag("rankops.kind", "tuning")

        def objective(trial) -> float:
            params = {**base, **suggest_params(trial, family)}
            try:
                result = train(settings, training_set=training_set, params=params, nested=True,
                               callbacks=[_PruningCallback(trial, key)], log_model=False,
                               tags={"rankops.trial": str(trial.number)})
            except optuna.TrialPruned:
                raise
            trial.set_user_attr("run_id", result.run_id)
            return result.metrics[key]

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study.optimize(objective, n_trials=trials)
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete:
            raise RuntimeError("every tuning trial was pruned or failed; nothing to report")
        best = {**base, **study.best_params}
        out = out or os.path.join(settings.reports_dir, "training", "best_params.json")
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(best, fh, indent=2, sort_keys=True)
        mlflow.log_params({f"best.{k}": v for k, v in study.best_params.items()})
        mlflow.log_metric(f"best_{key}", study.best_value)
        mlflow.log_artifact(out)
        pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
        return {"parent_run_id": parent.info.run_id, "best_params": best, "best_value": study.best_value,
                "metric": key, "trials": len(study.trials), "pruned": pruned, "completed": len(complete),
                "best_trial_run_id": study.best_trial.user_attrs.get("run_id"), "params_path": out,
                "tracking_uri": settings.tracking_uri}
