"""KFP wrappers of the training stage: thin, each body imports and calls one function.

GPU placement (node selector, toleration, accelerator limit) is added to the task by the
pipeline with kfp-kubernetes; these components only declare inputs and outputs.
"""
# No `from __future__ import annotations`: KFP reads the real annotation objects (Input[Dataset] as a string fails).

from kfp import dsl
from kfp.dsl import Dataset, Input, Markdown, Metrics, Model, Output

from components.common.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train_op(
    training_set: Input[Dataset],
    model: Output[Model],
    metrics: Output[Metrics],
    env: str = "local",
    params_json: str = "",
):
    """Train on the snapshot named in `training_set.metadata['ref']` (else its latest); log to MLflow."""
    from components.training.kfp_io import run_train_op

    run_train_op(training_set, model, metrics, env=env, params_json=params_json)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def validate_model_op(
    model: Input[Model],
    metrics: Output[Metrics],
    report: Output[Markdown],
    env: str = "local",
):
    """Validity checks of the trained model; the task fails when any check fails."""
    from components.training.kfp_io import run_validate_model_op

    run_validate_model_op(model, metrics, report, env=env)
