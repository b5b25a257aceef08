"""The I/O side of the registry KFP component."""

from __future__ import annotations


def run_register_op(model, *, env: str = "local", pipeline_run: str = "") -> str:
    from components.common.artifacts import model_uri_of
    from components.common.config import load_settings
    from components.registry.register import register_model

    result = register_model(load_settings(env), model_uri_of(model), pipeline_run=pipeline_run or None)
    return str(result["version"])
