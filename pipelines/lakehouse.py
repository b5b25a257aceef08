"""Lakehouse glue for pipelines that start after the ETL: the latest published gold as an artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def latest_gold(lakehouse: str, tables: tuple[str, ...] | None = None) -> dict[str, str]:
    """{gold table: latest snapshot id} of `tables` (default: the search contract's); a clear error
    when the ETL has not published gold yet."""
    from components.common.snapshots import SnapshotStore
    from components.etl.contracts import resolve_contract

    store = SnapshotStore(lakehouse)
    found, missing = {}, []
    for table in tables or resolve_contract(None).gold_tables:
        snap = store.latest(table)
        if snap is None:
            missing.append(table)
        else:
            found[table] = snap.snapshot_id
    if missing:
        raise ValueError(f"no published gold snapshot of {', '.join(missing)} in {lakehouse}; "
                         "run the etl pipeline (or `rankops etl run`) first")
    return found


def run_latest_gold_op(gold: Any, *, env: str) -> dict[str, str]:
    """Fill `gold` like etl_op does (metadata `snapshots`, `gold_refs`, `uri`), from the latest snapshots."""
    from components.common.config import load_settings
    from components.etl.contracts import contract_of

    settings = load_settings(env)
    snapshots = latest_gold(settings.lakehouse, contract_of(settings).gold_tables)
    refs = {t: f"{t}@{sid}" for t, sid in snapshots.items()}
    gold.metadata.update({"lakehouse": settings.lakehouse, "uri": settings.lakehouse, "snapshots": snapshots,
                          "gold_refs": refs})
    Path(gold.path).parent.mkdir(parents=True, exist_ok=True)
    Path(gold.path).write_text("\n".join(refs.values()) + "\n", encoding="utf-8")
    return snapshots
