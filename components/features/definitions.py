"""Load the feature repository and bind its sources to the current gold snapshots.

The definitions in `feature_repo/` name gold TABLES; here each source becomes a FileSource
(file offline store) or SparkSource (Spark offline store) on the table's latest published
snapshot, tagged with the snapshot id. The registry therefore records exactly which gold
versions it serves, and `registry_status` can tell when the lakehouse has moved on.
"""

from __future__ import annotations

import contextlib
import copy
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from components.common.snapshots import Snapshot, SnapshotNotFound, SnapshotStore
from components.features.store_config import repo_dir

if TYPE_CHECKING:
    from feast.repo_contents import RepoContents

    from components.common.config import Settings

GOLD_TABLE_TAG = "rankops.gold_table"
SNAPSHOT_TAG = "rankops.snapshot_id"


class DefinitionError(ValueError):
    """The feature repository cannot be loaded or does not fit the lakehouse."""


@dataclass(frozen=True)
class FeatureSpec:
    """What a feature service gives a model: ordered refs, text and numeric columns, defaults."""

    service: str
    feature_refs: list[str]
    text_columns: list[str]
    numeric: list[str]
    defaults: dict[str, float]
    dtypes: dict[str, str]


def parse_definitions(settings: Settings) -> RepoContents:
    """Feast's own parser over the repo (it imports modules relative to the working directory)."""
    from feast.repo_operations import parse_repo

    root = repo_dir(settings).resolve()
    if not (root / "common").is_dir():
        raise DefinitionError(f"feature repository {root} not found (features.repo_path)")
    tops = {p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.py"))} | {p.stem for p in root.glob("*.py")}
    for name in [m for m in sys.modules if m.split(".")[0] in tops]:
        del sys.modules[name]  # re-import: the repo (or its path) may have changed since the last parse
    added = str(root) not in sys.path
    if added:
        sys.path.insert(0, str(root))
    try:
        with contextlib.chdir(root):
            return parse_repo(root)
    except Exception as exc:  # any import or definition error of user code
        raise DefinitionError(f"feature repository {root}: {type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            sys.path.remove(str(root))


def gold_tables_of(contents: RepoContents) -> dict[str, str]:
    """Source name -> gold table named by the definitions."""
    out = {}
    for ds in contents.data_sources:
        table = (ds.tags or {}).get(GOLD_TABLE_TAG)
        if not table:
            raise DefinitionError(f"data source {ds.name!r} has no {GOLD_TABLE_TAG!r} tag: build it with gold_source()")
        out[ds.name] = table
    return out


def latest_gold(settings: Settings, tables: list[str], pinned: dict[str, str] | None = None) -> dict[str, Snapshot]:
    """The latest published (or the pinned) snapshot of each gold table; a clear error when one is missing."""
    store = SnapshotStore(settings.lakehouse)
    out = {}
    for table in sorted(set(tables)):
        try:
            out[table] = store.get(table, pinned[table]) if pinned and pinned.get(table) else store.latest(table)
        except SnapshotNotFound as exc:
            raise DefinitionError(str(exc)) from None
    return out


def bind_source(source: Any, snapshot: Snapshot, offline_store_type: str) -> Any:
    """A copy of `source` reading `snapshot` with the offline store's source class."""
    tags = {**(source.tags or {}), SNAPSHOT_TAG: snapshot.snapshot_id}
    common = dict(
        name=source.name,
        timestamp_field=source.timestamp_field,
        created_timestamp_column=source.created_timestamp_column or "",
        description=source.description,
        owner=source.owner,
        tags=tags,
    )
    if offline_store_type == "spark":
        from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource

        return SparkSource(path=snapshot.data_path, file_format="parquet", **common)
    from feast import FileSource

    return FileSource(path=snapshot.data_path, **common)


def bind_definitions(settings: Settings, contents: RepoContents, gold: dict[str, Snapshot]) -> RepoContents:
    """Contents whose sources (and views' batch sources) point at the given gold snapshots."""
    tables = gold_tables_of(contents)
    missing = sorted({t for t in tables.values() if t not in gold})
    if missing:
        raise DefinitionError(f"no gold snapshot given for {', '.join(missing)}")
    bound = {name: bind_source(ds, gold[tables[name]], settings.features.offline_store_type)
             for name, ds in ((d.name, d) for d in contents.data_sources)}
    views = []
    for fv in contents.feature_views:
        new = copy.copy(fv)
        new.batch_source = bound[fv.batch_source.name]
        views.append(new)
    return contents._replace(data_sources=list(bound.values()), feature_views=views)


def check_columns(contents: RepoContents, gold: dict[str, Snapshot]) -> None:
    """Every declared field and join key must exist in the bound gold snapshot (names the view)."""
    tables = gold_tables_of(contents)
    for fv in contents.feature_views:
        snap = gold[tables[fv.batch_source.name]]
        columns = {c["name"] for c in snap.manifest.get("schema", [])}
        wanted = [f.name for f in fv.features] + list(fv.join_keys) + [fv.batch_source.timestamp_field]
        absent = [c for c in wanted if c not in columns]
        if absent:
            raise DefinitionError(
                f"feature view {fv.name!r}: column(s) {', '.join(absent)} not in {snap.ref} "
                f"(has {', '.join(sorted(columns))})"
            )


def feature_spec(store: Any, service: str) -> FeatureSpec:
    """Ordered features of a registered service, split into text and numeric, with defaults."""
    from feast.errors import FeatureServiceNotFoundException

    try:
        fs = store.get_feature_service(service)
    except FeatureServiceNotFoundException:
        known = sorted(s.name for s in store.list_feature_services())
        raise DefinitionError(f"feature service {service!r} is not registered (known: {', '.join(known) or 'none'})") from None
    refs, text, numeric, defaults, dtypes = [], [], [], {}, {}
    for proj in fs.feature_view_projections:
        for field in proj.features:
            refs.append(f"{proj.name_to_use()}:{field.name}")
            dtypes[field.name] = str(field.dtype)
            if str(field.dtype).startswith("String"):
                text.append(field.name)
            else:
                numeric.append(field.name)
                defaults[field.name] = float((field.tags or {}).get("default", "0.0"))
    return FeatureSpec(service, refs, text, numeric, defaults, dtypes)
