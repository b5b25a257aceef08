"""Feast section of the configuration; feature_store.yaml is generated from it."""

from typing import Literal

from pydantic import Field

from components.common.model import StrictModel


class FeaturesSettings(StrictModel):
    """Where the Feast registry, offline and online stores live for this profile."""

    project: str = Field("rankops", pattern=r"^[a-z][a-z0-9_]*$")
    repo_path: str = Field("feature_repo", description="Feast repository with the definitions (relative to the repo root).")
    registry_type: Literal["file", "sql"] = "file"
    registry_path: str = Field("feast/registry.db", description="File path (local) or SQLAlchemy URI (sql).")
    online_store_type: Literal["sqlite", "redis"] = "sqlite"
    online_store_path: str = Field("feast/online.db", description="SQLite path (local) or Redis connection string.")
    offline_store_type: Literal["file", "spark"] = "file"
    default_service: str = "ranker_v1"
