"""Monitoring: score the current window with the champion, then check quality, drift and live
performance against the training reference; a breach starts the training pipeline once.

    rankops pipeline run monitoring --local
"""

from kfp import dsl

from components.inference.component import batch_score_op
from components.monitoring.component import monitor_op
from pipelines.placement import on_cluster, with_spark_executors


@dsl.pipeline(
    name="rankops-monitoring",
    description="Data quality, feature and score drift, live performance; alerts can trigger retraining.",
)
def monitoring_pipeline(env: str = "dev", input_ref: str = "", reference: str = "", trigger: bool = True):
    """`input_ref` empty = the latest training set; `reference` empty = the training set of the service."""
    scored = with_spark_executors(on_cluster(batch_score_op(env=env, input_ref=input_ref), needs=["mlflow"],
                                             cpu="4", memory="16Gi", retries=2, cache=False,
                                             name="score-current-window"))
    # monitoring reads "now": never served from cache; it may submit the training pipeline
    on_cluster(monitor_op(env=env, current_data=scored.outputs["scored"], reference=reference, trigger=trigger),
               needs=["mlflow", "postgres"], kfp_api=True, cpu="2", memory="8Gi", retries=1, cache=False,
               name="monitor")
