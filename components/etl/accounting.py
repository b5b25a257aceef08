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


def checked_outcome_counts(checked: dict[str, tuple[int, dict[str, int]]],
                           duplicates: dict[str, DataFrame]) -> dict[str, dict[str, Any]]:
    """{kind: {"silver", "quarantine", "duplicate": n, "reasons": {reason: n}}} without a pass over
    every row: from each kind's check (lines, rejected lines by reason, as
    filecheck.check_bronze_files counts them) and its classified duplicate candidates (all valid
    lines: each one kept, an exact duplicate or a conflict). Silver is what is left; the gate
    then compares it with the rows of the snapshot written."""
    from functools import reduce

    from pyspark.sql import functions as F

    out: dict[str, dict[str, Any]] = {
        kind: {"silver": 0, "quarantine": 0, "duplicate": 0, "reasons": dict(reasons)} for kind, (_, reasons) in checked.items()}
    parts = [df.select(F.lit(kind).alias("_kind"), OUTCOME, "reason") for kind, df in duplicates.items()]
    rows = reduce(lambda a, b: a.unionByName(b), parts).filter(F.col(OUTCOME) != "silver").groupBy(
        "_kind", OUTCOME, "reason").agg(F.count(F.lit(1)).alias("n")).collect() if parts else []
    for r in rows:
        counts = out[r["_kind"]]
        if r[OUTCOME] == "duplicate":
            counts["duplicate"] += r["n"]
        else:
            counts["reasons"][r["reason"]] = counts["reasons"].get(r["reason"], 0) + r["n"]
    for kind, counts in out.items():
        counts["reasons"] = dict(sorted(counts["reasons"].items()))
        counts["quarantine"] = sum(counts["reasons"].values())
        counts["silver"] = checked[kind][0] - counts["quarantine"] - counts["duplicate"]
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
