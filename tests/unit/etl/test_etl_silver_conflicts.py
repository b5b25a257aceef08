"""Conflicting duplicates that differ only in null vs empty (or in where an element sits): Spark's
xxhash64 skips NULLs and adds nothing for an empty array, so such pairs used to hash equal and the
second row was dropped as an exact duplicate. Both rows of a conflicting key go to the quarantine."""

import json
from datetime import datetime

import pytest

from components.etl.bronze import BRONZE_SCHEMA
from components.etl.impressions import check_impression
from components.etl.silver import classify, split

IMP_FILE = "b1/impressions/part-00000.jsonl"
BASE = {"request_id": "r1", "ts": "2026-10-01T10:00:00Z", "session_id": "s1", "query_id": None, "query": "lofi",
        "experiment": "exp-1", "mode": "interleave", "arm": None, "champion_version": "3", "challenger_version": "4",
        "video_ids": [], "teams": [], "latency_ms": 12.5, "fallback": True, "fallback_reason": "challenger timed out"}
AB = {**BASE, "request_id": "r2", "mode": "ab", "arm": "champion", "teams": None}
OK = {**BASE, "request_id": "r3", "video_ids": ["a", "b"], "teams": ["champion", "challenger"], "fallback": False,
      "fallback_reason": None}

LINES = [  # (line, row): every row is valid on its own
    (1, BASE),                                              # interleave fallback, teams: [] ...
    (2, {**BASE, "teams": None}),                           # ... and teams: null (a fallback may have none)
    (3, {**AB, "challenger_version": "x", "video_ids": []}),  # "x" moved from one field to the other
    (4, {**AB, "challenger_version": None, "video_ids": ["x"]}),
    (5, OK),
    (6, OK),                                                # an exact duplicate: still a duplicate
    (7, {**OK, "request_id": "r4", "ts": "2026-10-01T10:00:00.000001Z"}),  # a microsecond apart
    (8, {**OK, "request_id": "r4", "ts": "2026-10-01T10:00:00.000002Z"}),
    (9, {**AB, "request_id": "r5"}),                        # NULLs and an empty array, twice: a duplicate
    (10, {**AB, "request_id": "r5"}),
]


@pytest.fixture(scope="module")
def result(spark):
    stamp = datetime(2026, 10, 2)
    rows = [("impressions", "b1", IMP_FILE, n, json.dumps(r).encode(), "sha-imp", stamp, False) for n, r in LINES]
    bronze = {"impressions": spark.createDataFrame(rows, BRONZE_SCHEMA)}
    out = split(classify(bronze, max_field_chars=200, headers={}), bronze)
    return {
        "silver": sorted(r["line_number"] for r in out.tables["impressions"].collect()),
        "quarantine": sorted((r["line_number"], r["reason"]) for r in out.quarantine.collect()),
        "duplicates": sorted(r["line_number"] for r in out.duplicates["impressions"].collect()),
    }


def test_every_line_is_valid_on_its_own():
    for _, row in LINES:
        assert check_impression(row) is None


def test_null_vs_empty_and_moved_values_are_conflicts_not_duplicates(result):
    assert result["quarantine"] == [(n, "conflicting_duplicate") for n in (1, 2, 3, 4, 7, 8)]
    assert result["silver"] == [5, 9]
    assert result["duplicates"] == [6, 10]
    assert len(result["silver"]) + len(result["quarantine"]) + len(result["duplicates"]) == len(LINES)
