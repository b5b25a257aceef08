"""The ranker's impression log and clicks against their field tables: each kind of bad row, exact detail."""

import json

import pytest

from components.common.contract import Reason
from components.etl.parse import LineChecker, Reject

GOOD = {"request_id": "r1", "ts": "2026-10-01T10:00:00+02:00", "session_id": "s1", "query_id": None,
        "query": "Lo-Fi  BEATS", "experiment": "exp-1", "mode": "interleave", "arm": None, "champion_version": "3",
        "challenger_version": "4", "video_ids": ["a", "b", "c"], "teams": ["champion", "challenger", "champion"],
        "latency_ms": 12.5, "fallback": False, "fallback_reason": None}
CLICK = {"request_id": "r1", "video_id": "b", "position": 2, "ts": "2026-10-01T08:00:05Z"}


def line(base: dict, **changes) -> bytes:
    row = {**base, **changes}
    return json.dumps({k: v for k, v in row.items() if v != "<drop>"}).encode()


def test_a_good_impression_is_typed_and_its_query_id_is_the_search_logs():
    from components.etl.normalize import id_of, normalize_query

    out = LineChecker("impressions", 1000).check(line(GOOD, query_id="whatever the ranker sent"))
    assert out["ts"] == 1_790_841_600_000_000  # 2026-10-01T08:00:00Z in microseconds since the epoch
    assert (out["query_norm"], out["query_id"]) == ("lo-fi beats", id_of(normalize_query("Lo-Fi  BEATS")))
    assert (out["video_ids"], out["teams"], out["latency_ms"], out["fallback"]) == (
        ["a", "b", "c"], ["champion", "challenger", "champion"], 12.5, False)


def test_an_interleave_fallback_has_no_teams_and_is_ingested():
    """The ranker serves the champion's list when the challenger fails: nothing to credit, still an impression."""
    out = LineChecker("impressions", 1000).check(line(GOOD, teams=None, fallback=True,
                                                      fallback_reason="latency: over 150 ms"))
    assert (out["mode"], out["teams"], out["fallback"]) == ("interleave", None, True)


@pytest.mark.parametrize(("changes", "reason", "detail"), [
    ({"mode": "canary"}, Reason.OUT_OF_RANGE, "mode: 'canary' not one of champion, shadow, ab, interleave"),
    ({"arm": "control", "mode": "ab", "teams": None}, Reason.OUT_OF_RANGE, "arm: 'control' not one of champion, challenger"),
    ({"teams": ["champion", "treatment", "champion"]}, Reason.OUT_OF_RANGE,
     "teams[1]: 'treatment' not one of champion, challenger"),
    ({"teams": ["champion", "challenger"]}, Reason.OUT_OF_RANGE, "teams: 2 teams for 3 video_ids"),
    ({"teams": None}, Reason.NULL_FIELD, "teams: null in interleave mode without a fallback (one team per served video)"),
    ({"mode": "shadow"}, Reason.OUT_OF_RANGE, "teams: given in shadow mode (interleave only)"),
    ({"mode": "ab", "teams": None}, Reason.NULL_FIELD, "arm: null in ab mode"),
    ({"latency_ms": "12"}, Reason.WRONG_TYPE, "latency_ms: expected number, got string"),
    ({"latency_ms": -1}, Reason.OUT_OF_RANGE, "latency_ms: -1 not in [0, 3600000]"),
    ({"fallback": "<drop>"}, Reason.MISSING_FIELD, "fallback: missing"),
    ({"video_ids": "a,b"}, Reason.WRONG_TYPE, "video_ids: expected an array of strings"),
    ({"champion_version": None}, Reason.NULL_FIELD, "champion_version: null"),
    ({"query": "  "}, Reason.EMPTY_QUERY, "query: blank"),
    ({"ts": "2026-10-01T10:00:00"}, Reason.MISSING_TIMEZONE, "ts: no zone"),
])
def test_each_bad_impression_gets_its_reason_naming_the_field(changes, reason, detail):
    with pytest.raises(Reject) as caught:
        LineChecker("impressions", 1000).check(line(GOOD, **changes))
    assert (caught.value.reason, caught.value.detail) == (reason, detail)


@pytest.mark.parametrize(("changes", "reason", "detail"), [
    ({"position": 0}, Reason.OUT_OF_RANGE, "position: 0 not in [1, 10000]"),
    ({"request_id": "<drop>"}, Reason.MISSING_FIELD, "request_id: missing"),
    ({"video_id": 7}, Reason.WRONG_TYPE, "video_id: expected string (a string), got number"),
])
def test_each_bad_click_gets_its_reason_naming_the_field(changes, reason, detail):
    assert LineChecker("clicks", 1000).check(line(CLICK))["position"] == 2
    with pytest.raises(Reject) as caught:
        LineChecker("clicks", 1000).check(line(CLICK, **changes))
    assert (caught.value.reason, caught.value.detail) == (reason, detail)
