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
    registry_cache_ttl_seconds: int = Field(
        60, ge=0, description="How long a process trusts its registry copy; online lookups never re-read it per call."
    )
    registry_cache_mode: Literal["sync", "thread"] = Field(
        "sync", description="thread: refresh the registry copy in a background thread, never on a lookup's path.")
    online_store_type: Literal["sqlite", "redis"] = "sqlite"
    online_store_path: str = Field("feast/online.db", description="SQLite path (local) or Redis connection string.")
    redis_key_ttl_seconds: int | None = Field(None, gt=0, description="Expire Redis keys (None keeps them).")
    redis_password_env: str | None = Field(
        "REDIS_PASSWORD", description="Environment variable holding the Redis password (the rankops-redis Secret); "
        "unset or empty = no AUTH. Every Redis client (Feast's online store, the direct reader) sends it.")
    offline_store_type: Literal["file", "spark"] = "file"
    online_reader: Literal["sdk", "redis_direct", "sqlite_direct"] = Field(
        "sdk", description="Online lookups through the Feast SDK, or a batched direct read of Feast's Redis "
        "(redis_direct) or SQLite (sqlite_direct) layout (see benchmarks/features.py, benchmarks/serving.py).",
    )
    config_dir: str = Field("feast", description="Where the generated feature_store.yaml is written (under RANKOPS_HOME).")
    default_service: str = "ranker_v1"
    fail_on_stale: bool = Field(
        True, description="Online lookups and materialisation refuse a registry older than the published gold tables."
    )
