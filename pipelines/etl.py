"""ETL: raw search logs -> bronze -> silver -> gold (versioned lakehouse snapshots + quality gate).

With `input_dir` empty the pipeline first generates a synthetic raw data set (the demo and the
local run); otherwise it ingests `input_dir` (a folder of the input contract on the lakehouse PVC).

    rankops pipeline run etl --local -p impressions=5000
"""

from kfp import dsl

from components.datagen.component import generate_data_op
from components.etl.component import etl_op
from pipelines.placement import on_cluster, with_spark_executors

ETL_RESOURCES = {"cpu": "4", "memory": "16Gi"}  # the Spark driver (8g); executors are pods of their own


def add_generate(impressions, days, seed) -> dsl.PipelineTask:
    """Synthetic raw data: deterministic in its parameters, so caching it is safe."""
    return on_cluster(generate_data_op(impressions=impressions, days=days, seed=seed),
                      cpu="1", memory="2Gi", cache=True, name="generate-raw-data")


def add_etl(env, *, raw=None, input_dir="", spark_executors=0) -> dsl.PipelineTask:
    """ETL never comes from cache (new files may sit in the same folder); reruns are idempotent."""
    if raw is not None:
        task = etl_op(env=env, raw=raw, spark_executors=spark_executors)
    else:
        task = etl_op(env=env, input_dir=input_dir, spark_executors=spark_executors)
    return with_spark_executors(on_cluster(task, retries=1, cache=False, name="etl-bronze-silver-gold", **ETL_RESOURCES))


@dsl.pipeline(
    name="rankops-etl",
    description="Raw search logs, catalogue and judgements to versioned bronze/silver/gold snapshots.",
)
def etl_pipeline(env: str = "dev", input_dir: str = "", impressions: int = 20000, days: int = 3, seed: int = 7,
                 spark_executors: int = 0):
    """`input_dir` empty = generate `impressions` synthetic impressions over `days` first;
    `spark_executors` 0 = the profile's executor count."""
    with dsl.If(input_dir == "", name="synthetic-input"):
        raw = add_generate(impressions, days, seed)
        add_etl(env, raw=raw.outputs["raw"], spark_executors=spark_executors)
    with dsl.Else(name="given-input"):
        add_etl(env, input_dir=input_dir, spark_executors=spark_executors)
