"""The gate's run: accounting, quarantine share, row-count change, silver profile, gold checks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from components.common.contract import QUARANTINE_TABLE
from components.common.snapshots import Snapshot, SnapshotNotFound, SnapshotStore
from components.etl import quality as Q
from components.etl.accounting import account
from components.etl.contracts import Contract, resolve_contract

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from components.common.config import Settings


def latest_or_none(store: SnapshotStore, table: str) -> Snapshot | None:
    try:
        return store.latest(table)
    except SnapshotNotFound:
        return None


def run_gate(spark: SparkSession, store: SnapshotStore, snaps: dict[str, Snapshot], counts: dict[str, dict[str, int]],
             outcomes: dict[str, dict[str, Any]], settings: Settings, contract: Contract | None = None
             ) -> list[Q.Expectation]:
    """Quarantine share, row-count change vs the published snapshot, silver profile, gold checks."""
    cfg, contract = settings.etl, resolve_contract(contract)
    silver_tables, gold_tables = contract.silver_tables.values(), contract.gold_tables
    out = account(counts, outcomes, snaps)
    bronze_rows = sum(c["bronze"] for c in counts.values())
    quarantined = sum(o["quarantine"] for o in outcomes.values())
    share = quarantined / bronze_rows if bronze_rows else 0.0
    out.append(Q.Expectation("quarantine_share", QUARANTINE_TABLE, round(share, 6), cfg.max_quarantine_share,
                             share <= cfg.max_quarantine_share))
    for table in (*silver_tables, *gold_tables):
        prev = latest_or_none(store, table)
        if prev is None or prev.snapshot_id == snaps[table].snapshot_id:
            continue
        change = abs(snaps[table].row_count - prev.row_count) / max(prev.row_count, 1)
        out.append(Q.Expectation("row_count_change", table, {"previous": prev.row_count, "now": snaps[table].row_count,
                                 "change": round(change, 4)}, cfg.max_row_count_change, change <= cfg.max_row_count_change))
    def profile(table: str) -> Any:
        return Q.profile_silver(table, store.read_spark(spark, snaps[table]), contract.silver_ranges.get(table, {}),
                                contract.silver_nullable.get(table, frozenset()))

    with ThreadPoolExecutor(max_workers=max(1, len(silver_tables))) as pool:  # one short Spark job each
        profiles = list(pool.map(profile, silver_tables))
    for found in profiles:
        out += Q.check_silver_profile(found, cfg.max_null_share)
    checks = contract.checks(cfg.max_null_share)
    for table in gold_tables:
        frame = store.read_pandas(snaps[table])
        out += Q.check_gold(table, frame, snaps[table].manifest["schema"], cfg.max_null_share,
                            declared=contract.gold_schemas[table], schema=checks[table])
    return out

