"""KFP wrapper of batch scoring: thin, the body imports and calls one function."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components.common.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def batch_score_op(
    scored: Output[Dataset],
    metrics: Output[Metrics],
    input_data: Input[Dataset] = None,
    env: str = "local",
    model_uri: str = "",
    input_ref: str = "",
    spark_executors: int = 0,
):
    """Score the pairs of `input_data` (or `input_ref`, else the latest training set) with the champion.

    `spark_executors` > 0 overrides the profile's executor count for this run (cluster profiles).
    """
    from components.inference.kfp_io import run_batch_score_op

    run_batch_score_op(input_data, scored, metrics, env=env, model_uri=model_uri, input_ref=input_ref,
                       spark_executors=spark_executors)
