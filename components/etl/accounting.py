"""Row accounting: every bronze data line is a silver row, a quarantine row or an exact duplicate.

Checked per kind on every run against the row counts of the snapshots actually written, so a
row lost (or invented) anywhere between bronze and silver fails the gate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.etl.contract import QUARANTINE_TABLE, SILVER_TABLES, Kind
from components.etl.quality import Expectation
from components.etl.silver import OUTCOME

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from components.common.snapshots import Snapshot, SnapshotStore


def bronze_counts(spark: SparkSession, store: SnapshotStore, snaps: dict[str, Snapshot]) -> dict[str, dict[str, int]]:
    """{kind: {"bronze": data lines, "headers": CSV header lines}} of the bronze snapshots."""
    out = {}
    for kind, snap in snaps.items():
        headers = store.read_spark(spark, snap).filter("is_header").count() if kind == Kind.JUDGEMENTS.value else 0
        out[kind] = {"bronze": snap.row_count - headers, "headers": headers}
    return out


def outcome_counts(classified: dict[str, DataFrame]) -> dict[str, dict[str, Any]]:
    """{kind: {"silver", "quarantine", "duplicate": n, "reasons": {reason: n}}} in one pass per kind."""
    from pyspark.sql import functions as F

    out: dict[str, dict[str, Any]] = {}
    for kind, df in classified.items():
        rows = df.groupBy(OUTCOME, "reason").agg(F.count(F.lit(1)).alias("n")).collect()
        counts: dict[str, Any] = {"silver": 0, "quarantine": 0, "duplicate": 0, "reasons": {}}
        for r in rows:
            counts[r[OUTCOME]] += r["n"]
            if r["reason"] is not None:
                counts["reasons"][r["reason"]] = counts["reasons"].get(r["reason"], 0) + r["n"]
        counts["reasons"] = dict(sorted(counts["reasons"].items()))
        out[kind] = counts
    return out


def account(counts: dict[str, dict[str, int]], outcomes: dict[str, dict[str, Any]],
            snaps: dict[str, Snapshot]) -> list[Expectation]:
    """bronze = silver + quarantine + duplicates per kind, on the written snapshots' row counts."""
    out = []
    for kind in counts:
        silver = snaps[SILVER_TABLES[Kind(kind)]].row_count
        quarantined, dups = outcomes[kind]["quarantine"], outcomes[kind]["duplicate"]
        observed = {"bronze": counts[kind]["bronze"], "silver": silver, "quarantine": quarantined, "duplicates": dups}
        out.append(Expectation("accounting: bronze = silver + quarantine + duplicates", f"bronze/{kind}", observed,
                               "equal", counts[kind]["bronze"] == silver + quarantined + dups))
    total_q = sum(o["quarantine"] for o in outcomes.values())
    written = snaps[QUARANTINE_TABLE].row_count
    out.append(Expectation("accounting: quarantine rows written", QUARANTINE_TABLE, written, total_q, written == total_q))
    return out
