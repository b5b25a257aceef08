"""Quality expectations (pandera) on tiny pandas frames: exact failures and observed values."""

import pandas as pd

from components.common.contract import GOLD_LABELS, GOLD_SCHEMAS
from components.etl.quality import check_gold, check_silver_profile, write_report

SCHEMA = [{"name": n, "type": t} for n, t in GOLD_SCHEMAS[GOLD_LABELS].items()]


def _labels(**changes):
    frame = pd.DataFrame({
        "query_id": ["a" * 16, "a" * 16, "b" * 16], "video_id": ["c" * 16, "d" * 16, "c" * 16],
        "event_timestamp": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-02"]),
        "query_text": ["rock", "rock", "jazz"], "label": [0, 3, 2], "split": ["train", "train", "test"],
    })
    for column, values in changes.items():
        frame[column] = values
    return frame


def test_good_labels_pass():
    got = [(e.name, e.observed, e.passed) for e in check_gold(GOLD_LABELS, _labels(), SCHEMA, 0.0)]
    assert got == [("schema", ", ".join(f"{c['name']}:{c['type']}" for c in SCHEMA), True),
                   ("pandera", "3 rows, all checks passed", True)]


def test_bad_labels_name_the_expectation_and_the_observed_values():
    failed = check_gold(GOLD_LABELS, _labels(label=[0, 5, 2], split=["train", "test", "test"]), SCHEMA, 0.0)
    got = {(e.name, e.passed): e.observed for e in failed}
    assert got == {
        ("schema", True): ", ".join(f"{c['name']}:{c['type']}" for c in SCHEMA),
        ("isin([0, 1, 2, 3])(label)", False): {"failing_rows": 1, "examples": [5]},
        ("one_split_per_query", False): {"failing_rows": 2, "rows": [0, 1]},
    }


def test_wrong_schema_fails():
    renamed = [dict(c, type="string") if c["name"] == "label" else c for c in SCHEMA]
    (schema, *_) = check_gold(GOLD_LABELS, _labels(), renamed, 0.0)
    assert (schema.name, schema.passed) == ("schema", False)


def test_silver_profile_names_table_column_and_observed_value(tmp_path):
    profile = pd.DataFrame([
        {"table": "silver/search_log", "column": "position", "rows": 10, "null_share": 0.0, "required": True,
         "min": 0.0, "max": 9.0, "lower": 1.0, "upper": None},
        {"table": "silver/search_log", "column": "query", "rows": 10, "null_share": 0.2, "required": True,
         "min": None, "max": None, "lower": None, "upper": None},
        {"table": "silver/search_log", "column": "dwell_ms", "rows": 10, "null_share": 0.7, "required": False,
         "min": 0.0, "max": 5.0, "lower": 0.0, "upper": None},
        {"table": "silver/videos", "column": "title", "rows": 3, "null_share": 0.0, "required": True,
         "min": None, "max": None, "lower": None, "upper": None},
    ])
    got = sorted((e.table, e.name, e.observed, e.threshold, e.passed) for e in check_silver_profile(profile, 0.0))
    assert got == [
        ("silver/search_log", "min(position)", 0.0, 1.0, False),
        ("silver/search_log", "null_share(query)", 0.2, 0.0, False),
        ("silver/videos", "null_share+ranges", "all columns within bounds", 0.0, True),
    ]
    json_path, md_path = write_report(tmp_path, {"run_id": "r1", "passed": False, "expectations": [
        {"name": "min(position)", "table": "silver/search_log", "observed": 0.0, "threshold": 1.0, "passed": False}]})
    assert "| min(position) | silver/search_log | 0.0 | 1.0 | **FAILED** |" in md_path.read_text()
    assert '"passed": false' in json_path.read_text()
