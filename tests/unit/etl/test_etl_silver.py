"""Silver: one example per quarantine reason (exact reason, raw text, file, line), typed rows, duplicates.

The property-based suite (test_etl_contract_properties.py) covers every defect class of the contract.
"""

import json
from datetime import datetime

import pytest

from components.common.contract import Reason
from components.etl import normalize as nz
from components.etl.bronze import BRONZE_SCHEMA
from components.etl.silver import BROADCAST_REJECTS_MAX, classify, split

SL, VID, JUD = "b1/search_log/p.jsonl", "b1/videos/p.jsonl", "b1/judgements/p.csv"
GOOD = {"event_id": "e1", "ts": "2026-01-01T10:00:00+02:00", "session_id": "s1", "query": "Cafe\u0301  ROCK",
        "video_url": "https://WWW.VidHub.example/watch?utm_source=x&v=a1", "position": 2, "clicked": True,
        "dwell_ms": 1500, "client": "ios"}  # unknown extra field: accepted
VIDEO = {"video_url": "https://vidhub.example/watch?v=a1", "title": "Rock", "description": "d", "channel": "c",
         "duration_s": 12.5, "published_at": "2025-12-01T00:00:00Z", "tags": ["x", "y"]}


def _sl(**changes):
    row = {**GOOD, **changes}
    return json.dumps({k: v for k, v in row.items() if v != "<drop>"})


def _vid(**changes):
    return json.dumps({**VIDEO, **changes})


# (reason, kind, source file, line, raw bytes)
CASES = [
    (Reason.INVALID_UTF8, "search_log", SL, 3, _sl(event_id="u1").replace("ROCK", "R\\u00d6CK").encode()[:-1] + b'\xff"}'),
    (Reason.MALFORMED_JSON, "search_log", SL, 4, b'{"event_id": "m1", "ts'),
    (Reason.NOT_AN_OBJECT, "search_log", SL, 5, b'["e1", "2026-01-01T10:00:00Z"]'),
    (Reason.MISSING_FIELD, "search_log", SL, 6, _sl(event_id="f1", session_id="<drop>").encode()),
    (Reason.NULL_FIELD, "search_log", SL, 7, _sl(event_id="n1", query=None).encode()),
    (Reason.WRONG_TYPE, "search_log", SL, 8, _sl(event_id="w1", clicked="yes").encode()),
    (Reason.OUT_OF_RANGE, "search_log", SL, 9, _sl(event_id="o1", position=0).encode()),
    (Reason.INVALID_TIMESTAMP, "search_log", SL, 10, _sl(event_id="t1", ts="2026-02-30T10:00:00Z").encode()),
    (Reason.MISSING_TIMEZONE, "search_log", SL, 11, _sl(event_id="z1", ts="2026-01-01T10:00:00").encode()),
    (Reason.INVALID_URL, "search_log", SL, 12, _sl(event_id="i1", video_url="ftp://vidhub.example/v/1").encode()),
    (Reason.EMPTY_QUERY, "search_log", SL, 13, _sl(event_id="q1", query=" \t ").encode()),
    (Reason.FIELD_TOO_LONG, "videos", VID, 2, _vid(title="t" * 61).encode()),
    (Reason.CSV_COLUMN_COUNT, "judgements", JUD, 3, b"rock,https://vidhub.example/watch?v=a1,2"),
    (Reason.CONFLICTING_DUPLICATE, "search_log", SL, 14, _sl(event_id="c1").encode()),
    (Reason.MALFORMED_JSON, "search_log", SL, 16, _sl(event_id="g1").encode() + b" xyz"),  # trailing garbage
    (Reason.CONTROL_CHARACTER, "search_log", SL, 17, _sl(event_id="k1", query="rock\x7f").encode()),
    (Reason.BLANK_FIELD, "search_log", SL, 18, _sl(event_id="b1", session_id=" \u3000").encode()),
    (Reason.OUT_OF_RANGE, "videos", VID, 5, _vid(duration_s=1e20).encode()),
    (Reason.MALFORMED_CSV, "judgements", JUD, 5, b'"rock,https://vidhub.example/watch?v=a1,2,ann1,2026-01-02T00:00:00Z'),
]
EXTRA = [  # valid rows, an exact duplicate and the other half of the conflicting pair
    ("search_log", SL, 1, _sl().encode()),
    ("search_log", SL, 2, _sl().encode()),
    ("search_log", SL, 15, _sl(event_id="c1", position=5).encode()),
    ("videos", VID, 1, _vid().encode()),
    ("judgements", JUD, 1, b"\xef\xbb\xbfquery,video_url,label,annotator,ts"),
    ("judgements", JUD, 2, b'"Rock, live",https://vidhub.example/watch/?v=a1&si=1,3,ann1,2026-01-02T00:00:00Z'),
    ("videos", VID, 3, _vid().encode()),  # exact duplicates of a catalogue row and a judgement
    ("videos", VID, 4, _vid(title="Rock (remastered)").encode()),  # another version: kept
    ("judgements", JUD, 4, b'"Rock, live",https://vidhub.example/watch/?v=a1&si=1,3.0,ann1,2026-01-02T02:00:00+02:00'),
]


@pytest.fixture(scope="module")
def silver(spark):
    stamp = datetime(2026, 1, 5)
    rows = [(k, "b1", f, line, raw, f"sha-{k}", stamp, k == "judgements" and line == 1) for _, k, f, line, raw in CASES]
    rows += [(k, "b1", f, line, raw, f"sha-{k}", stamp, k == "judgements" and line == 1) for k, f, line, raw in EXTRA]
    bronze = spark.createDataFrame(rows, BRONZE_SCHEMA)
    by_kind = {k: bronze.filter(bronze.kind == k) for k in ("search_log", "videos", "judgements")}
    headers = {"sha-judgements": ["query", "video_url", "label", "annotator", "ts"]}
    classified = {k: df.cache() for k, df in classify(by_kind, max_field_chars=60, headers=headers).items()}
    result = split(classified, by_kind)
    many = split(classified, by_kind, {k: BROADCAST_REJECTS_MAX + 1 for k in classified})  # shuffle join instead
    return {
        "quarantine_unbroadcast": [r.asDict() for r in many.quarantine.orderBy("kind", "line_number").collect()],
        "tables": {k: [r.asDict() for r in df.orderBy("line_number").collect()] for k, df in result.tables.items()},
        "quarantine": [r.asDict() for r in result.quarantine.orderBy("kind", "line_number").collect()],
        "duplicates": {k: df.count() for k, df in result.duplicates.items()},
    }


@pytest.mark.parametrize(("reason", "kind", "source", "line", "raw"), CASES, ids=[c[0].value for c in CASES])
def test_each_reason_quarantines_the_row_with_its_raw_text(silver, reason, kind, source, line, raw):
    row = next(q for q in silver["quarantine"] if q["source_file"] == source and q["line_number"] == line)
    assert row["reason"] == reason.value
    assert row["kind"] == kind
    assert bytes(row["raw"]) == raw
    assert row["raw_text"] == raw.decode("utf-8", "replace")


def test_many_rejects_get_their_raw_lines_by_shuffle_join_too(silver):
    assert silver["quarantine_unbroadcast"] == silver["quarantine"]
    assert len(silver["quarantine"]) == len(CASES) + 1


def test_conflicting_pair_quarantines_both_rows_and_counts_are_exact(silver):
    conflict = [(q["line_number"], q["reason"]) for q in silver["quarantine"] if q["reason"] == "conflicting_duplicate"]
    assert conflict == [(14, "conflicting_duplicate"), (15, "conflicting_duplicate")]
    assert len(silver["quarantine"]) == len(CASES) + 1
    assert silver["duplicates"] == {"search_log": 1, "videos": 1, "judgements": 1}
    assert [q["detail"] for q in silver["quarantine"] if q["line_number"] == 6 and q["kind"] == "search_log"] == [
        "session_id: missing"]


def test_valid_rows_are_typed_with_ids_equal_to_python(silver):
    (sl,) = silver["tables"]["search_log"]
    assert (sl["event_id"], sl["line_number"], sl["position"], sl["clicked"], sl["dwell_ms"]) == ("e1", 1, 2, True, 1500)
    assert sl["ts"] == datetime(2026, 1, 1, 8, 0)  # +02:00 -> UTC
    assert sl["query_norm"] == "caf\u00e9 rock" and sl["query_id"] == nz.query_id_of(GOOD["query"])
    assert sl["canonical_url"] == "vidhub.example/watch?v=a1" and sl["video_id"] == nz.video_id_of(GOOD["video_url"])
    video, version = silver["tables"]["videos"]
    assert (video["video_id"], video["duration_s"], video["tags"], video["published_at"]) == (
        sl["video_id"], 12.5, ["x", "y"], datetime(2025, 12, 1))
    assert (video["line_number"], version["line_number"], version["title"]) == (1, 4, "Rock (remastered)")
    (judgement,) = silver["tables"]["judgements"]
    assert (judgement["query"], judgement["query_id"], judgement["video_id"], judgement["label"], judgement["annotator"]) == (
        "Rock, live", nz.query_id_of("rock, live"), sl["video_id"], 3, "ann1")


def test_a_lone_candidate_stays_silver_and_every_row_keeps_one_outcome(spark):
    """duplicate_candidates may over-select (a 64-bit hash collision): a candidate alone under its key
    is then kept, and with_outcomes gives every checked row exactly one outcome, candidates or not."""
    from components.etl.silver import OUTCOME, classify_duplicates, duplicate_candidates, with_outcomes

    schema = ("batch_id string, source_file string, line_number long, file_sha256 string, reason string, "
              "detail string, event_id string, query string")
    rows = [("b1", "f", 1, "s", None, None, "e1", "rock"), ("b1", "f", 2, "s", None, None, "e1", "rock"),
            ("b1", "f", 3, "s", None, None, "e2", "jazz"), ("b1", "f", 4, "s", None, None, "e2", "folk"),
            ("b1", "f", 5, "s", None, None, "e3", "pop"), ("b1", "f", 6, "s", "malformed_json", "x", None, None)]
    checked = spark.createDataFrame(rows, schema)
    key, content = ("event_id",), ("event_id", "query")
    candidates = duplicate_candidates(checked, key)
    assert sorted(r["line_number"] for r in candidates.collect()) == [1, 2, 3, 4]
    collided = candidates.unionByName(checked.filter("line_number = 5"))  # as if e3 shared e1's hash
    out = with_outcomes(checked, classify_duplicates(collided, key, content)).collect()
    assert len(out) == len(rows)
    got = {r["line_number"]: (r[OUTCOME], r["reason"]) for r in out}
    assert got == {1: ("silver", None), 2: ("duplicate", None), 3: ("quarantine", "conflicting_duplicate"),
                   4: ("quarantine", "conflicting_duplicate"), 5: ("silver", None), 6: ("quarantine", "malformed_json")}
