"""Online feature lookups for the ranker: one batched Feast call per request.

The FeatureStore, the registry check and the parsed feature service are cached per process
(keyed by profile and service), so a call costs one online-store read plus building the frame.
Unknown queries/videos come back with the defaults declared on the fields, never an error.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from components.etl.normalize import normalize_query, query_id_of

if TYPE_CHECKING:
    import pandas as pd

    from components.common.config import Settings
    from components.features.definitions import FeatureSpec


@dataclass(frozen=True)
class OnlineContext:
    """What a lookup needs, resolved once: the store, the service object and its spec."""

    store: Any
    service: Any
    spec: FeatureSpec
    columns: list[str]
    reader: Any = None  # RedisFeatureReader / SqliteFeatureReader when features.online_reader is *_direct


_CONTEXTS: dict[tuple[str, str, str], OnlineContext] = {}
_LOCK = threading.Lock()


def online_context(settings: Settings, service: str) -> OnlineContext:
    """Open (once per process) the store of the profile and check its registry serves `service`."""
    key = (settings.env, str(settings.home), settings.features.model_dump_json() + service)
    ctx = _CONTEXTS.get(key)
    if ctx is not None:
        return ctx
    with _LOCK:
        if key in _CONTEXTS:
            return _CONTEXTS[key]
        from components.features.definitions import DefinitionError, feature_spec
        from components.features.feast_registry import RegistryError, ensure_registry
        from components.features.store_config import open_store

        store = open_store(settings)
        ensure_registry(settings, store)
        try:
            spec = feature_spec(store, service)
        except DefinitionError as exc:
            raise RegistryError(f"profile {settings.env!r}: {exc}; run `rankops --env {settings.env} features apply`") from None
        text = [c for c in ("title", "description") if c in spec.text_columns]
        columns = ["query_text", "video_id", *text, *spec.numeric]
        reader = None
        if settings.features.online_reader == "redis_direct":
            if settings.features.online_store_type != "redis":
                raise ValueError(f"profile {settings.env!r}: features.online_reader=redis_direct needs a redis online store")
            from components.features.redis_direct import RedisFeatureReader
            from components.features.store_config import redis_connection_string

            reader = RedisFeatureReader(store, service, redis_connection_string(settings),
                                        password_env=settings.features.redis_password_env)
        elif settings.features.online_reader == "sqlite_direct":
            if settings.features.online_store_type != "sqlite":
                raise ValueError(f"profile {settings.env!r}: features.online_reader=sqlite_direct needs a sqlite online store")
            from components.features.sqlite_direct import SqliteFeatureReader

            reader = SqliteFeatureReader(store, service, settings.resolve(settings.features.online_store_path))
        ctx = OnlineContext(store, store.get_feature_service(service), spec, columns, reader)
        _CONTEXTS[key] = ctx
        return ctx


def clear_online_cache() -> None:
    """Drop cached contexts (a test or a reload after `features apply`)."""
    from components.features.store_config import clear_store_cache

    with _LOCK:
        _CONTEXTS.clear()
    clear_store_cache()


def get_online_features(settings: Settings, query: str, video_ids: Sequence[str],
                        service: str | None = None) -> pd.DataFrame:
    """One row per video id, in the given order: query_text, video_id, title, description, numerics."""
    import pandas as pd

    ctx = online_context(settings, service or settings.features.default_service)
    ids = [str(v) for v in video_ids]
    text = normalize_query(query)
    if not ids:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in ctx.spec.defaults else "object") for c in ctx.columns})
    qid = query_id_of(query)
    if ctx.reader is not None:
        values = ctx.reader.read(qid, ids)
    else:
        values = ctx.store.get_online_features(
            features=ctx.service, entity_rows=[{"query_id": qid, "video_id": v} for v in ids]).to_dict()
    return assemble_frame(values, ids, text, ctx.spec, ctx.columns)


def assemble_frame(values: dict[str, list], ids: list[str], query_text: str, spec: FeatureSpec,
                   columns: list[str]) -> pd.DataFrame:
    """The response as the model's frame: text nulls -> "", numeric nulls -> declared defaults.

    Columns are built as numpy arrays (one block per dtype): ~4x cheaper than pandas Series per column.
    """
    import numpy as np
    import pandas as pd

    n = len(ids)
    data: dict[str, Any] = {"query_text": np.full(n, query_text, dtype=object), "video_id": np.array(ids, dtype=object)}
    for c in columns[2:]:
        col = values[c]
        if c in spec.defaults:
            default = spec.defaults[c]
            dtype = np.int64 if spec.dtypes[c].startswith("Int") else np.float64
            data[c] = np.array([default if v is None else v for v in col], dtype=dtype)
        else:
            data[c] = np.array(["" if v is None else v for v in col], dtype=object)
    return pd.DataFrame(data, columns=columns, copy=False)
