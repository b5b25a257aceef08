"""Is the registry there, and does it serve the gold snapshots the lakehouse publishes now?"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.common.snapshots import SnapshotStore
from components.features.definitions import GOLD_TABLE_TAG, SNAPSHOT_TAG
from components.features.store_config import open_store

if TYPE_CHECKING:
    from components.common.config import Settings


class RegistryError(RuntimeError):
    """The feature registry of a profile is missing or stale (the message says how to fix it)."""


def _hint(settings: Settings) -> str:
    return f"run `rankops --env {settings.env} features apply`"


def registry_location(settings: Settings) -> str:
    f = settings.features
    if f.registry_type == "sql":
        return f.registry_path.split("@")[-1]  # host/db only: never echo credentials
    return settings.resolve(f.registry_path)


def registered_gold(store: Any) -> dict[str, str]:
    """Gold table -> snapshot id, as recorded in the registered sources' tags."""
    out = {}
    for ds in store.list_data_sources():
        tags = ds.tags or {}
        if GOLD_TABLE_TAG in tags:
            out[tags[GOLD_TABLE_TAG]] = tags.get(SNAPSHOT_TAG, "")
    return out


def registry_status(settings: Settings, store: Any | None = None) -> dict[str, Any]:
    """{profile, registry, exists, registered, latest, stale_tables}; opens nothing when the file is absent."""
    status: dict[str, Any] = {"profile": settings.env, "registry": registry_location(settings), "exists": False,
                              "registered": {}, "latest": {}, "stale_tables": []}
    if settings.features.registry_type == "file" and not Path(settings.resolve(settings.features.registry_path)).exists():
        return status
    try:
        store = store or open_store(settings)
        registered = registered_gold(store)
    except Exception as exc:  # e.g. PostgreSQL unreachable: name the profile, not a driver stack
        raise RegistryError(f"profile {settings.env!r}: cannot read the feature registry at {status['registry']}: "
                            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
    if not registered:
        return status
    lake = SnapshotStore(settings.lakehouse)
    latest = {table: lake.latest_id(table) for table in registered}
    status.update(exists=True, registered=registered, latest=latest,
                  stale_tables=sorted(t for t in registered if latest[t] and latest[t] != registered[t]))
    return status


def ensure_registry(settings: Settings, store: Any | None = None, *, allow_stale: bool | None = None) -> dict[str, Any]:
    """The registry status; RegistryError naming the profile when missing (or stale, unless allowed)."""
    status = registry_status(settings, store)
    if not status["exists"]:
        raise RegistryError(
            f"profile {settings.env!r}: no feature registry at {status['registry']} (project "
            f"{settings.features.project!r}); {_hint(settings)}"
        )
    allow = (not settings.features.fail_on_stale) if allow_stale is None else allow_stale
    if status["stale_tables"] and not allow:
        moved = ", ".join(f"{t} registered {status['registered'][t]} but latest is {status['latest'][t]}"
                          for t in status["stale_tables"])
        raise RegistryError(f"profile {settings.env!r}: feature registry at {status['registry']} is stale ({moved}); "
                            f"{_hint(settings)}")
    return status
