"""Batch inference: score query-video pairs with the champion (or a given model) into the lakehouse.

    rankops pipeline run batch_inference --local -p model_uri=models:/rankops-ranker/3
"""

from kfp import dsl

from components.inference.component import batch_score_op
from pipelines.placement import on_cluster, with_spark_executors


@dsl.pipeline(
    name="rankops-batch-inference",
    description="Score query-video pairs with the champion model; the scores land as a lakehouse snapshot.",
)
def batch_inference_pipeline(env: str = "dev", model_uri: str = "", input_ref: str = "", spark_executors: int = 0):
    """`model_uri` empty = the registry's champion; `input_ref` empty = the latest training set;
    `spark_executors` 0 = the profile's executor count."""
    with_spark_executors(on_cluster(batch_score_op(env=env, model_uri=model_uri, input_ref=input_ref,
                                                   spark_executors=spark_executors),
                                    needs=["mlflow"], cpu="4", memory="16Gi", retries=2, cache=False,
                                    name="batch-score"))
