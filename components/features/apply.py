"""`rankops features apply`: validate the definitions against the gold snapshots and register them."""

from __future__ import annotations

import contextlib
import io
from typing import TYPE_CHECKING, Any

from components.features.definitions import (
    DefinitionError,
    bind_definitions,
    check_columns,
    gold_tables_of,
    latest_gold,
    parse_definitions,
)
from components.features.store_config import clear_store_cache, open_store, write_store_yaml

if TYPE_CHECKING:
    from components.common.config import Settings

CHANGE_WORDS = ("Created", "Updated", "Deleted", "Deploying", "Removing")


def run_apply(settings: Settings, gold: dict[str, str] | None = None) -> dict[str, Any]:
    """Register entities, views and services bound to the latest gold snapshots; return a summary.

    Nothing is written to the registry unless every definition loads and every declared column
    exists in its gold snapshot, so a broken definition leaves the previous registry untouched.
    `gold` ({table: snapshot_id}) pins snapshots (e.g. those an ETL run produced); the rest are the latest.
    """
    contents = parse_definitions(settings)
    snaps = latest_gold(settings, list(gold_tables_of(contents).values()), pinned=gold)
    check_columns(contents, snaps)
    bound = bind_definitions(settings, contents, snaps)
    from feast import Project
    from feast.repo_operations import apply_total_with_repo_instance

    if not bound.projects:  # as `feast apply` does: the project comes from the profile
        bound = bound._replace(projects=[Project(name=settings.features.project, description="rankops search relevance")])

    store = open_store(settings, cached=False)
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log):
            apply_total_with_repo_instance(
                store, settings.features.project, store.registry, bound, skip_source_validation=False
            )
    except Exception as exc:  # Feast raises many types for definition problems
        raise DefinitionError(f"feast apply failed for profile {settings.env!r}: {type(exc).__name__}: {exc}") from exc
    finally:
        from components.features.online import clear_online_cache

        clear_store_cache()
        clear_online_cache()
    yaml_path = write_store_yaml(settings)
    return {
        "profile": settings.env,
        "project": settings.features.project,
        "feature_store_yaml": str(yaml_path),
        "entities": sorted(e.name for e in bound.entities if e.name != "__dummy"),
        "feature_views": sorted(fv.name for fv in bound.feature_views),
        "feature_services": sorted(fs.name for fs in bound.feature_services),
        "gold_snapshots": {t: s.ref for t, s in sorted(snaps.items())},
        "changes": [line for line in log.getvalue().splitlines() if line.startswith(CHANGE_WORDS)],
    }
