"""KFP wrapper of registration: thin, the body imports and calls one function."""

from kfp import dsl
from kfp.dsl import HTML, Input, Markdown, Model, Output

from components.common.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def register_op(model: Input[Model], card: Output[Markdown], card_html: Output[HTML], env: str = "local",
                pipeline_run: str = "") -> str:
    """Validity checks, register with lineage tags, alias challenger, model card, git write-back.

    Args:
        model: carries metadata['model_uri'] (from train_op).
        pipeline_run: the KFP run id to record (wire dsl.PIPELINE_JOB_ID_PLACEHOLDER).
    Returns:
        The registered version number; card/card_html: the version's model card (also kept in MLflow).
    """
    from components.registry.kfp_io import run_register_op

    return run_register_op(model, card=card, card_html=card_html, env=env, pipeline_run=pipeline_run)
