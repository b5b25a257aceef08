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
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.cards.data_sheet import write_data_sheet
from components.common.contract import QUARANTINE_TABLE
from components.common.snapshots import Snapshot, SnapshotStore
from components.etl import bronze as B
from components.etl import quality as Q
from components.etl.accounting import bronze_counts, checked_outcome_counts
from components.etl.contracts import Contract, contract_of, resolve_contract
from components.etl.gate import latest_or_none, run_gate
from components.etl.impressions import published_positions, write_impression_positions

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

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
                  problems: list[B.FileProblem], contract: Contract | None = None
                  ) -> tuple[dict[str, Snapshot], list[B.RawFile], list[str]]:
    """Append new files to each kind's bronze table (new snapshot); known content is a no-op."""
    contract = resolve_contract(contract)
    snaps: dict[str, Snapshot] = {}
    ingested: list[B.RawFile] = []
    skipped: list[str] = []
    for kind in contract.kinds:
        table = contract.bronze_tables[kind.name]
        prev = latest_or_none(store, table)
        known = {f["sha256"]: f["source_file"] for f in (prev.manifest["extra"].get("files", []) if prev else [])}
        new: list[B.RawFile] = []
        for f in (f for f in files if f.kind == kind.name):
            if f.sha256 in known:
                skipped.append(f.source_file)
            elif f.sha256 in {n.sha256 for n in new}:
                problems.append(B.FileProblem(f.source_file, "same content as another file of this run: ingested once",
                                              ignored=False))
            else:
                new.append(f)
        if prev is not None and not new:
            snaps[kind.name] = prev
            continue
        with B.whole_file_partitions(spark, new):
            if new:
                df = B.to_bronze(B.read_lines(spark, new), ingested_at, contract.csv_kinds)
            else:
                df = spark.createDataFrame([], B.BRONZE_SCHEMA)
            if prev is not None:
                df = store.read_spark(spark, prev).unionByName(df)
            listing = list(prev.manifest["extra"].get("files", [])) if prev else []
            listing += [{"source_file": f.source_file, "sha256": f.sha256, "batch_id": f.batch_id, "size": f.size,
                         "header": f.header, "ingested_at": ingested_at.isoformat()} for f in new]
            parents = {"previous": prev.ref} if prev else {}
            snaps[kind.name] = store.write(table, df,
                                            parents=parents, extra={"files": listing, "files_added": len(new)})
        ingested += new
    return snaps, ingested, skipped


def csv_headers(*snaps: Snapshot) -> dict[str, list[str]]:
    """Header columns of each CSV file (by content hash), from the bronze file listings."""
    from components.etl.parse import header_columns

    return {f["sha256"]: header_columns(f.get("header")) for snap in snaps for f in snap.manifest["extra"].get("files", [])}


def contract_state(contract: Contract) -> dict[str, Any]:
    """The contract as data (field tables, ranges, gold columns) plus the files of the ETL and of
    the contract's gold code: everything silver and gold depend on besides bronze and settings."""
    import dataclasses
    import importlib

    paths = set(Path(__file__).parent.glob("*.py"))
    for ref in (contract.build_gold, contract.gold_checks):
        module = ref.partition(":")[0] if isinstance(ref, str) else ref.__module__
        file = getattr(importlib.import_module(module), "__file__", None)
        if file:
            paths.add(Path(file))
    code = hashlib.sha256()
    for path in sorted(paths):
        code.update(path.read_bytes())
    data = {"name": contract.name, "kinds": [dataclasses.asdict(k) for k in contract.kinds],
            "gold": contract.gold_schemas, "labels": contract.labels_table, "ranges": contract.silver_ranges,
            "nullable": {t: sorted(c) for t, c in contract.silver_nullable.items()}}
    return {"code": code.hexdigest(), "contract": json.dumps(data, sort_keys=True, default=str)}


def fingerprint(settings: Settings, bronze: dict[str, Snapshot], contract: Contract | None = None) -> str:
    """What silver and gold are a pure function of: bronze snapshots, ETL settings, the contract and the code."""
    payload = {"bronze": {k: s.snapshot_id for k, s in sorted(bronze.items())},
               "settings": settings.etl.model_dump(mode="json"), **contract_state(resolve_contract(contract))}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def reuse_published(store: SnapshotStore, fp: str, contract: Contract | None = None) -> dict[str, Snapshot] | None:
    """The published snapshots when they were built from exactly this fingerprint, else None."""
    contract = resolve_contract(contract)
    quarantine = latest_or_none(store, QUARANTINE_TABLE)
    if quarantine is None or quarantine.manifest["extra"].get("fingerprint") != fp:
        return None
    tables = (*contract.silver_tables.values(), QUARANTINE_TABLE, *contract.gold_tables)
    snaps = {t: latest_or_none(store, t) for t in tables}
    return None if any(s is None for s in snaps.values()) else snaps  # type: ignore[return-value]


def check_kinds(spark: SparkSession, bronze: dict[str, Snapshot], bronze_df: dict[str, DataFrame], staging: Path,
                max_chars: int, headers: dict[str, list[str]], contract: Contract
                ) -> tuple[dict[str, DataFrame], dict[str, tuple[int, dict[str, int]]]]:
    """Every kind's lines checked on its bronze files into `staging/<kind>/checked`: the checked
    rows (as silver.check_kind gives them) and (lines, rejected lines by reason) per kind."""
    from components.etl import silver as S
    from components.etl.filecheck import check_bronze_files

    checked, counted = {}, {}
    for spec in contract.kinds:
        schema = S.check_kind(bronze_df[spec.name], spec, max_chars, headers).schema  # a plan, no job
        if bronze[spec.name].row_count == 0:
            checked[spec.name], counted[spec.name] = spark.createDataFrame([], schema), (0, {})
            continue
        folder = staging / spec.name / "checked"
        counted[spec.name] = check_bronze_files(spark, bronze[spec.name].data_path, spec, max_chars, headers, folder)
        checked[spec.name] = spark.read.schema(schema).parquet(str(folder))
    return checked, counted


def build_silver(spark: SparkSession, store: SnapshotStore, bronze: dict[str, Snapshot], staging: Path,
                 settings: Settings, fp: str, contract: Contract | None = None
                 ) -> tuple[dict[str, Snapshot], dict[str, dict[str, Any]]]:
    """Silver tables and the quarantine as snapshots (unpublished), plus the outcome counts."""
    from components.etl import silver as S
    from components.etl.filecheck import write_silver_files

    contract = resolve_contract(contract)
    bronze_df = {k: store.read_spark(spark, s) for k, s in bronze.items()}
    headers = csv_headers(*(bronze[k] for k in contract.csv_kinds))

    staged: dict[str, DataFrame] = {}

    def stage(name: str, df: DataFrame) -> DataFrame:  # one pass per kind, re-read by every consumer
        if bronze[name.partition("/")[0]].row_count == 0:  # an empty kind: Spark then plans no job for it
            return spark.createDataFrame([], df.schema)
        df.write.mode("overwrite").parquet(str(staging / name))
        staged[name] = spark.read.parquet(str(staging / name))
        return staged[name]

    checked, counted = check_kinds(spark, bronze, bronze_df, staging, settings.etl.max_field_chars, headers, contract)
    classified = S.classify(bronze_df, max_field_chars=settings.etl.max_field_chars, headers=headers,
                            contract=contract, stage=stage, checked=checked)
    duplicates = {n.partition("/")[0]: df for n, df in staged.items() if n.endswith("/duplicates")}
    outcomes = checked_outcome_counts(counted, duplicates)
    result = S.split(classified, bronze_df, {k: o["quarantine"] for k, o in outcomes.items()})

    def write_kind(kind: str, df: DataFrame) -> Snapshot:
        table, checked_dir = contract.silver_tables[kind], staging / kind / "checked"
        meta = {"parents": {f"bronze/{kind}": bronze[kind].ref},
                "extra": {"duplicates": outcomes[kind]["duplicate"], "quarantined": outcomes[kind]["quarantine"]}}
        if any(checked_dir.glob("*.parquet")):  # the same rows as df, selected from the checked parts
            fill = partial(write_silver_files, spark, checked_dir, staging / kind / "duplicates", df.columns)
            return store.write_files(table, spark, fill, df.schema, **meta)
        return store.write(table, df, **meta)

    reasons = {k: v["reasons"] for k, v in outcomes.items()}
    with ThreadPoolExecutor(max_workers=len(result.tables) + 1) as pool:  # side by side, as build_gold's
        written = {contract.silver_tables[k]: pool.submit(write_kind, k, df) for k, df in result.tables.items()}
        # keyed by the fingerprint too: reuse_published and the data sheets read this run's record from its manifest
        written[QUARANTINE_TABLE] = pool.submit(
            store.write, QUARANTINE_TABLE, result.quarantine, parents={f"bronze/{k}": s.ref for k, s in bronze.items()},
            extra={"reasons": reasons, "outcomes": outcomes, "fingerprint": fp}, identity=fp)
    snaps = {table: future.result() for table, future in written.items()}
    return snaps, outcomes


def build_gold(spark: SparkSession, store: SnapshotStore, silver: dict[str, Snapshot], settings: Settings,
               contract: Contract | None = None) -> dict[str, Snapshot]:
    """The contract's gold tables as snapshots (unpublished), from the silver snapshots."""
    contract = resolve_contract(contract)
    frames = {k: store.read_spark(spark, silver[t]) for k, t in contract.silver_tables.items()}
    gold = contract.gold(frames, settings)
    if set(gold) != set(contract.gold_tables):
        raise EtlError(f"contract {contract.name!r}: its gold builder returned {sorted(gold)}, "
                       f"the contract declares {sorted(contract.gold_tables)}")
    parents = {t: silver[t].ref for t in contract.silver_tables.values()}
    # written side by side: each table's plan is a few short jobs, and one alone leaves cores idle
    with ThreadPoolExecutor(max_workers=len(gold) or 1) as pool:
        written = {table: pool.submit(store.write, table, df, parents=parents) for table, df in gold.items()}
    return {table: future.result() for table, future in written.items()}


def run_etl(settings: Settings, input_dir: str | Path, spark: SparkSession | None = None, *,
            progress: Progress | None = None, raise_on_failure: bool = True) -> dict[str, Any]:
    """Run the whole ETL on `input_dir`; return the summary (see `rankops etl run --summary`).

    Raises EtlError for unusable input, QualityGateFailed (nothing published) when the gate fails.
    """
    from components.common.spark import get_spark

    say = progress or (lambda _msg: None)
    contract = contract_of(settings)
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    store = SnapshotStore(settings.lakehouse)

    say("discovering raw files")
    try:
        files, problems = B.discover_files(input_dir, contract)
    except FileNotFoundError as exc:
        raise EtlError(str(exc)) from None
    if not files and all(latest_or_none(store, t) is None for t in contract.bronze_tables.values()):
        detail = "; ".join(f"{p.path}: {p.problem}" for p in problems)
        raise EtlError(f"no raw files to ingest under {input_dir} (expected {contract.layout()})"
                       f"{': ' + detail if detail else ''}")
    spark = spark or get_spark(settings)
    staging = Path(settings.lakehouse) / settings.etl.staging / run_id
    try:
        say("bronze: ingesting new files")
        bronze, ingested, skipped = ingest_bronze(spark, store, files, started, problems, contract)
        counts = bronze_counts(bronze, contract)
        fp = fingerprint(settings, bronze, contract)
        reused = reuse_published(store, fp, contract)
        snaps: dict[str, Snapshot] = {contract.bronze_tables[k]: s for k, s in bronze.items()}
        if reused is not None:
            say("nothing new: the published snapshots already hold this input")
            snaps.update(reused)
            snaps.update(published_positions(store, reused))
            outcomes = reused[QUARANTINE_TABLE].manifest["extra"]["outcomes"]
            expectations = [Q.Expectation("unchanged input, settings and code", "*", fp, "published fingerprint", True)]
        else:
            say("silver: parsing, validating, deduplicating")
            silver, outcomes = build_silver(spark, store, bronze, staging, settings, fp, contract)
            snaps.update(silver)
            snaps.update(write_impression_positions(spark, store, silver))
            say("gold: feature tables and labels")
            snaps.update(build_gold(spark, store, silver, settings, contract))
            say("quality gate")
            expectations = run_gate(spark, store, snaps, counts, outcomes, settings, contract)
        passed = all(e.passed for e in expectations)
        if passed and reused is None:
            say("publishing snapshots")
            for table, snap in snaps.items():
                store.publish(table, snap.snapshot_id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if staging.parent.exists() and not any(staging.parent.iterdir()):
            staging.parent.rmdir()

    say("data sheets of the gold snapshots")
    sheets = {t: write_data_sheet(store, snaps[t], snaps.get(QUARANTINE_TABLE)) for t in contract.gold_tables}
    report = {"run_id": run_id, "passed": passed, "input_dir": str(input_dir),
              "expectations": [e.to_dict() for e in expectations], "file_problems": [p.to_dict() for p in problems]}
    report_json, report_md = Q.write_report(Path(settings.reports_dir) / "etl" / run_id, report)
    failed = [e for e in expectations if not e.passed]
    summary = summarise(run_id, settings, input_dir, passed, counts, outcomes, snaps, contract.gold_tables)
    summary.update({
        "files_ingested": [f.source_file for f in ingested],
        "files_already_ingested": skipped,
        "file_problems": [p.to_dict() for p in problems],
        "ignored_files": sorted(p.path for p in problems if p.ignored),
        "ignored_file_count": sum(p.ignored for p in problems),
        "failed_expectations": [e.to_dict() for e in failed],
        "report_json": str(report_json),
        "report_md": str(report_md),
        "data_sheets": sheets,
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
              outcomes: dict[str, dict[str, Any]], snaps: dict[str, Snapshot],
              gold_tables: tuple[str, ...] | None = None) -> dict[str, Any]:
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
        "gold_rows": {t: snaps[t].row_count for t in (gold_tables or resolve_contract(None).gold_tables)},
        "snapshots": {t: s.snapshot_id for t, s in sorted(snaps.items())},
    }
