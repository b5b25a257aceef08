"""The ranker's impressions and clicks through the real ETL (Spark): landing folders picked up like every
kind, bad rows quarantined with file/line/field, exact accounting, clicks joined back by request id."""

import json
from datetime import UTC, datetime

import pytest

from components.common.config import load_settings
from components.common.contract import SILVER_IMPRESSION_POSITIONS
from components.common.snapshots import SnapshotStore
from components.etl.run import run_etl

pytestmark = pytest.mark.slow
IMP = {"request_id": "r1", "ts": "2026-10-01T10:00:00Z", "session_id": "s1", "query_id": None, "query": "lofi",
       "experiment": "exp-1", "mode": "interleave", "arm": None, "champion_version": "3", "challenger_version": "4",
       "video_ids": ["a", "b", "c"], "teams": ["champion", "challenger", "champion"], "latency_ms": 12.5,
       "fallback": False, "fallback_reason": None}
AB = {**IMP, "request_id": "r2", "mode": "ab", "arm": "challenger", "teams": None, "video_ids": ["a", "b"],
      "fallback": True, "fallback_reason": "challenger over its latency budget"}


def dump(row: dict, **changes) -> str:
    return json.dumps({k: v for k, v in {**row, **changes}.items() if v != "<drop>"})


IMPRESSION_LINES = [
    dump(IMP), dump(AB), dump(IMP),  # line 3: an exact duplicate of line 1
    dump(IMP, request_id="r3", mode="canary"),
    dump(IMP, request_id="r4", teams=["champion", "challenger"]),
    dump(AB, request_id="r5", arm=None),
    dump(IMP, request_id="r6", latency_ms="12"),
    dump(IMP, request_id="r7", fallback="<drop>"),
    '{"request_id": "r8", "ts',
]
CLICK_LINES = [
    dump({"request_id": "r1", "video_id": "b", "position": 2, "ts": "2026-10-01T10:00:09Z"}),
    dump({"request_id": "r1", "video_id": "b", "position": 2, "ts": "2026-10-01T10:00:05Z"}),  # clicked twice
    dump({"request_id": "r2", "video_id": "a", "position": 1, "ts": "2026-10-01T10:01:00Z"}),
    dump({"request_id": "r9", "video_id": "x", "position": 1, "ts": "2026-10-01T10:02:00Z"}),  # no such response
    dump({"request_id": "r2", "video_id": "b", "position": 0, "ts": "2026-10-01T10:01:00Z"}),
    dump({"video_id": "b", "position": 2, "ts": "2026-10-01T10:01:00Z"}),
]


@pytest.fixture(scope="module")
def etl(tmp_path_factory, spark):
    from components.datagen.generate import generate_dataset

    home = tmp_path_factory.mktemp("etl-impressions")
    raw = home / "raw"
    generate_dataset(raw, impressions=300, days=1, seed=5, dirty_share=0.0)
    for kind, lines in (("impressions", IMPRESSION_LINES), ("clicks", CLICK_LINES)):
        folder = raw / "2026-10-02" / kind
        folder.mkdir(parents=True)
        (folder / "part-00000.jsonl").write_text("\n".join(lines) + "\n")
    settings = load_settings("local", environ={"RANKOPS_HOME": str(home)})
    summary = run_etl(settings, raw, spark)
    return {"summary": summary, "store": SnapshotStore(settings.lakehouse)}


def test_both_kinds_are_accounted_exactly(etl):
    by_kind = etl["summary"]["by_kind"]
    assert by_kind["impressions"] == {"bronze": 9, "silver": 2, "quarantined": 6, "duplicates": 1, "reasons": {
        "malformed_json": 1, "missing_field": 1, "null_field": 1, "out_of_range": 2, "wrong_type": 1}}
    assert by_kind["clicks"] == {"bronze": 6, "silver": 4, "quarantined": 2, "duplicates": 0,
                                 "reasons": {"missing_field": 1, "out_of_range": 1}}
    assert etl["summary"]["published"] is True


def test_bad_rows_are_quarantined_with_file_line_and_field(etl):
    store = etl["store"]
    q = store.read_pandas(store.latest("silver/quarantine"))
    q = q[q["kind"].isin(["impressions", "clicks"])].sort_values(["kind", "line_number"])
    got = [(r.kind, r.source_file, r.line_number, r.reason, r.detail) for r in q.itertuples()]
    clicks, imps = "2026-10-02/clicks/part-00000.jsonl", "2026-10-02/impressions/part-00000.jsonl"
    assert got == [
        ("clicks", clicks, 5, "out_of_range", "position: 0 not in [1, 10000]"),
        ("clicks", clicks, 6, "missing_field", "request_id: missing"),
        ("impressions", imps, 4, "out_of_range", "mode: 'canary' not one of champion, shadow, ab, interleave"),
        ("impressions", imps, 5, "out_of_range", "teams: 2 teams for 3 video_ids"),
        ("impressions", imps, 6, "null_field", "arm: null in ab mode"),
        ("impressions", imps, 7, "wrong_type", "latency_ms: expected number, got string"),
        ("impressions", imps, 8, "missing_field", "fallback: missing"),
        ("impressions", imps, 9, "malformed_json", "Unterminated string starting at at column 22"),
    ]
    assert list(q["raw_text"]) == [CLICK_LINES[4], CLICK_LINES[5], *IMPRESSION_LINES[3:]]  # nothing lost


def test_clicks_join_back_by_request_id_one_row_per_served_position(etl):
    store = etl["store"]
    snap = store.latest(SILVER_IMPRESSION_POSITIONS)
    assert snap.snapshot_id == etl["summary"]["snapshots"][SILVER_IMPRESSION_POSITIONS]
    frame = store.read_pandas(snap).sort_values(["request_id", "position"])
    cols = ["request_id", "position", "video_id", "team", "arm", "mode", "clicked", "clicks", "fallback"]
    assert [tuple(r) for r in frame[cols].itertuples(index=False)] == [
        ("r1", 1, "a", "champion", None, "interleave", False, 0, False),
        ("r1", 2, "b", "challenger", None, "interleave", True, 2, False),
        ("r1", 3, "c", "champion", None, "interleave", False, 0, False),
        ("r2", 1, "a", None, "challenger", "ab", True, 1, True),
        ("r2", 2, "b", None, "challenger", "ab", False, 0, True),
    ]
    from components.etl.normalize import id_of, normalize_query

    assert set(frame["query_id"]) == {id_of(normalize_query("lofi"))}  # the search log's id, not the ranker's null
    first = frame.set_index(["request_id", "position"])["first_click_ts"]
    assert first[("r1", 2)].to_pydatetime().astimezone(UTC) == datetime(2026, 10, 1, 10, 0, 5, tzinfo=UTC)
    clicks = store.read_pandas(store.latest("silver/clicks"))
    assert sorted(clicks["request_id"]) == ["r1", "r1", "r2", "r9"]  # the orphan click is kept, joins nothing
