"""End to end on a generated dirty data set: CLI, accounting vs the generator, idempotency, the gate."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from components.common.config import load_settings
from components.common.contract import (
    BRONZE_TABLES,
    GOLD_SCHEMAS,
    GOLD_TABLES,
    QUARANTINE_TABLE,
    SILVER_IMPRESSION_POSITIONS,
    SILVER_TABLES,
    Reason,
)
from components.common.snapshots import SnapshotStore
from components.etl.run import QualityGateFailed, run_etl

pytestmark = pytest.mark.slow
ONLINE = ("impressions", "clicks")  # the ranker's logs: kinds of the contract, empty in this data set
ALL_SILVER = [*SILVER_TABLES.values(), *(f"silver/{k}" for k in ONLINE)]
ALL_TABLES = sorted([*BRONZE_TABLES.values(), *(f"bronze/{k}" for k in ONLINE), *ALL_SILVER, QUARANTINE_TABLE,
                     SILVER_IMPRESSION_POSITIONS, *GOLD_TABLES])


@pytest.fixture(scope="module")
def world(tmp_path_factory, spark):
    from components.datagen.generate import generate_dataset

    home = tmp_path_factory.mktemp("etl-run") / "home"
    raw = home / "raw"
    generated = generate_dataset(raw, impressions=1200, days=2, seed=11, dirty_share=0.05)
    settings = load_settings("local", environ={"RANKOPS_HOME": str(home)})
    return {"home": home, "raw": raw, "generated": generated, "settings": settings}


@pytest.fixture(scope="module")
def first_run(world):
    from pipelines.cli import build_app

    summary_path = world["home"] / "summary.json"
    result = CliRunner().invoke(
        build_app(), ["etl", "run", "--input", str(world["raw"]), "--summary", str(summary_path)],
        env={"RANKOPS_HOME": str(world["home"]), "RANKOPS_ENV": "local"},
    )
    assert result.exit_code == 0, result.output
    return {"output": result.output, "summary": json.loads(summary_path.read_text())}


def test_cli_run_matches_the_generators_ledger(world, first_run):
    gen, summary = world["generated"], first_run["summary"]
    assert summary["published"] is True
    assert summary["quarantine_reasons"] == {r: n for r, n in gen["quarantine_reasons"].items() if n}
    assert len(summary["quarantine_reasons"]) == len(Reason)  # every Reason is exercised
    assert (summary["bronze_rows"], summary["silver_rows"], summary["duplicate_rows"], summary["quarantined_rows"]) == (
        gen["lines"], gen["valid_rows"], gen["duplicate_rows"], gen["quarantined_rows"])
    for kind, k in gen["kinds"].items():
        assert summary["by_kind"][kind]["reasons"] == {r: n for r, n in k["quarantined"].items() if n}
        assert summary["by_kind"][kind]["silver"] == k["valid"]
    assert sorted(summary["snapshots"]) == ALL_TABLES
    assert summary["ignored_files"] == sorted(gen["ignored_files"]) and summary["ignored_file_count"] == 6
    assert {p["path"]: p["defect"] for p in summary["file_problems"]} == gen["ignored_files"]
    assert "published" in first_run["output"] and "quality report" in first_run["output"]


def test_published_tables_have_the_contract_schemas(world, first_run):
    store = SnapshotStore(world["settings"].lakehouse)
    for table in ALL_TABLES:
        assert store.latest(table).snapshot_id == first_run["summary"]["snapshots"][table]
    for table in GOLD_TABLES:
        snap = store.latest(table)
        assert snap.manifest["schema"] == [{"name": n, "type": t} for n, t in GOLD_SCHEMAS[table].items()]
        assert snap.manifest["parents"] == {
            t: f"{t}@{first_run['summary']['snapshots'][t]}" for t in ALL_SILVER}
    quarantine = store.read_pandas(store.latest(QUARANTINE_TABLE))
    assert len(quarantine) == first_run["summary"]["quarantined_rows"]
    assert quarantine["source_file"].str.endswith((".jsonl", ".csv")).all() and (quarantine["line_number"] >= 1).all()
    videos = store.read_pandas(store.latest("gold/video_features"))
    catalogue = store.read_pandas(store.latest("silver/videos"))
    assert set(videos["video_id"]) == set(catalogue["video_id"])  # also never-shown videos


def test_second_run_is_a_no_op_with_the_same_snapshot_ids(world, first_run, spark):
    again = run_etl(world["settings"], world["raw"], spark)
    assert again["snapshots"] == first_run["summary"]["snapshots"]
    assert again["files_ingested"] == [] and len(again["files_already_ingested"]) == 6
    assert again["bronze_rows"] == first_run["summary"]["bronze_rows"]  # no duplicated bronze rows


def test_settings_changed_and_changed_back_rebuild_gold_instead_of_reusing_it(world, first_run, spark):
    """The quarantine rows are the same under every eta; the run that published last must be the one reuse
    compares with, not the first that made those rows (which would keep eta 0.5's gold under eta 1.0)."""
    env = {"RANKOPS_HOME": str(world["home"])}
    half = run_etl(load_settings("local", environ={**env, "RANKOPS_ETL__EXAMINATION_ETA": "0.5"}), world["raw"], spark)
    snaps = first_run["summary"]["snapshots"]
    assert half["published"] and half["snapshots"]["gold/query_video_features"] != snaps["gold/query_video_features"]
    back = run_etl(world["settings"], world["raw"], spark)  # eta 1.0 again: gold as the first run built it
    assert back["published"] and back["snapshots"] == snaps
    store = SnapshotStore(world["settings"].lakehouse)
    assert store.latest("gold/query_video_features").snapshot_id == snaps["gold/query_video_features"]
    quarantines = {first_run["summary"]["snapshots"][QUARANTINE_TABLE], half["snapshots"][QUARANTINE_TABLE]}
    assert len(quarantines) == 2  # the same rows, two runs: each with its own fingerprint in its manifest


def test_kfp_io_fills_gold_metrics_and_report_artifacts(world, first_run, monkeypatch, tmp_path):
    from kfp.dsl import HTML, Dataset, Markdown, Metrics

    from components.etl.kfp_io import run_etl_op

    monkeypatch.setenv("RANKOPS_HOME", str(world["home"]))
    gold, metrics = Dataset(name="gold", uri=str(tmp_path / "gold")), Metrics(name="m", uri=str(tmp_path / "m"))
    report = Markdown(name="r", uri=str(tmp_path / "r.md"))
    sheets = Markdown(name="s", uri=str(tmp_path / "s.md")), HTML(name="h", uri=str(tmp_path / "s.html"))
    run_etl_op(gold, metrics, report, input_dir=str(world["raw"]), env="local", sheets=sheets)  # unchanged: reuses
    snaps = first_run["summary"]["snapshots"]
    assert gold.metadata["snapshots"] == snaps and gold.metadata["published"] is True
    assert gold.metadata["gold_refs"]["gold/labels"] == f"gold/labels@{snaps['gold/labels']}"
    assert gold.metadata["uri"] == world["settings"].lakehouse
    assert metrics.metadata["silver_rows"] == float(world["generated"]["valid_rows"])
    assert Path(report.path).read_text().startswith("# ETL quality report")
    text = Path(sheets[0].path).read_text()
    assert text.startswith(f"# Data sheets of the gold snapshots (ETL run {gold.metadata['run_id']})")
    assert all(f"## {t}: Schema and null shares" in text for t in GOLD_TABLES)
    assert "<title>Data sheets of the gold snapshots" in Path(sheets[1].path).read_text()


def test_data_sheets_lie_beside_the_gold_snapshots(world, first_run):
    from components.cards.data_sheet import FILES

    gen, summary = world["generated"], first_run["summary"]
    store = SnapshotStore(world["settings"].lakehouse)
    reasons = {kind: {r: n for r, n in k["quarantined"].items() if n} for kind, k in gen["kinds"].items()}
    for table in GOLD_TABLES:
        snap = store.get(table, summary["snapshots"][table])
        assert sorted(p.name for p in Path(snap.path).glob("datasheet.*")) == sorted(FILES)
        facts = json.loads((Path(snap.path) / "datasheet.json").read_text())
        frame = store.read_pandas(snap)  # every row read, against the Parquet footers' null counts
        assert [(c["name"], c["nulls"]) for c in facts["schema"]] == [(c, int(frame[c].isna().sum())) for c in frame]
        assert facts["quarantine"]["reasons"] == reasons | dict.fromkeys(ONLINE, {})  # the generator's ledger
        batches = {b["source_file"] for s in facts["lineage"] for b in s["batches"]}
        assert batches == set(summary["files_ingested"])
    md = Path(summary["data_sheets"]["gold/labels"]["markdown"]).read_text()
    assert md.startswith(f"# Data sheet: gold/labels@{summary['snapshots']['gold/labels']}\n")


def test_bad_batch_fails_the_gate_and_publishes_nothing(world, first_run, spark):
    store = SnapshotStore(world["settings"].lakehouse)
    before = {t: store.latest(t).snapshot_id for t in ALL_TABLES}
    bad = Path(world["raw"]) / "2026-12-01" / "search_log"
    bad.mkdir(parents=True)
    (bad / "part-00000.jsonl").write_bytes(b"not json\n" * 2000)
    (bad / "part-00001.jsonl").write_bytes(b"")
    with pytest.raises(QualityGateFailed) as failure:
        run_etl(world["settings"], world["raw"], spark)
    summary = failure.value.summary
    assert summary["published"] is False
    assert {t: store.latest(t).snapshot_id for t in ALL_TABLES} == before
    report = json.loads(Path(summary["report_json"]).read_text())
    (share,) = [e for e in report["expectations"] if e["name"] == "quarantine_share"]
    expected = (first_run["summary"]["quarantined_rows"] + 2000) / (first_run["summary"]["bronze_rows"] + 2000)
    assert (share["passed"], share["observed"], share["threshold"]) == (False, round(expected, 6), 0.25)
    new_problems = [p for p in summary["file_problems"] if p["path"].startswith("2026-12-01")]
    assert new_problems == [{"path": "2026-12-01/search_log/part-00001.jsonl", "defect": "empty", "ignored": True,
                             "problem": "ignored: empty file (0 bytes): nothing to ingest"}]
    assert "quarantine_share" in Path(summary["report_md"]).read_text()

