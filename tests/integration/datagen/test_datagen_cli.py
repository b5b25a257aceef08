"""`rankops data generate` and `rankops data versions` through the real typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from components.common.config import Settings
from components.common.snapshots import SnapshotStore
from pipelines.cli import build_app

runner = CliRunner()


def test_generate_writes_data_summary_and_reports_speed(tmp_path: Path, rankops_home: Path) -> None:
    out, summary = tmp_path / "raw", tmp_path / "reports" / "gen.json"
    result = runner.invoke(
        build_app(),
        ["data", "generate", "--out", str(out), "--impressions", "1500", "--days", "2", "--seed", "3",
         "--dirty-share", "0.05", "--summary", str(summary)],
    )
    assert result.exit_code == 0, result.output
    assert "rows/s" in result.output and "search_log" in result.output
    written = json.loads(summary.read_text())
    ledger = json.loads((out / "_generator.json").read_text())
    assert written["params"] == ledger["params"] == {
        "impressions": 1500, "days": 2, "seed": 3, "dirty_share": 0.05, "start_date": "2026-10-01",
        "queries": 60, "videos": 210, "drift": 0.0,
    }
    # counts checked against the files on disk (data lines; a CSV's header is not one), not the ledger
    # one file of each kind the contract ignores, in the first batch; the ETL lists them, never reads them
    assert written["ignored_files"] == {
        "2026-10-01/judgements/part-00001.csv": "empty", "2026-10-01/search_log.jsonl": "outside_kind_folder",
        "2026-10-01/search_log/part-00001.jsonl.gz": "compressed",
        "2026-10-01/search_log/part-00002.jsonl": "compressed", "2026-10-01/videos/part-00001.jsonl": "not_utf8_text",
        "2026-10-01/videos/part-00002.json": "wrong_extension"}
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != "_generator.json")
    assert set(written["ignored_files"]) <= set(files)
    on_disk = {rel: (out / rel).read_bytes().count(b"\n") - rel.endswith(".csv")
               for rel in files if rel not in written["ignored_files"]}
    assert sorted(on_disk) == [f"{d}/{k}" for d in ("2026-10-01", "2026-10-02") for k in (
        "judgements/part-00000.csv", "search_log/part-00000.jsonl", "videos/part-00000.jsonl")]
    assert {kind: k["lines"] for kind, k in written["kinds"].items()} == {
        kind: sum(n for rel, n in on_disk.items() if f"/{kind}/" in rel) for kind in ("judgements", "search_log", "videos")}
    assert (written["batches"], written["header_lines"]) == (["2026-10-01", "2026-10-02"], 2)
    assert written["lines"] == sum(on_disk.values())
    assert written["lines"] == written["valid_rows"] + written["quarantined_rows"] + written["duplicate_rows"]
    assert written["quarantined_rows"] == sum(written["quarantine_reasons"].values())
    # every conflicting duplicate pair takes the place of one clean impression
    assert written["kinds"]["search_log"]["valid"] == 1500 - ledger["kinds"]["search_log"]["conflicting_pairs"]


def test_generate_rejects_bad_options_and_foreign_folders(tmp_path: Path, rankops_home: Path) -> None:
    bad = runner.invoke(build_app(), ["data", "generate", "--out", str(tmp_path / "x"), "--dirty-share", "0.9"])
    assert bad.exit_code == 2 and "dirty-share" in bad.output
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("x")
    foreign = runner.invoke(build_app(), ["data", "generate", "--out", str(tmp_path / "mine"), "--impressions", "10"])
    assert foreign.exit_code == 1 and "not a previous generator output" in foreign.output
    assert "Traceback" not in foreign.output


def test_versions_on_an_empty_lakehouse(settings: Settings) -> None:
    result = runner.invoke(build_app(), ["data", "versions"])
    assert result.exit_code == 0 and "is empty" in result.output
    as_json = runner.invoke(build_app(), ["data", "versions", "--json"])
    assert json.loads(as_json.stdout) == {"lakehouse": str(settings.lakehouse), "snapshots": []}
    missing = runner.invoke(build_app(), ["data", "versions", "silver/nope"], env={"COLUMNS": "500"})
    assert missing.exit_code == 1
    assert missing.output.strip() == f"error: no snapshots of table 'silver/nope' under {settings.lakehouse} (tables: none yet)"


def test_versions_lists_snapshots_latest_and_parents(settings: Settings) -> None:
    store = SnapshotStore(settings.lakehouse)
    first = store.write("silver/search_log", pd.DataFrame({"a": [1, 2]}), publish=True)
    second = store.write("silver/search_log", pd.DataFrame({"a": [1, 2, 3]}), publish=True)
    labels = store.write("gold/labels", pd.DataFrame({"b": ["x"]}), parents={"silver/search_log": second.ref})
    result = runner.invoke(build_app(), ["data", "versions", "--json"])
    assert result.exit_code == 0, result.output
    snaps = json.loads(result.stdout)["snapshots"]
    assert [(s["table"], s["snapshot_id"], s["rows"], s["latest"]) for s in snaps] == [
        ("gold/labels", labels.snapshot_id, 1, False),  # written but never published
        ("silver/search_log", first.snapshot_id, 2, False),
        ("silver/search_log", second.snapshot_id, 3, True),
    ]
    assert snaps[0]["parents"] == {"silver/search_log": second.ref}
    one = runner.invoke(build_app(), ["data", "versions", "silver/search_log", "--json"])
    assert [s["snapshot_id"] for s in json.loads(one.stdout)["snapshots"]] == [first.snapshot_id, second.snapshot_id]
    table = runner.invoke(build_app(), ["data", "versions"], env={"COLUMNS": "220"})
    assert table.exit_code == 0
    assert first.snapshot_id in table.output and second.snapshot_id in table.output and "gold/labels" in table.output
    assert f"silver/search_log@{second.snapshot_id[:8]}" in table.output  # the parent of gold/labels
