"""`run_etl`: raw files -> bronze -> silver -> gold -> quality gate -> publish (all or nothing).

All I/O of the ETL lives here; the transforms (bronze.to_bronze, silver.to_silver, gold.to_gold_*)
are pure. Every table is written as a content-addressed snapshot first; the latest pointers move
only when the whole gate passes, so a failed run leaves the previous published state untouched.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.common.snapshots import Snapshot, SnapshotStore
from components.etl import bronze as B
from components.etl import quality as Q
from components.etl.accounting import bronze_counts, outcome_counts
from components.etl.contract import BRONZE_TABLES, GOLD_TABLES, QUARANTINE_TABLE, SILVER_TABLES, Kind
from components.etl.gate import latest_or_none, run_gate

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


def ingest_bronze(spark: SparkSession, store: SnapshotStore, files: list[B.RawFile], ingested_at: datetime,
                  problems: list[B.FileProblem]) -> tuple[dict[str, Snapshot], list[B.RawFile], list[str]]:
    """Append new files to each kind's bronze table (new snapshot); known content is a no-op."""
    snaps: dict[str, Snapshot] = {}
    ingested: list[B.RawFile] = []
    skipped: list[str] = []
    for kind in Kind:
        table = BRONZE_TABLES[kind]
        prev = latest_or_none(store, table)
        known = {f["sha256"]: f["source_file"] for f in (prev.manifest["extra"].get("files", []) if prev else [])}
        new: list[B.RawFile] = []
        for f in (f for f in files if f.kind == kind.value):
            if f.sha256 in known:
                skipped.append(f.source_file)
            elif f.sha256 in {n.sha256 for n in new}:
                problems.append(B.FileProblem(f.source_file, "same content as another file of this run: ingested once",
                                              ignored=False))
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
                         "header": f.header, "ingested_at": ingested_at.isoformat()} for f in new]
            parents = {"previous": prev.ref} if prev else {}
            snaps[kind.value] = store.write(table, df,
                                            parents=parents, extra={"files": listing, "files_added": len(new)})
        ingested += new
    return snaps, ingested, skipped


def csv_headers(snap: Snapshot) -> dict[str, list[str]]:
    """Header columns of each judgement file (by content hash), from the bronze file listing."""
    from components.etl.parse import header_columns

    return {f["sha256"]: header_columns(f.get("header")) for f in snap.manifest["extra"].get("files", [])}


def fingerprint(settings: Settings, bronze: dict[str, Snapshot]) -> str:
    """What silver and gold are a pure function of: bronze snapshots, ETL settings, ETL code."""
    code = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        code.update(path.read_bytes())
    payload = {"bronze": {k: s.snapshot_id for k, s in sorted(bronze.items())},
               "settings": settings.etl.model_dump(mode="json"), "code": code.hexdigest()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def reuse_published(store: SnapshotStore, fp: str) -> dict[str, Snapshot] | None:
    """The published snapshots when they were built from exactly this fingerprint, else None."""
    quarantine = latest_or_none(store, QUARANTINE_TABLE)
    if quarantine is None or quarantine.manifest["extra"].get("fingerprint") != fp:
        return None
    snaps = {t: latest_or_none(store, t) for t in (*SILVER_TABLES.values(), QUARANTINE_TABLE, *GOLD_TABLES)}
    return None if any(s is None for s in snaps.values()) else snaps  # type: ignore[return-value]


def build_silver(spark: SparkSession, store: SnapshotStore, bronze: dict[str, Snapshot], staging: Path,
                 settings: Settings, fp: str) -> tuple[dict[str, Snapshot], dict[str, dict[str, Any]]]:
    """Silver tables and the quarantine as snapshots (unpublished), plus the outcome counts."""
    from components.etl import silver as S

    bronze_df = {k: store.read_spark(spark, s) for k, s in bronze.items()}
    headers = csv_headers(bronze[Kind.JUDGEMENTS.value])
    classified = S.classify(bronze_df, max_field_chars=settings.etl.max_field_chars, headers=headers)
    staged = {}
    for kind, df in classified.items():  # one parse pass per kind, re-read by every consumer
        df.write.mode("overwrite").parquet(str(staging / kind))
        staged[kind] = spark.read.parquet(str(staging / kind))
    outcomes = outcome_counts(staged)
    result = S.split(staged, bronze_df, {k: o["quarantine"] for k, o in outcomes.items()})
    snaps: dict[str, Snapshot] = {}
    for kind, df in result.tables.items():
        snaps[SILVER_TABLES[Kind(kind)]] = store.write(
            SILVER_TABLES[Kind(kind)], df, parents={f"bronze/{kind}": bronze[kind].ref},
            extra={"duplicates": outcomes[kind]["duplicate"], "quarantined": outcomes[kind]["quarantine"]})
    reasons = {k: v["reasons"] for k, v in outcomes.items()}
    snaps[QUARANTINE_TABLE] = store.write(
        QUARANTINE_TABLE, result.quarantine, parents={f"bronze/{k}": s.ref for k, s in bronze.items()},
        extra={"reasons": reasons, "outcomes": outcomes, "fingerprint": fp})
    return snaps, outcomes


def build_gold(spark: SparkSession, store: SnapshotStore, silver: dict[str, Snapshot], settings: Settings) -> dict[str, Snapshot]:
    """The four gold tables as snapshots (unpublished), from the silver snapshots."""
    from components.etl import gold as G

    cfg = settings.etl
    frames = {k.value: store.read_spark(spark, silver[SILVER_TABLES[k]]) for k in Kind}
    gold = G.to_gold(frames, eta=cfg.examination_eta, train=cfg.train_share, validation=cfg.validation_share)
    parents = {t: silver[t].ref for t in SILVER_TABLES.values()}
    return {table: store.write(table, df, parents=parents) for table, df in gold.items()}


def run_etl(settings: Settings, input_dir: str | Path, spark: SparkSession | None = None, *,
            progress: Progress | None = None, raise_on_failure: bool = True) -> dict[str, Any]:
    """Run the whole ETL on `input_dir`; return the summary (see `rankops etl run --summary`).

    Raises EtlError for unusable input, QualityGateFailed (nothing published) when the gate fails.
    """
    from components.common.spark import get_spark

    say = progress or (lambda _msg: None)
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    store = SnapshotStore(settings.lakehouse)

    say("discovering raw files")
    try:
        files, problems = B.discover_files(input_dir)
    except FileNotFoundError as exc:
        raise EtlError(str(exc)) from None
    if not files and all(latest_or_none(store, BRONZE_TABLES[k]) is None for k in Kind):
        detail = "; ".join(f"{p.path}: {p.problem}" for p in problems)
        raise EtlError(f"no raw files to ingest under {input_dir} (expected <batch>/search_log/*.jsonl, "
                       f"videos/*.jsonl, judgements/*.csv){': ' + detail if detail else ''}")
    spark = spark or get_spark(settings)
    staging = Path(settings.lakehouse) / settings.etl.staging / run_id
    try:
        say("bronze: ingesting new files")
        bronze, ingested, skipped = ingest_bronze(spark, store, files, started, problems)
        counts = bronze_counts(bronze)
        fp = fingerprint(settings, bronze)
        reused = reuse_published(store, fp)
        snaps: dict[str, Snapshot] = {BRONZE_TABLES[Kind(k)]: s for k, s in bronze.items()}
        if reused is not None:
            say("nothing new: the published snapshots already hold this input")
            snaps.update(reused)
            outcomes = reused[QUARANTINE_TABLE].manifest["extra"]["outcomes"]
            expectations = [Q.Expectation("unchanged input, settings and code", "*", fp, "published fingerprint", True)]
        else:
            say("silver: parsing, validating, deduplicating")
            silver, outcomes = build_silver(spark, store, bronze, staging, settings, fp)
            snaps.update(silver)
            say("gold: feature tables and labels")
            snaps.update(build_gold(spark, store, silver, settings))
            say("quality gate")
            expectations = run_gate(spark, store, snaps, counts, outcomes, settings)
        passed = all(e.passed for e in expectations)
        if passed and reused is None:
            say("publishing snapshots")
            for table, snap in snaps.items():
                store.publish(table, snap.snapshot_id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if staging.parent.exists() and not any(staging.parent.iterdir()):
            staging.parent.rmdir()

    report = {"run_id": run_id, "passed": passed, "input_dir": str(input_dir),
              "expectations": [e.to_dict() for e in expectations], "file_problems": [p.to_dict() for p in problems]}
    report_json, report_md = Q.write_report(Path(settings.reports_dir) / "etl" / run_id, report)
    failed = [e for e in expectations if not e.passed]
    summary = summarise(run_id, settings, input_dir, passed, counts, outcomes, snaps)
    summary.update({
        "files_ingested": [f.source_file for f in ingested],
        "files_already_ingested": skipped,
        "file_problems": [p.to_dict() for p in problems],
        "ignored_files": sorted(p.path for p in problems if p.ignored),
        "ignored_file_count": sum(p.ignored for p in problems),
        "failed_expectations": [e.to_dict() for e in failed],
        "report_json": str(report_json),
        "report_md": str(report_md),
        "seconds": round((datetime.now(UTC) - started).total_seconds(), 2),
    })
    if failed and raise_on_failure:
        first = failed[0]
        raise QualityGateFailed(
            f"quality gate failed ({len(failed)} expectation(s)), nothing published; first: {first.table} "
            f"{first.name} observed {json.dumps(first.observed, default=str)} vs {first.threshold}; "
            f"report: {report_md}", summary)
    return summary


def summarise(run_id: str, settings: Settings, input_dir: str | Path, passed: bool, counts: dict[str, dict[str, int]],
              outcomes: dict[str, dict[str, Any]], snaps: dict[str, Snapshot]) -> dict[str, Any]:
    """The counts part of the summary (the `--summary` JSON contract)."""
    reasons: dict[str, int] = {}
    for o in outcomes.values():
        for reason, n in o["reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + n
    return {
        "run_id": run_id,
        "input_dir": str(Path(input_dir).resolve()),
        "lakehouse": settings.lakehouse,
        "published": passed,
        "bronze_rows": sum(c["bronze"] for c in counts.values()),
        "header_rows": sum(c["headers"] for c in counts.values()),
        "silver_rows": sum(o["silver"] for o in outcomes.values()),
        "quarantined_rows": sum(o["quarantine"] for o in outcomes.values()),
        "duplicate_rows": sum(o["duplicate"] for o in outcomes.values()),
        "quarantine_reasons": dict(sorted(reasons.items())),
        "by_kind": {k: {"bronze": counts[k]["bronze"], "silver": o["silver"], "quarantined": o["quarantine"],
                        "duplicates": o["duplicate"], "reasons": o["reasons"]} for k, o in sorted(outcomes.items())},
        "gold_rows": {t: snaps[t].row_count for t in GOLD_TABLES},
        "snapshots": {t: s.snapshot_id for t, s in sorted(snaps.items())},
    }
