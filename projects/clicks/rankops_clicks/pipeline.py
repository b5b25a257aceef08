"""The project's pipeline: the platform's components, composed for a click model.

Generate (the platform's synthetic search logs) -> ETL (this contract) -> Feast (this repository)
-> train on CPU (trees need no GPU) -> validity gate -> evaluate -> register -> compare with the
champion -> promotion request when it wins. Compiled with the project selected, every step
carries RANKOPS_PROJECT, so each loads this project's settings.

    rankops --project clicks pipeline run clicks_end_to_end --local
"""

from kfp import dsl

from components.evaluation.component import compare_op, evaluate_op
from components.promotion.component import promotion_request_op
from components.registry.component import register_op
from components.training.component import train_op, validate_model_op
from pipelines.etl import add_etl, add_generate
from pipelines.placement import on_cluster
from pipelines.training import add_feature_steps


@dsl.pipeline(
    name="clicks-end-to-end",
    description="Search logs through the clicks contract, Feast, a LightGBM click model, log-loss/calibration "
                "evaluation, registry, champion/challenger comparison and the GitOps promotion request.",
)
def end_to_end_pipeline(env: str = "dev", impressions: int = 20000, days: int = 3, seed: int = 7,
                        service: str = "clicks_v1", params_json: str = ""):
    raw = add_generate(impressions, days, seed)
    etl = add_etl(env, raw=raw.outputs["raw"])
    features, online = add_feature_steps(env, etl.outputs["gold"], service)
    training_set = features.outputs["training_set"]
    train = on_cluster(train_op(training_set=training_set, env=env, params_json=params_json), needs=["mlflow"],
                       cpu="4", memory="8Gi", retries=1, cache=True, name="train")
    model = train.outputs["model"]
    gate = on_cluster(validate_model_op(model=model, env=env), needs=["mlflow"], cpu="2", memory="4Gi", cache=True,
                      name="validity-gate")
    evaluation = on_cluster(evaluate_op(model=model, training_set=training_set, env=env), needs=["mlflow"],
                            cpu="2", memory="8Gi", retries=1, cache=True, name="evaluate")
    register = on_cluster(register_op(model=model, env=env, pipeline_run=dsl.PIPELINE_JOB_ID_PLACEHOLDER),
                          needs=["mlflow", "git"], retries=2, cache=False, name="register")
    register.after(gate, evaluation)  # an invalid or unevaluated model is never registered
    compare = on_cluster(compare_op(version=register.outputs["Output"], env=env), needs=["mlflow"], cpu="2", memory="8Gi",
                         retries=1, cache=False, name="compare-with-champion")
    with dsl.If(compare.outputs["Output"] == True, name="challenger-wins"):  # noqa: E712 (KFP condition)
        request = on_cluster(promotion_request_op(version=register.outputs["Output"], decision=compare.outputs["decision"],
                                                  env=env), needs=["mlflow", "git"], retries=2, cache=False,
                             name="promotion-request")
        request.after(online)  # the features the model will be served with are online first
