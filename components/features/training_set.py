"""`rankops features training-set`: point-in-time-correct features for every label row.

Each label row is an entity row at the label's event_timestamp: Feast joins, per view, the
newest feature row with event_timestamp <= that moment and not older than the view's TTL,
so no value from after the judgement leaks into training. Missing values are filled with the
defaults declared on the fields (the same the online path uses) and counted in the manifest.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.common.snapshots import Snapshot, SnapshotStore
from components.etl.contracts import contract_of
from components.features.definitions import FeatureSpec, feature_spec
from components.features.feast_registry import ensure_registry
from components.features.store_config import open_store

if TYPE_CHECKING:
    import pandas as pd

    from components.common.config import Settings

KEY_COLUMNS = ["query_id", "video_id", "event_timestamp", "label", "split", "query_text"]


def table_name(service: str) -> str:
    return f"features/training_set_{service}"


def as_utc(values: pd.Series) -> pd.Series:
    """Timestamps as datetime64[us, UTC]: the file store returns aware values, Spark naive UTC ones."""
    values = values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
    return values.astype("datetime64[us, UTC]")


def retrieve_point_in_time(store: Any, entity_df: pd.DataFrame, service: str) -> pd.DataFrame:
    """Feast historical retrieval for `entity_df` (nulls kept), sorted by keys for determinism.

    One retrieval per view, on that view's distinct (join keys, timestamp) rows, then a left
    join back: Feast 0.67's file store de-duplicates entity rows on the join keys of the views
    seen so far, so two labels sharing a video and a timestamp but not a query would collapse
    into one row in a single multi-view call.
    """
    ts = "event_timestamp"
    out = entity_df.copy()
    out[ts] = as_utc(out[ts])
    for proj in store.get_feature_service(service).feature_view_projections:
        fv = store.get_feature_view(proj.name)
        keys = [c.name for c in fv.entity_columns]
        names = [f.name for f in proj.features]
        rows = out[keys + [ts]].drop_duplicates().reset_index(drop=True)
        got = store.get_historical_features(
            entity_df=rows, features=[f"{proj.name_to_use()}:{n}" for n in names]).to_df()
        got[ts] = as_utc(got[ts])
        out = out.merge(got[keys + [ts] + names], on=keys + [ts], how="left", validate="many_to_one")
    if len(out) != len(entity_df):
        raise RuntimeError(f"point-in-time join changed the row count: {len(entity_df)} -> {len(out)}")
    return out.sort_values(["query_id", "video_id", ts], kind="stable").reset_index(drop=True)


def fill_defaults(raw: pd.DataFrame, spec: FeatureSpec, context: list[str] | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Contract column order, text nulls -> "", numeric nulls -> field default; also the null counts.

    `context` are label-table columns a model takes as features (the contract's context_features,
    e.g. the position an impression was shown at): kept after the key columns.
    """
    text = [c for c in ("title", "description") if c in spec.text_columns] + [
        c for c in spec.text_columns if c not in ("title", "description")]
    cols = [c for c in KEY_COLUMNS if c in raw.columns] + list(context or []) + text + spec.numeric
    df = raw[cols].copy()
    nulls = {c: int(df[c].isna().sum()) for c in text + spec.numeric}
    for c in text:
        df[c] = df[c].fillna("").astype(object)
    for c in spec.numeric:
        dtype = "int64" if spec.dtypes[c].startswith("Int") else "float64"
        df[c] = df[c].astype("float64").fillna(spec.defaults[c]).astype(dtype)
    return df, nulls


def build_training_set(settings: Settings, service: str | None = None, *, out: str | None = None) -> Snapshot:
    """Write the training set of `service` for the latest gold labels as a versioned snapshot."""
    service = service or settings.features.default_service
    contract = contract_of(settings)
    store = open_store(settings)
    status = ensure_registry(settings, store)
    spec = feature_spec(store, service)
    lake = SnapshotStore(settings.lakehouse)
    labels = lake.latest(contract.labels_table)
    entity_df = lake.read_pandas(labels)
    entity_df["event_timestamp"] = as_utc(entity_df["event_timestamp"])
    clash = sorted(set(spec.text_columns + spec.numeric) & set(entity_df.columns))
    if clash:
        raise ValueError(f"feature service {service!r} selects {clash}, which {labels.ref} already has")
    context = list(contract.context_features)
    missing = [c for c in context if c not in entity_df.columns]
    if missing:
        raise ValueError(f"contract {contract.name!r}: context feature(s) {missing} are not columns of {labels.ref}")
    raw = retrieve_point_in_time(store, entity_df, service)
    df, nulls = fill_defaults(raw, spec, context)
    parents = {**status["registered"], contract.labels_table: labels.snapshot_id}
    extra = {
        "feature_service": service,
        "feature_refs": spec.feature_refs,
        "features": [*context, *spec.numeric],
        "text_columns": ["query_text", *[c for c in df.columns if c in spec.text_columns]],
        "defaults": {**contract.context_features, **spec.defaults},
        "null_counts": nulls,
        "profile": settings.env,
    }
    snap = lake.write(table_name(service), df, parents=parents, extra=extra, publish=True)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(next(Path(snap.data_path).glob("*.parquet")), out)
    return snap


def summarize(snap: Snapshot) -> dict[str, Any]:
    """The --summary content of a training set."""
    extra = snap.manifest["extra"]
    return {"snapshot": snap.ref, "path": snap.data_path, "rows": snap.row_count,
            "feature_service": extra["feature_service"], "features": extra["features"],
            "null_counts": extra["null_counts"], "parents": snap.manifest["parents"]}
