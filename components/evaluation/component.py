"""KFP wrappers of evaluation and comparison: thin, each body imports and calls one function."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Model, Output

from components.common.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def evaluate_op(
    model: Input[Model],
    training_set: Input[Dataset],
    metrics: Output[Metrics],
    report: Output[Markdown],
    html_report: Output[HTML],
    env: str = "local",
):
    """Model and BM25 on the test split of `training_set` (metadata['ref']): ranking, pointwise, slices.

    Args:
        model: carries metadata['model_uri'] (from train_op).
        training_set: carries the snapshot ref in its metadata.
    Returns:
        metrics: model metrics by name, the baseline's as bm25_<name>; metadata['metrics_json'] is metrics.json.
        report: the Markdown evaluation report.
        html_report: the same report with charts (NDCG@k for k = 1..20 vs BM25, per-slice bars), offline HTML.
    """
    from components.evaluation.kfp_io import run_evaluate_op

    run_evaluate_op(model, training_set, metrics, report, html_report=html_report, env=env)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def compare_op(
    version: str,
    report: Output[Markdown],
    decision: Output[Artifact],
    html_report: Output[HTML],
    env: str = "local",
) -> bool:
    """Registered `version` vs the champion alias (else BM25) with the paired test of settings.evaluation.

    Returns the verdict as the single output, so `dsl.If(task.outputs["Output"] == True)` also
    resolves under kfp.local (its condition evaluator cannot read named NamedTuple outputs);
    p_value and delta of the primary metric are in `decision.metadata` and decision.json.
    report: the Markdown decision report; html_report: the same with the per-query deltas and their confidence
    interval as a chart (offline HTML).
    """
    from components.evaluation.kfp_io import run_compare_op

    return bool(run_compare_op(version, report, decision, html_report=html_report, env=env)["promote"])
