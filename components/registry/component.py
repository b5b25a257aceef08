"""KFP wrapper of registration: thin, the body imports and calls one function."""

from kfp import dsl
from kfp.dsl import Input, Model

from components.common.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def register_op(model: Input[Model], env: str = "local", pipeline_run: str = "") -> str:
    """Validity checks, register with lineage tags, alias challenger, git write-back.

    Args:
        model: carries metadata['model_uri'] (from train_op).
        pipeline_run: the KFP run id to record (wire dsl.PIPELINE_JOB_ID_PLACEHOLDER).
    Returns:
        The registered version number.
    """
    from components.registry.kfp_io import run_register_op

    return run_register_op(model, env=env, pipeline_run=pipeline_run)
