"""Row accounting: every bronze data line is a silver row, a quarantine row or an exact duplicate.

Checked per kind on every run against the row counts of the snapshots actually written, so a
row lost (or invented) anywhere between bronze and silver fails the gate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.common.contract import QUARANTINE_TABLE
from components.etl.contracts import Contract, resolve_contract
from components.etl.quality import Expectation
from components.etl.silver import OUTCOME

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from components.common.snapshots import Snapshot


def bronze_counts(snaps: dict[str, Snapshot], contract: Contract | None = None) -> dict[str, dict[str, int]]:
    """{kind: {"bronze": data lines, "headers": CSV header lines}} of the bronze snapshots.

    Every ingested CSV file (never empty: empty files are refused) has exactly one header line.
    """
    csv_kinds = resolve_contract(contract).csv_kinds
    out = {}
    for kind, snap in snaps.items():
        headers = len(snap.manifest["extra"].get("files", [])) if kind in csv_kinds else 0
        out[kind] = {"bronze": snap.row_count - headers, "headers": headers}
    return out


def outcome_counts(classified: dict[str, DataFrame]) -> dict[str, dict[str, Any]]:
    """{kind: {"silver", "quarantine", "duplicate": n, "reasons": {reason: n}}} in one pass per kind."""
    from functools import reduce

    from pyspark.sql import functions as F

    parts = [df.select(F.lit(kind).alias("_kind"), OUTCOME, "reason") for kind, df in classified.items()]
    both = reduce(lambda a, b: a.unionByName(b), parts)
    rows = both.groupBy("_kind", OUTCOME, "reason").agg(F.count(F.lit(1)).alias("n")).collect()
    out: dict[str, dict[str, Any]] = {k: {"silver": 0, "quarantine": 0, "duplicate": 0, "reasons": {}} for k in classified}
    for r in rows:
        counts = out[r["_kind"]]
        counts[r[OUTCOME]] += r["n"]
        if r["reason"] is not None:
            counts["reasons"][r["reason"]] = counts["reasons"].get(r["reason"], 0) + r["n"]
    for counts in out.values():
        counts["reasons"] = dict(sorted(counts["reasons"].items()))
    return out


def account(counts: dict[str, dict[str, int]], outcomes: dict[str, dict[str, Any]],
            snaps: dict[str, Snapshot]) -> list[Expectation]:
    """bronze = silver + quarantine + duplicates per kind, on the written snapshots' row counts."""
    out = []
    for kind in counts:
        silver = snaps[f"silver/{kind}"].row_count
        quarantined, dups = outcomes[kind]["quarantine"], outcomes[kind]["duplicate"]
        observed = {"bronze": counts[kind]["bronze"], "silver": silver, "quarantine": quarantined, "duplicates": dups}
        out.append(Expectation("accounting: bronze = silver + quarantine + duplicates", f"bronze/{kind}", observed,
                               "equal", counts[kind]["bronze"] == silver + quarantined + dups))
    total_q = sum(o["quarantine"] for o in outcomes.values())
    written = snaps[QUARANTINE_TABLE].row_count
    out.append(Expectation("accounting: quarantine rows written", QUARANTINE_TABLE, written, total_q, written == total_q))
    return out
