"""Training: features -> train (GPU) -> validity gate -> evaluate -> register -> compare -> promotion request.

The promotion request runs only when the comparison says the challenger is better (`dsl.If`);
approval stays with a data expert (the GitOps pull request on the prod overlay).

    rankops pipeline run training --local          (after the etl pipeline)
    rankops --env dev pipeline submit training --host URL
"""

from kfp import dsl

from components.evaluation.component import compare_op, evaluate_op
from components.features.component import features_apply_op, materialize_op, training_set_op
from components.promotion.component import promotion_request_op
from components.registry.component import register_op
from components.training.component import train_op, validate_model_op
from pipelines.placement import on_cluster, on_gpu, with_checkpoint, with_gpu_image
from pipelines.steps import latest_gold_op

FEAST = ["postgres", "redis"]  # SQL registry + Redis online store in the cluster profiles


def on_trainer_node(task: dsl.PipelineTask, *, gpus: int = 1) -> dsl.PipelineTask:
    """Place a step that runs the trainer (its component `with_gpu_image`: CUDA torch, the same code): a GPU node, and the models
    PVC, where staging/prod read the pretrained checkpoint (profile `training.checkpoint`)."""
    return with_checkpoint(on_gpu(task, gpus=gpus))


gpu_train_op = with_gpu_image(train_op)


def add_feature_steps(env, gold, service) -> tuple[dsl.PipelineTask, dsl.PipelineTask]:
    """Register features on `gold`, refresh the online store, build the point-in-time training set;
    returns (training set, materialize), so that a promotion can wait until the features are online."""
    registry = on_cluster(features_apply_op(gold=gold, env=env), needs=FEAST, retries=2, cache=False,
                          name="feast-apply")
    materialize = on_cluster(materialize_op(registry=registry.outputs["registry"], env=env), needs=FEAST,
                             cpu="2", memory="8Gi", retries=2, cache=False, name="feast-materialize")
    # cache off: the same gold can give a new training set when feature definitions change
    training_set = on_cluster(training_set_op(registry=registry.outputs["registry"], env=env, service=service),
                              needs=FEAST, cpu="4", memory="16Gi", retries=1, cache=False, name="training-set")
    return training_set, materialize


def add_model_stages(env, training_set, params_json, gpus: int = 1, online_evidence="",
                     online: dsl.PipelineTask | None = None) -> dsl.PipelineTask:
    """Train on a GPU node, gate on validity, evaluate, register, compare; promotion request if better,
    and only once `online` (the materialize step) has put the model's features in the online store."""
    train = on_trainer_node(on_cluster(gpu_train_op(training_set=training_set, env=env, params_json=params_json),
                                       needs=["mlflow"], cpu="8", memory="32Gi", retries=1, cache=True,
                                       name="train"), gpus=gpus)
    model = train.outputs["model"]
    gate = on_cluster(validate_model_op(model=model, env=env), needs=["mlflow"], cpu="2", memory="8Gi",
                      cache=True, name="validity-gate")
    evaluation = on_cluster(evaluate_op(model=model, training_set=training_set, env=env), needs=["mlflow"],
                            cpu="4", memory="16Gi", retries=1, cache=True, name="evaluate")
    register = on_cluster(register_op(model=model, env=env, pipeline_run=dsl.PIPELINE_JOB_ID_PLACEHOLDER),
                          needs=["mlflow", "git"], cpu="4", memory="16Gi", retries=2, cache=False,
                          name="register")  # the model card scores the test and validation splits
    register.after(gate, evaluation)  # an invalid or unevaluated model is never registered
    version = register.outputs["Output"]
    compare = on_cluster(compare_op(version=version, env=env), needs=["mlflow", "prod-mlflow"], cpu="4",
                         memory="16Gi", retries=1, cache=False, name="compare-with-champion")
    with dsl.If(compare.outputs["Output"] == True, name="challenger-wins"):  # noqa: E712 (KFP condition)
        request = on_cluster(promotion_request_op(version=version, decision=compare.outputs["decision"], env=env,
                                                  online_evidence=online_evidence),
                             needs=["mlflow", "prod-mlflow", "git"], retries=2, cache=False, name="promotion-request")
        if online is not None:
            request.after(online)
    return compare


@dsl.pipeline(
    name="rankops-training",
    description="Feast training set, ELECTRA cross-encoder on a GPU, evaluation, registry, champion/challenger, "
                "GitOps promotion request.",
)
def training_pipeline(env: str = "dev", service: str = "ranker_v1", params_json: str = "", online_evidence: str = ""):
    """Trains on the latest published gold; `params_json` overrides training hyper-parameters;
    `online_evidence`: an experiment report for the promotion request (path under storage.reports)."""
    gold = on_cluster(latest_gold_op(env=env), cpu="1", memory="2Gi", cache=False, name="latest-gold")
    training_set, online = add_feature_steps(env, gold.outputs["gold"], service)
    add_model_stages(env, training_set.outputs["training_set"], params_json, online_evidence=online_evidence,
                     online=online)
