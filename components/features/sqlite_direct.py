"""A batched direct read of Feast's SQLite online layout: the local profile's low-latency lookup.

Feast's SQLite store keeps one table per feature view (`compute_table_id`) with a row per
(serialized entity key, feature name) holding a serialized ValueProto. The SDK reads them with
one `IN (...)` query per view, then spends most of a call building its response objects; this
reader issues the same queries and decodes only what the frame needs (the Redis twin is
redis_direct.py). It is built from the registered service, so it follows the definitions.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from components.features.redis_direct import decode_value


class SqliteFeatureReader:
    """One SELECT per feature view of a service for (query_id, video_id) rows."""

    def __init__(self, store: Any, service: str, path: str):
        from feast.infra.key_encoding_utils import serialize_entity_key
        from feast.infra.online_stores.helpers import compute_table_id
        from feast.protos.feast.types.EntityKey_pb2 import EntityKey
        from feast.protos.feast.types.Value_pb2 import Value

        self._value_cls = Value
        version = store.config.entity_key_serialization_version
        versioning = bool(getattr(store.config.registry, "enable_online_feature_view_versioning", False))

        @lru_cache(maxsize=200_000)
        def entity_key(join_keys: tuple[str, ...], values: tuple[str, ...]) -> bytes:
            ek = EntityKey(join_keys=list(join_keys), entity_values=[Value(string_val=v) for v in values])
            return serialize_entity_key(ek, entity_key_serialization_version=version)

        self._entity_key = entity_key
        self.plan = []  # (join keys, table, feature names) per view of the service
        for proj in store.get_feature_service(service).feature_view_projections:
            fv = store.get_feature_view(proj.name)
            table = compute_table_id(store.project, fv, versioning).replace('"', '""')
            self.plan.append((tuple(sorted(c.name for c in fv.entity_columns)), f'"{table}"',
                              [f.name for f in proj.features]))
        self.path = path
        self._local = threading.local()  # a sqlite3 connection serves only the thread that opened it

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        return conn

    def read(self, query_id: str, video_ids: Sequence[str]) -> dict[str, list]:
        """Column -> values (None where the entity or value is missing), one row per video id."""
        rows = [{"query_id": query_id, "video_id": v} for v in video_ids]
        cur = self._connection().cursor()
        out: dict[str, list] = {}
        for join_keys, table, names in self.plan:
            keys = [self._entity_key(join_keys, tuple(r[k] for k in join_keys)) for r in rows]
            unique = list(dict.fromkeys(keys))
            cur.execute(f"SELECT entity_key, feature_name, value FROM {table} "  # noqa: S608 (ids from the registry)
                        f"WHERE entity_key IN ({','.join('?' * len(unique))})", unique)
            found: dict[tuple[bytes, str], bytes] = {(k, f): v for k, f, v in cur.fetchall()}
            for name in names:
                out[name] = [self._decode(found.get((k, name))) for k in keys]
        return out

    def _decode(self, raw: bytes | None) -> Any:
        return decode_value(self._value_cls, raw)
