"""End to end: generate -> ETL -> features -> train -> evaluate -> register -> compare -> promotion request.

What `make run` runs locally (`rankops pipeline run end_to_end --local`); the same spec runs on KFP.
"""

from kfp import dsl

from pipelines.etl import add_etl, add_generate
from pipelines.training import add_feature_steps, add_model_stages


@dsl.pipeline(
    name="rankops-end-to-end",
    description="Synthetic search logs through ETL, Feast, ELECTRA training, evaluation, registry, "
                "champion/challenger comparison and the GitOps promotion request.",
)
def end_to_end_pipeline(env: str = "dev", impressions: int = 20000, days: int = 3, seed: int = 7,
                        service: str = "ranker_v1", params_json: str = ""):
    raw = add_generate(impressions, days, seed)
    etl = add_etl(env, raw=raw.outputs["raw"])
    training_set, online = add_feature_steps(env, etl.outputs["gold"], service)
    add_model_stages(env, training_set.outputs["training_set"], params_json, online=online)
