"""`run_etl`: raw files -> bronze -> silver -> gold -> quality gate -> publish (all or nothing).

All I/O of the ETL lives here; the transforms (bronze.to_bronze, silver.to_silver, gold.to_gold_*)
are pure. Every table is written as a content-addressed snapshot first; the latest pointers move
only when the whole gate passes, so a failed run leaves the previous published state untouched.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.common.snapshots import Snapshot, SnapshotNotFound, SnapshotStore
from components.etl import bronze as B
from components.etl import quality as Q
from components.etl.accounting import account, bronze_counts, outcome_counts
from components.etl.contract import BRONZE_TABLES, GOLD_TABLES, QUARANTINE_TABLE, SILVER_TABLES, Kind

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from components.common.config import Settings

Progress = Callable[[str], None]


class EtlError(RuntimeError):
    """An expected failure with a one-line message (bad input directory, no data)."""


class QualityGateFailed(EtlError):
    """The gate failed: nothing was published; `summary` says what and where the report is."""

    def __init__(self, message: str, summary: dict[str, Any]):
        super().__init__(message)
        self.summary = summary


def _latest(store: SnapshotStore, table: str) -> Snapshot | None:
    try:
        return store.latest(table)
    except SnapshotNotFound:
        return None


def ingest_bronze(spark: SparkSession, store: SnapshotStore, files: list[B.RawFile], ingested_at: datetime,
                  problems: list[B.FileProblem]) -> tuple[dict[str, Snapshot], list[B.RawFile], list[str]]:
    """Append new files to each kind's bronze table (new snapshot); known content is a no-op."""
    snaps: dict[str, Snapshot] = {}
    ingested: list[B.RawFile] = []
    skipped: list[str] = []
    for kind in Kind:
        table = BRONZE_TABLES[kind]
        prev = _latest(store, table)
        known = {f["sha256"]: f["source_file"] for f in (prev.manifest["extra"].get("files", []) if prev else [])}
        new: list[B.RawFile] = []
        for f in (f for f in files if f.kind == kind.value):
            if f.sha256 in known:
                skipped.append(f.source_file)
            elif f.sha256 in {n.sha256 for n in new}:
                problems.append(B.FileProblem(f.source_file, "same content as another file of this run: ingested once"))
            else:
                new.append(f)
        if prev is not None and not new:
            snaps[kind.value] = prev
            continue
        with B.whole_file_partitions(spark, new):
            if new:
                df = B.to_bronze(B.read_lines(spark, new), ingested_at)
            else:
                df = spark.createDataFrame([], B.BRONZE_SCHEMA)
            if prev is not None:
                df = store.read_spark(spark, prev).unionByName(df)
            listing = list(prev.manifest["extra"].get("files", [])) if prev else []
            listing += [{"source_file": f.source_file, "sha256": f.sha256, "batch_id": f.batch_id, "size": f.size,
                         "ingested_at": ingested_at.isoformat()} for f in new]
            parents = {"previous": prev.ref} if prev else {}
            snaps[kind.value] = store.write(table, df,
                                            parents=parents, extra={"files": listing, "files_added": len(new)})
        ingested += new
    return snaps, ingested, skipped


def csv_headers(spark: SparkSession, store: SnapshotStore, snap: Snapshot) -> dict[str, list[str]]:
    """Header columns of each judgement file (by content hash), from the bronze header rows."""
    from components.etl.parse import header_columns

    rows = store.read_spark(spark, snap).filter("is_header").select("file_sha256", "raw").collect()
    return {r.file_sha256: header_columns(bytes(r.raw).decode("utf-8", "replace")) for r in rows}


def run_etl(settings: Settings, input_dir: str | Path, spark: SparkSession | None = None, *,
            progress: Progress | None = None, raise_on_failure: bool = True) -> dict[str, Any]:
    """Run the whole ETL on `input_dir`; return the summary (see `rankops etl run --summary`)."""
    from components.common.spark import get_spark
    from components.etl import gold as G
    from components.etl import silver as S

    say = progress or (lambda _msg: None)
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    store = SnapshotStore(settings.lakehouse)
    cfg = settings.etl

    say("discovering raw files")
    try:
        files, problems = B.discover_files(input_dir)
    except FileNotFoundError as exc:
        raise EtlError(str(exc)) from None
    if not files and all(_latest(store, BRONZE_TABLES[k]) is None for k in Kind):
        detail = "; ".join(f"{p.path}: {p.problem}" for p in problems)
        raise EtlError(f"no raw files to ingest under {input_dir} (expected <batch>/search_log/*.jsonl, "
                       f"videos/*.jsonl, judgements/*.csv){': ' + detail if detail else ''}")
    spark = spark or get_spark(settings)
    staging = Path(settings.lakehouse) / cfg.staging / run_id
    try:
        say("bronze: ingesting new files")
        bronze, ingested, skipped = ingest_bronze(spark, store, files, started, problems)
        bronze_df = {k: store.read_spark(spark, s) for k, s in bronze.items()}
        headers = csv_headers(spark, store, bronze[Kind.JUDGEMENTS.value])

        say("silver: parsing, validating, deduplicating")
        classified = S.classify(bronze_df, max_field_chars=cfg.max_field_chars, headers=headers)
        staged = {}
        for kind, df in classified.items():  # one parse pass per kind, re-read by every consumer
            df.write.mode("overwrite").parquet(str(staging / kind))
            staged[kind] = spark.read.parquet(str(staging / kind))
        result = S.split(staged)
        parents = {f"bronze/{k}": s.ref for k, s in bronze.items()}
        outcomes = outcome_counts(staged)
        snaps: dict[str, Snapshot] = {f"bronze/{k}": s for k, s in bronze.items()}
        for kind, df in result.tables.items():
            snaps[SILVER_TABLES[Kind(kind)]] = store.write(
                SILVER_TABLES[Kind(kind)], df, parents={f"bronze/{kind}": bronze[kind].ref},
                extra={"duplicates": outcomes[kind]["duplicate"], "quarantined": outcomes[kind]["quarantine"]})
        reasons = {k: v["reasons"] for k, v in outcomes.items()}
        snaps[QUARANTINE_TABLE] = store.write(QUARANTINE_TABLE, result.quarantine, parents=parents,
                                              extra={"reasons": reasons})

        say("gold: feature tables and labels")
        silver_df = {k: store.read_spark(spark, snaps[SILVER_TABLES[Kind(k)]]) for k in result.tables}
        gold = G.to_gold(silver_df, eta=cfg.examination_eta, train=cfg.train_share, validation=cfg.validation_share)
        silver_parents = {t: snaps[t].ref for t in SILVER_TABLES.values()}
        for table, df in gold.items():
            df = df.cache()
            try:
                snaps[table] = store.write(table, df, parents=silver_parents)
            finally:
                df.unpersist()

        say("quality gate")
        counts = bronze_counts(spark, store, bronze)
        expectations = account(counts, outcomes, snaps)
        expectations += _gate(spark, store, snaps, counts, outcomes, settings)
        passed = all(e.passed for e in expectations)
        if passed:
            say("publishing snapshots")
            for table, snap in snaps.items():
                store.publish(table, snap.snapshot_id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if staging.parent.exists() and not any(staging.parent.iterdir()):
            staging.parent.rmdir()

    total = {k: sum(c[k] for c in counts.values()) for k in ("bronze", "headers")}
    quarantine_reasons: dict[str, int] = {}
    for kind_reasons in reasons.values():
        for reason, n in kind_reasons.items():
            quarantine_reasons[reason] = quarantine_reasons.get(reason, 0) + n
    report = {"run_id": run_id, "passed": passed, "input_dir": str(input_dir),
              "expectations": [e.to_dict() for e in expectations],
              "file_problems": [p.to_dict() for p in problems]}
    report_json, report_md = Q.write_report(Path(settings.reports_dir) / "etl" / run_id, report)
    failed = [e for e in expectations if not e.passed]
    summary = {
        "run_id": run_id,
        "input_dir": str(Path(input_dir).resolve()),
        "lakehouse": settings.lakehouse,
        "published": passed,
        "bronze_rows": total["bronze"],
        "header_rows": total["headers"],
        "silver_rows": sum(o["silver"] for o in outcomes.values()),
        "quarantined_rows": sum(o["quarantine"] for o in outcomes.values()),
        "duplicate_rows": sum(o["duplicate"] for o in outcomes.values()),
        "quarantine_reasons": dict(sorted(quarantine_reasons.items())),
        "by_kind": {k: {"bronze": counts[k]["bronze"], "silver": outcomes[k]["silver"],
                        "quarantined": outcomes[k]["quarantine"], "duplicates": outcomes[k]["duplicate"],
                        "reasons": outcomes[k]["reasons"]} for k in outcomes},
        "gold_rows": {t: snaps[t].row_count for t in GOLD_TABLES},
        "snapshots": {t: s.snapshot_id for t, s in sorted(snaps.items())},
        "files_ingested": [f.source_file for f in ingested],
        "files_already_ingested": skipped,
        "file_problems": [p.to_dict() for p in problems],
        "failed_expectations": [e.to_dict() for e in failed],
        "report_json": str(report_json),
        "report_md": str(report_md),
        "seconds": round((datetime.now(UTC) - started).total_seconds(), 2),
    }
    if failed and raise_on_failure:
        first = failed[0]
        raise QualityGateFailed(
            f"quality gate failed ({len(failed)} expectation(s)), nothing published; first: {first.table} "
            f"{first.name} observed {first.observed} vs {first.threshold}; report: {report_md}", summary)
    return summary


def _gate(spark, store: SnapshotStore, snaps: dict[str, Snapshot], counts, outcomes, settings: Settings) -> list[Q.Expectation]:
    """Quarantine share, row-count change vs the published snapshot, silver profile, gold checks."""
    cfg = settings.etl
    out = []
    bronze_rows = sum(c["bronze"] for c in counts.values())
    quarantined = sum(o["quarantine"] for o in outcomes.values())
    share = quarantined / bronze_rows if bronze_rows else 0.0
    out.append(Q.Expectation("quarantine_share", QUARANTINE_TABLE, round(share, 6), cfg.max_quarantine_share,
                             share <= cfg.max_quarantine_share))
    for table in (*SILVER_TABLES.values(), *GOLD_TABLES):
        prev = _latest(store, table)
        if prev is None or prev.snapshot_id == snaps[table].snapshot_id:
            continue
        change = abs(snaps[table].row_count - prev.row_count) / max(prev.row_count, 1)
        out.append(Q.Expectation("row_count_change", table, {"previous": prev.row_count, "now": snaps[table].row_count,
                                 "change": round(change, 4)}, cfg.max_row_count_change, change <= cfg.max_row_count_change))
    for table in SILVER_TABLES.values():
        profile = Q.profile_silver(table, store.read_spark(spark, snaps[table]))
        out += Q.check_silver_profile(profile, cfg.max_null_share)
    for table in GOLD_TABLES:
        frame = store.read_pandas(snaps[table])
        out += Q.check_gold(table, frame, snaps[table].manifest["schema"], cfg.max_null_share)
    return out

