"""Lineage of a registered version: code (git), data (snapshot chain), features, params, metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.registry.lookup import TAG_PREFIX, resolve_version, use_mlflow

if TYPE_CHECKING:
    from components.common.config import Settings

LAYER_ORDER = ("raw", "bronze", "silver", "gold", "features")


def parent_refs(parents: dict[str, str]) -> list[str]:
    """Refs of a manifest's parents: values as `table@id`, or `{table: id}`; `previous` (same table) skipped."""
    refs = []
    for key, value in sorted(parents.items()):
        value = str(value)
        if key == "previous":
            continue
        if "@" in value:
            refs.append(value)
        elif "/" in key:
            refs.append(f"{key}@{value}")
    return refs


def snapshot_chain(lakehouse: str, ref: str | None) -> list[dict[str, Any]]:
    """Every snapshot reachable from `ref` through manifest parents, bronze first, training set last."""
    from components.common.snapshots import SnapshotNotFound, SnapshotStore

    if not ref:
        return []
    store = SnapshotStore(lakehouse)
    seen: dict[str, dict[str, Any]] = {}
    todo, depth = [(ref, 0)], {}
    while todo:
        current, d = todo.pop()
        if current in seen and depth[current] >= d:
            continue
        try:
            snap = store.resolve(current)
        except (SnapshotNotFound, ValueError):
            seen[current] = {"ref": current, "missing": True}
            depth[current] = d
            continue
        parents = snap.manifest.get("parents") or {}
        seen[current] = {"ref": snap.ref, "table": snap.table, "snapshot_id": snap.snapshot_id,
                         "content_hash": snap.manifest.get("content_hash"), "row_count": snap.row_count,
                         "parents": parents, "git_sha": snap.manifest.get("git_sha")}
        depth[current] = d
        todo += [(ref, d + 1) for ref in parent_refs(parents)]

    def order(item: tuple[str, dict[str, Any]]) -> tuple[int, int, str]:
        layer = item[1].get("table", item[0]).split("/", 1)[0]
        rank = LAYER_ORDER.index(layer) if layer in LAYER_ORDER else len(LAYER_ORDER)
        return (rank, -depth[item[0]], item[0])

    return [info for _, info in sorted(seen.items(), key=order)]


def data_snapshot_ids(chain: list[dict[str, Any]]) -> dict[str, str]:
    """table -> snapshot id, the compact form written into tags and models/<name>.json."""
    return {c["table"]: c["snapshot_id"] for c in chain if "table" in c}


def lineage(settings: Settings, version: str) -> dict[str, Any]:
    """Everything needed to audit or rebuild `version` (a number, vN or an alias)."""
    client = use_mlflow(settings)
    name = settings.registry.model_name
    mv = resolve_version(client, name, version)
    tags = dict(mv.tags or {})
    run = client.get_run(mv.run_id) if mv.run_id else None
    run_tags = {k: v for k, v in (run.data.tags if run else {}).items() if k.startswith(TAG_PREFIX)}

    def tag(key: str) -> str | None:
        return tags.get(f"{TAG_PREFIX}{key}") or run_tags.get(f"{TAG_PREFIX}{key}")

    training_set = tag("training_set")
    chain = snapshot_chain(settings.lakehouse, training_set)
    all_aliases = client.get_registered_model(name).aliases or {}
    return {
        "name": name,
        "version": str(mv.version),
        "model_uri": f"models:/{name}/{mv.version}",
        "source": mv.source,
        "run_id": mv.run_id,
        "aliases": sorted(a for a, v in all_aliases.items() if str(v) == str(mv.version)),
        "git": {"sha": tag("git_sha"), "branch": tag("git_branch"), "dirty": tag("git_dirty")},
        "training_set": training_set,
        "snapshots": chain,
        "feature_service": tag("feature_service"),
        "pipeline_run": tag("pipeline_run_id"),
        "params": dict(run.data.params) if run else {},
        "metrics": dict(run.data.metrics) if run else {},
        "tags": tags,
    }
