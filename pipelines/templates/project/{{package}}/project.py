"""What `RANKOPS_PROJECT={{name}}` (or `rankops --project {{name}}`) selects: profiles, pipelines, feature repo."""

from pathlib import Path

from components.common.projects import Project

from . import NAME

PROJECT = Project(
    name=NAME,
    root=Path(__file__).resolve().parent,
    description="Click-through-rate model: P(click | query, video, position) from the search logs.",
    pipelines={f"{NAME}_end_to_end": f"{__package__}.pipeline:end_to_end_pipeline"},
)
