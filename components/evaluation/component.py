"""KFP wrappers of evaluation and comparison: thin, each body imports and calls one function."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Markdown, Metrics, Model, Output

from components.common.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def evaluate_op(
    model: Input[Model],
    training_set: Input[Dataset],
    metrics: Output[Metrics],
    report: Output[Markdown],
    env: str = "local",
):
    """Model and BM25 on the test split of `training_set` (metadata['ref']): ranking, pointwise, slices.

    Args:
        model: carries metadata['model_uri'] (from train_op).
        training_set: carries the snapshot ref in its metadata.
    Returns:
        metrics: model metrics by name, the baseline's as bm25_<name>; metadata['metrics_json'] is metrics.json.
        report: the Markdown evaluation report.
    """
    from components.evaluation.kfp_io import run_evaluate_op

    run_evaluate_op(model, training_set, metrics, report, env=env)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def compare_op(
    version: str,
    report: Output[Markdown],
    decision: Output[Artifact],
    env: str = "local",
) -> NamedTuple("CompareOutputs", [("promote", bool), ("p_value", float), ("delta", float)]):
    """Registered `version` vs the champion alias (else BM25) with the paired test of settings.evaluation.

    Returns:
        promote: the verdict, for dsl.If; p_value, delta: of the primary metric.
        report: the Markdown decision report; decision: decision.json.
    """
    from collections import namedtuple

    from components.evaluation.kfp_io import run_compare_op

    result = run_compare_op(version, report, decision, env=env)
    outputs = namedtuple("CompareOutputs", ["promote", "p_value", "delta"])
    return outputs(bool(result["promote"]), float(result["p_value"]), float(result["delta"]))
