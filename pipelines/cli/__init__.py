"""`rankops`: one CLI over the same functions the KFP components call.

Each stage adds its commands in its own module (`pipelines/cli/<stage>.py`, a
`register(app)` function); heavy libraries are imported inside the commands so
`rankops --help` stays fast.
"""

from __future__ import annotations

import typer

from pipelines.cli import (
    backtest,
    containers,
    data,
    etl,
    evaluation,
    experiment,
    features,
    inference,
    model_registry,
    monitoring,
    pipeline,
    project,
    promotion,
    training,
)
from pipelines.cli.context import configure

STAGES = (data, etl, features, training, evaluation, model_registry, promotion, inference, monitoring, pipeline, project,
          containers, backtest, experiment)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="rankops",
        help="Search-relevance MLOps: ETL, features, training, evaluation, promotion, serving.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.callback()(configure)
    for stage in STAGES:
        stage.register(app)
    return app


def main() -> None:
    build_app()()
