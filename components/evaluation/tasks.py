"""Evaluation tasks: what "how good is this model" means for a kind of model.

`evaluation.task` names one (entry-point group `rankops.evaluation_tasks`). The task prepares the
evaluation frame from the training set, computes the metrics of a score vector in the layout
`compare.decide` reads ({"overall", "per_query": {metric: {query: value}}, "slices"}: every
per-query metric higher-is-better, so log-loss travels as `neg_log_loss` as in scikit-learn),
scores its baseline and renders the report (Markdown, and HTML). Evaluation, comparison and the promotion's staging
checks run the same code for every task. `ranking` (NDCG/MRR/MAP vs BM25) is the platform's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.common import plugins
from components.common.plugins import Ref, resolve


@dataclass(frozen=True)
class EvaluationTask:
    """The four task-specific steps of evaluation; refs may be "module:function" strings."""

    name: str
    baseline_name: str  # the key of the baseline's metrics (metrics.json, per_query.json, metric prefixes)
    prepare: Ref  # (training-set frame, settings) -> evaluation frame
    evaluate: Ref  # (frame, scores, settings) -> {"overall", "per_query", "slices"}
    baseline: Ref  # (frame, settings) -> baseline scores aligned with the frame (NaN where not scored)
    render: Ref  # (metrics.json content) -> Markdown report
    confusion_labels: tuple[str, str] = ("not relevant", "relevant")
    # (metrics.json content) -> offline HTML report; default: the Markdown report on a page
    render_html: Ref | None = None
    # (frame, model scores, baseline scores, settings) -> more metrics.json keys (ranking: the NDCG@k curve)
    extras: Ref | None = None

    def call(self, what: str, *args: Any, **kwargs: Any) -> Any:
        if what == "render_html" and self.render_html is None:
            from components.evaluation.report import markdown_page

            metrics = args[0]
            return markdown_page(f"rankops evaluation: {metrics.get('model_uri', 'model')}", self.call("render", metrics))
        return resolve(getattr(self, what))(*args, **kwargs)


def ranking_prepare(frame, settings):
    """One row per (query, video): a pair seen at several timestamps keeps its latest row."""
    from components.evaluation.frames import dedupe_pairs

    return dedupe_pairs(frame)


def ranking_evaluate(full, scores, settings):
    """Ranking metrics (ranx), pointwise P/R/F1 and slices under `settings.evaluation`."""
    from components.evaluation.evaluate import evaluate_scores

    return evaluate_scores(full, scores, settings.evaluation)


def ranking_baseline(full, settings):
    """BM25 on the candidates' title and description."""
    from components.evaluation.run import score_baseline

    return score_baseline(full)


def ranking_extras(full, model_scores, baseline_scores, settings):
    """Mean NDCG@k for k = 1..20 of the model and of BM25 (the HTML report's curve)."""
    from components.evaluation.evaluate import CURVE_KS, ndcg_curve

    cfg = settings.evaluation
    return {"ndcg_curve": {"k": list(CURVE_KS), "model": ndcg_curve(full, model_scores, cfg),
                           "bm25": ndcg_curve(full, baseline_scores, cfg)}}


RANKING = EvaluationTask(
    name="ranking",
    baseline_name="bm25",
    prepare=ranking_prepare,
    evaluate=ranking_evaluate,
    baseline=ranking_baseline,
    render="components.evaluation.report:render_evaluation",
    render_html="components.evaluation.report:render_evaluation_html",
    extras=ranking_extras,
)


def evaluation_task(settings) -> EvaluationTask:
    """The task `settings.evaluation.task` names (ValueError listing the registered ones otherwise)."""
    try:
        task = plugins.load_plugin(plugins.TASKS, settings.evaluation.task, "evaluation task")
    except plugins.PluginError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(task, EvaluationTask):
        raise ValueError(f"evaluation task {settings.evaluation.task!r} is a {type(task).__name__}, not an EvaluationTask")
    return task
