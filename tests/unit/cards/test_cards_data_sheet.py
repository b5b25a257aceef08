"""A gold snapshot's data sheet: schema with null shares from the Parquet footers, quarantine, raw batches."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from components.cards.data_sheet import write_data_sheet
from components.common.snapshots import SnapshotStore

FILE = {"source_file": "day1/videos/v.jsonl", "batch_id": "day1", "sha256": "cd" * 32,
        "ingested_at": "2026-01-02T00:00:00+00:00"}


def test_sheet_states_schema_nulls_quarantine_and_lineage(tmp_path: Path):
    lake = SnapshotStore(tmp_path / "lake")
    bronze = lake.write("bronze/videos", pd.DataFrame({"raw": ["x", "y"]}), extra={"files": [FILE]})
    silver = lake.write("silver/videos", pd.DataFrame({"v": ["x"]}), parents={"bronze/videos": bronze.ref})
    quarantine = lake.write("silver/quarantine", pd.DataFrame({"reason": ["bad_json"]}),
                            extra={"reasons": {"videos": {"bad_json": 1}},
                                   "outcomes": {"videos": {"silver": 1, "quarantine": 1, "duplicate": 0}}})
    gold = lake.write("gold/video_features", pd.DataFrame({"video_id": ["a", "b", None, "d"],
                                                          "ctr": [0.1, None, None, 0.4]}),
                      parents={"silver/videos": silver.ref})
    paths = write_data_sheet(lake, gold, quarantine)
    facts = json.loads(Path(paths["json"]).read_text())
    assert facts["rows"] == 4
    assert facts["schema"] == [{"name": "video_id", "type": "object", "nulls": 1, "null_share": 0.25},
                               {"name": "ctr", "type": "float64", "nulls": 2, "null_share": 0.5}]
    assert facts["quarantine"]["reasons"] == {"videos": {"bad_json": 1}}
    assert facts["lineage"] == [{"ref": silver.ref, "rows": 1, "bronze": [bronze.ref],
                                 "batches": [{"bronze": bronze.ref, **{k: FILE[k] for k in FILE}}]}]
    md = Path(paths["markdown"]).read_text()
    assert md.startswith(f"# Data sheet: {gold.ref}\n")
    assert "| ctr | float64 | 2 | 0.5000 |" in md and "| videos | bad_json | 1 |" in md
    assert f"| {silver.ref} | day1 | day1/videos/v.jsonl | cdcdcdcdcdcd | 2026-01-02T00:00:00+00:00 |" in md

    Path(paths["markdown"]).write_text("kept\n")  # a snapshot's sheet is written once
    assert write_data_sheet(lake, gold, quarantine) == paths and Path(paths["markdown"]).read_text() == "kept\n"
