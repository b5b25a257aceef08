"""A two-step pipeline with every placement feature, for the compiler/summary tests."""

from kfp import dsl

from components.common.image import GPU_IMAGE, IMAGE
from pipelines.placement import on_cluster, on_gpu


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def prepare_op(env: str) -> str:
    return f"prepared-{env}"


@dsl.component(base_image=GPU_IMAGE, install_kfp_package=False)
def fit_op(prepared: str, env: str) -> str:
    if env == "boom":  # fit has no retries: a failure surfaces at once (retries back off 30 s locally too)
        raise ValueError("cannot fit for env boom")
    return "promote" if prepared.endswith(env) else "keep"


@dsl.pipeline(name="toy", description="placement test pipeline")
def toy(env: str = "dev"):
    prepared = on_cluster(prepare_op(env=env), needs=["postgres", "mlflow"], retries=2, cache=False)
    fit = on_gpu(on_cluster(fit_op(prepared=prepared.output, env=env), needs=["mlflow"], cpu="4", memory="16Gi"))
    with dsl.If(fit.output == "promote"):
        on_cluster(prepare_op(env=env), needs=["git"], name="after-promote")


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def echo_op(item: int) -> int:
    return item


@dsl.pipeline(name="toy-fan-out", description="a ParallelFor: kfp.local runs its iterations in threads")
def fan_out(env: str = "dev"):
    with dsl.ParallelFor([1, 2, 3, 4, 5, 6]) as item:
        echo_op(item=item)
