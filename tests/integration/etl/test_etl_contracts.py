"""The ETL machinery on a contract other than search: discovery, strict checks with quarantine and
accounting, deduplication, gold, quality gate and publication, all driven by the Contract object."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.common import contract as C
from components.common import plugins
from components.common.config import load_settings
from components.common.snapshots import SnapshotStore
from components.etl.contracts import SEARCH, Contract, KindSpec, get_contract

IMPRESSION_COLUMNS = ("request_id", "ts", "session_id", "query_id", "query", "query_norm", "experiment", "mode", "arm",
                      "champion_version", "challenger_version", "video_ids", "teams", "latency_ms", "fallback",
                      "fallback_reason")

T = C.FieldType
METERS = KindSpec(
    name="meters", suffix=".jsonl",
    rules=(C.FieldRule("meter_id", T.STRING, max_chars=20), C.FieldRule("ts", T.TIMESTAMP, sql="timestamp"),
           C.FieldRule("kwh", T.NUMBER, minimum=0, maximum=100, sql="double")),
    silver_columns=("meter_id", "ts", "kwh"), dedup_key=("meter_id", "ts"),
)
GOLD = "gold/meter_totals"


def meter_gold(silver, settings):
    from pyspark.sql import functions as F

    totals = silver["meters"].groupBy("meter_id").agg(F.max("ts").alias("event_timestamp"), F.sum("kwh").alias("kwh"))
    return {GOLD: totals.select("meter_id", "event_timestamp", F.col("kwh").cast("double"))}


def meter_checks(max_null_share):
    import pandera.pandas as pa

    return {GOLD: pa.DataFrameSchema({"kwh": pa.Column(checks=[pa.Check.le(150)])}, name=GOLD)}


METER = Contract(name="meter", kinds=(METERS,), gold_schemas={GOLD: {"meter_id": "string", "event_timestamp": "timestamp",
                                                                      "kwh": "double"}},
                 build_gold=meter_gold, gold_checks=meter_checks, labels_table=GOLD,
                 silver_ranges={"silver/meters": {"kwh": (0, 100)}})


@pytest.fixture
def meter_settings(rankops_home):
    plugins.register_plugin(plugins.CONTRACTS, "meter", METER)
    yield load_settings("local", environ={"RANKOPS_HOME": str(rankops_home), "RANKOPS_ETL__CONTRACT": "meter"})
    plugins.unregister_plugin(plugins.CONTRACTS, "meter")


def write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_the_search_contract_is_the_field_table_of_contract_py() -> None:
    assert get_contract("search") is SEARCH
    assert [(k.name, k.suffix, k.rules, k.silver_columns, k.dedup_key) for k in SEARCH.kinds] == [
        (k.value, C.KIND_SUFFIX[k], C.RULES[k], C.SILVER_COLUMNS[k], C.DEDUP_KEY[k]) for k in C.Kind] + [
        ("impressions", ".jsonl", C.IMPRESSION_RULES, IMPRESSION_COLUMNS, ("request_id",)),  # the ranker's logs
        ("clicks", ".jsonl", C.CLICK_RULES, tuple(r.name for r in C.CLICK_RULES), tuple(r.name for r in C.CLICK_RULES))]
    assert SEARCH.gold_tables == C.GOLD_TABLES and SEARCH.labels_table == C.GOLD_LABELS
    assert SEARCH.layout() == ("<batch>/search_log/*.jsonl, videos/*.jsonl, judgements/*.csv, impressions/*.jsonl, "
                               "clicks/*.jsonl")
    with pytest.raises(ValueError, match=r"unknown data contract 'nope'; registered: search"):
        get_contract("nope")


def test_a_new_contract_runs_through_the_whole_etl(meter_settings, spark, tmp_path: Path) -> None:
    from components.common.snapshots import SnapshotNotFound
    from components.etl.run import QualityGateFailed, run_etl

    raw = tmp_path / "raw" / "2026-01-01"
    write(raw / "meters" / "a.jsonl", [
        '{"meter_id": "m1", "ts": "2026-01-01T10:00:00Z", "kwh": 2.5}',
        '{"meter_id": "m1", "ts": "2026-01-01T11:00:00+01:00", "kwh": 2.5}',  # the same instant: an exact duplicate
        '{"meter_id": "m2", "ts": "2026-01-01T10:00:00Z", "kwh": 4}',
        '{"meter_id": "m2", "ts": "2026-01-01T12:00:00Z", "kwh": 101}',
        '{"meter_id": "m3", "ts": "2026-01-01T10:00:00"}',
        '{"meter_id": "m3", "ts": "2026-01-01T10:00:00Z", "kwh": 1} trailing',
    ])
    write(raw / "judgements" / "j.csv", ["query,video_url,label,annotator,ts"])  # not a kind of this contract
    with pytest.raises(QualityGateFailed, match="silver/quarantine quarantine_share observed 0.5 vs 0.25"):
        run_etl(meter_settings, tmp_path / "raw", spark)  # 3 of 6 lines quarantined: nothing is published
    with pytest.raises(SnapshotNotFound):
        SnapshotStore(meter_settings.lakehouse).latest(GOLD)
    meter_settings.etl.max_quarantine_share = 0.5
    summary = run_etl(meter_settings, tmp_path / "raw", spark)
    assert summary["published"] is True
    assert summary["by_kind"] == {"meters": {"bronze": 6, "silver": 2, "quarantined": 3, "duplicates": 1, "reasons": {
        "malformed_json": 1, "missing_timezone": 1, "out_of_range": 1}}}  # ts is checked before the absent kwh
    assert summary["ignored_files"] == ["2026-01-01/judgements/j.csv"]
    assert summary["gold_rows"] == {GOLD: 2}
    store = SnapshotStore(meter_settings.lakehouse)
    gold = store.read_pandas(store.latest(GOLD)).sort_values("meter_id")
    assert gold[["meter_id", "kwh"]].values.tolist() == [["m1", 2.5], ["m2", 4.0]]
    quarantine = store.read_pandas(store.latest("silver/quarantine")).sort_values("line_number")
    assert quarantine[["line_number", "reason", "detail"]].values.tolist() == [
        [4, "out_of_range", "kwh: 101 not in [0, 100]"], [5, "missing_timezone", "ts: no zone"],
        [6, "malformed_json", "Extra data at column 60"]]
    report = json.loads(Path(summary["report_json"]).read_text())
    assert {(e["name"], e["table"], e["passed"]) for e in report["expectations"]} >= {
        ("accounting: bronze = silver + quarantine + duplicates", "bronze/meters", True),
        ("schema", GOLD, True), ("pandera", GOLD, True)}
    again = run_etl(meter_settings, tmp_path / "raw", spark)  # the same input, settings, contract and code
    assert again["snapshots"] == summary["snapshots"]
    assert again["files_already_ingested"] == ["2026-01-01/meters/a.jsonl"]
