"""Backtest: plan K windows, train the first-cutoff model, train and evaluate each window in parallel, summarize.

    rankops pipeline run backtest --local -p windows=3
    rankops --env dev pipeline submit backtest --host URL -p windows=4 -p horizon_days=7
"""

from kfp import dsl

from components.backtest.component import (
    backtest_origin_op,
    backtest_plan_op,
    backtest_summary_op,
    backtest_window_op,
)
from pipelines.placement import on_cluster, with_gpu_image
from pipelines.training import on_trainer_node

# the first-cutoff model and every window run the real trainer: placed like the training pipeline's `train`
gpu_origin_op = with_gpu_image(backtest_origin_op)
gpu_window_op = with_gpu_image(backtest_window_op)


@dsl.pipeline(name="rankops-backtest",
              description="Rolling-origin evaluation: per window a model trained on the past vs BM25, then stability.")
def backtest_pipeline(env: str = "dev", windows: int = 4, horizon_days: float = 0.0, training_set: str = "",
                      params_json: str = ""):
    """`training_set` empty = the latest; `horizon_days` 0 = the span split into windows + 1 parts."""
    plan = on_cluster(backtest_plan_op(windows=windows, horizon_days=horizon_days, training_set=training_set, env=env),
                      cpu="1", memory="4Gi", cache=False, name="plan-windows")
    origin = on_trainer_node(on_cluster(gpu_origin_op(windows=plan.output, params_json=params_json, env=env),
                                        needs=["mlflow"], cpu="4", memory="16Gi", retries=1, cache=True,
                                        name="first-cutoff-model"))
    with dsl.ParallelFor(origin.output, parallelism=4, name="windows") as window:  # the plan, with the model's URI
        task = on_trainer_node(on_cluster(gpu_window_op(window=window, params_json=params_json, env=env),
                                          needs=["mlflow"], cpu="4", memory="16Gi", retries=1, cache=True,
                                          name="backtest-window"))
    on_cluster(backtest_summary_op(rows=dsl.Collected(task.output), env=env), cpu="1", memory="2Gi", cache=False,
               name="stability-summary")
