"""The written per-field rules of the contract, each tested both ways, on parse.LineChecker (no Spark)."""

from __future__ import annotations

import json

import pytest

from components.common.contract import Kind, Reason
from components.etl.parse import LineChecker, Reject

ROW = {"event_id": "e1", "ts": "2026-01-01T10:00:00+02:00", "session_id": "s1", "query": "Rock", "position": 2,
       "video_url": "https://vidhub.example/v/1", "clicked": True, "dwell_ms": 1500}
VIDEO = {"video_url": "https://vidhub.example/v/1", "title": "t", "description": "", "channel": "c", "duration_s": 12,
         "published_at": "2025-12-01T00:00:00Z", "tags": []}
HEADER = ["query", "video_url", "label", "annotator", "ts"]


def outcome(kind: Kind, line: str | bytes, field: str | None = None):
    """(reason or None, the typed value of `field` when valid)."""
    raw = line.encode() if isinstance(line, str) else line
    try:
        values = LineChecker(kind, 100, {"sha": HEADER}).check(raw, "sha")
    except Reject as exc:
        return exc.reason, None
    return None, values.get(field) if field else None


def sl(field: str, literal: str) -> str:
    """A search-log line with `field` written as the JSON literal `literal`."""
    row = {k: json.dumps(v) for k, v in ROW.items()}
    row[field] = literal
    return "{" + ", ".join(f'"{k}": {v}' for k, v in row.items()) + "}"


def vid(field: str, literal: str) -> str:
    row = {k: json.dumps(v) for k, v in VIDEO.items()}
    row[field] = literal
    return "{" + ", ".join(f'"{k}": {v}' for k, v in row.items()) + "}"


@pytest.mark.parametrize(("field", "literal", "expected"), [
    # int: a JSON number with an integral value (JSON has one number type) ...
    ("position", "3", (None, 3)), ("position", "3.0", (None, 3)), ("position", "3e0", (None, 3)),
    ("position", "30E-1", (None, 3)),
    # ... but no fraction, no string, no bool; beyond the range (overflow included) out_of_range
    ("position", "2.5", (Reason.WRONG_TYPE, None)), ("position", '"3"', (Reason.WRONG_TYPE, None)),
    ("position", "true", (Reason.WRONG_TYPE, None)), ("position", "0", (Reason.OUT_OF_RANGE, None)),
    ("position", "10001", (Reason.OUT_OF_RANGE, None)), ("position", "99999999999", (Reason.OUT_OF_RANGE, None)),
    ("position", "1e400", (Reason.OUT_OF_RANGE, None)), ("dwell_ms", "null", (None, None)),
    ("dwell_ms", "86400001", (Reason.OUT_OF_RANGE, None)), ("dwell_ms", "-1", (Reason.OUT_OF_RANGE, None)),
    # bool: only true / false
    ("clicked", "false", (None, False)), ("clicked", "1", (Reason.WRONG_TYPE, None)),
    ("clicked", '"true"', (Reason.WRONG_TYPE, None)), ("clicked", "null", (Reason.NULL_FIELD, None)),
    # string: only a JSON string, not blank, no control character; TAB is whitespace
    ("session_id", '"s 2"', (None, "s 2")), ("session_id", "42", (Reason.WRONG_TYPE, None)),
    ("session_id", '"  "', (Reason.BLANK_FIELD, None)), ("session_id", '"\\u3000"', (Reason.BLANK_FIELD, None)),
    ("session_id", '"s\\u0001"', (Reason.CONTROL_CHARACTER, None)), ("session_id", '"s\u007f"', (Reason.CONTROL_CHARACTER, None)),
    ("session_id", '"s\\u0085"', (None, "s\x85")), ("query", '" \\t "', (Reason.EMPTY_QUERY, None)),
    ("query", '"rock\\tmusic"', (None, "rock\tmusic")), ("query", '"rock\\nmusic"', (Reason.CONTROL_CHARACTER, None)),
    ("event_id", json.dumps("e" * 101), (Reason.FIELD_TOO_LONG, None)),
    # timestamps: ISO-8601 with a zone, inside [1990, 2100)
    ("ts", '"2026-01-01 10:00:00.5Z"', (None, 1767261600500000)), ("ts", '"2026-01-01T10:00:00"', (Reason.MISSING_TIMEZONE, None)),
    ("ts", '"1989-12-31T23:59:59Z"', (Reason.INVALID_TIMESTAMP, None)), ("ts", "1767261600", (Reason.WRONG_TYPE, None)),
    # URLs
    ("video_url", '" https://vidhub.example/v/1\\t"', (None, " https://vidhub.example/v/1\t")),
    ("video_url", '"https://vidhub.example/v/1\\n"', (Reason.CONTROL_CHARACTER, None)),
    ("video_url", '"https:/vidhub.example/v/1"', (Reason.INVALID_URL, None)),
])
def test_search_log_field_rules_both_ways(field, literal, expected):
    assert outcome(Kind.SEARCH_LOG, sl(field, literal), field) == expected


@pytest.mark.parametrize(("field", "literal", "expected"), [
    ("duration_s", "12", (None, 12.0)), ("duration_s", "12.5", (None, 12.5)), ("duration_s", "1.25e2", (None, 125.0)),
    ("duration_s", '"12.5"', (Reason.WRONG_TYPE, None)), ("duration_s", "1e20", (Reason.OUT_OF_RANGE, None)),
    ("duration_s", "-0.5", (Reason.OUT_OF_RANGE, None)), ("duration_s", "1e-400", (None, 0.0)),
    ("description", '""', (None, "")), ("description", '"two\\nlines\\r\\n"', (None, "two\nlines\r\n")),
    ("description", '"bell\\u0007"', (Reason.CONTROL_CHARACTER, None)), ("title", '""', (Reason.BLANK_FIELD, None)),
    ("tags", '["a", "b c"]', (None, ["a", "b c"])), ("tags", '"a, b"', (Reason.WRONG_TYPE, None)),
    ("tags", '["a", null]', (Reason.WRONG_TYPE, None)), ("tags", '["a", 1]', (Reason.WRONG_TYPE, None)),
    ("tags", '["a", " "]', (Reason.BLANK_FIELD, None)), ("title", "1e400", (Reason.WRONG_TYPE, None)),
])
def test_video_field_rules_both_ways(field, literal, expected):
    assert outcome(Kind.VIDEOS, vid(field, literal), field) == expected


@pytest.mark.parametrize(("label", "expected"), [
    ("2", (None, 2)), ("2.0", (None, 2)), ("2e0", (None, 2)), ("02", (Reason.WRONG_TYPE, None)),
    (" 2", (Reason.WRONG_TYPE, None)), ("two", (Reason.WRONG_TYPE, None)), ("2.5", (Reason.WRONG_TYPE, None)),
    ("4", (Reason.OUT_OF_RANGE, None)), ("", (Reason.NULL_FIELD, None)),
])
def test_csv_cells_read_as_numbers_only_when_they_are_json_number_literals(label, expected):
    assert outcome(Kind.JUDGEMENTS, f"rock,https://vidhub.example/v/1,{label},ann1,2026-01-01T00:00:00Z", "label") == expected


@pytest.mark.parametrize(("line", "reason"), [
    (sl("position", "2") + " xyz", Reason.MALFORMED_JSON), (sl("position", "2") + "]", Reason.MALFORMED_JSON),
    (sl("position", "2") + sl("position", "2"), Reason.MALFORMED_JSON), (sl("position", "NaN"), Reason.MALFORMED_JSON),
    (sl("position", "-Infinity"), Reason.MALFORMED_JSON), (sl("position", "2").replace('"', "'"), Reason.MALFORMED_JSON),
    ("/* c */" + sl("position", "2"), Reason.MALFORMED_JSON), (sl("position", "02"), Reason.MALFORMED_JSON),
    (sl("session_id", '"a\tb"'), Reason.MALFORMED_JSON),  # an unescaped control character inside a string
    (sl("session_id", '"\\ud800"'), Reason.MALFORMED_JSON), (sl("position", "2")[:-1] + ', "position": 3}', Reason.MALFORMED_JSON),
    ("[" * 100_000, Reason.MALFORMED_JSON), ('"{}"', Reason.NOT_AN_OBJECT), ("null", Reason.NOT_AN_OBJECT),
    (b"\xef\xbb\xbf" + sl("position", "2").encode() + b" \t", None),  # a leading BOM and trailing whitespace are fine
    (sl("position", "2").encode()[:-2] + b'\xff"}', Reason.INVALID_UTF8),
])
def test_json_is_strict_rfc_8259(line, reason):
    assert outcome(Kind.SEARCH_LOG, line)[0] == reason


@pytest.mark.parametrize(("line", "reason"), [
    ('"rock,https://vidhub.example/v/1,2,ann1,2026-01-01T00:00:00Z', Reason.MALFORMED_CSV),
    ("rock,https://vidhub.example/v/1,2,ann1", Reason.CSV_COLUMN_COUNT),
    ("ro\x00ck,https://vidhub.example/v/1,2,ann1,2026-01-01T00:00:00Z", Reason.CONTROL_CHARACTER),
    ('"rock, live",https://vidhub.example/v/1,2,"ann ""1""",2026-01-01T00:00:00Z', None),
])
def test_csv_rows(line, reason):
    assert outcome(Kind.JUDGEMENTS, line)[0] == reason


def test_a_huge_exponent_is_range_checked_without_expanding_it():
    """As an int, 1e999999999 would take a billion digits (it would hang here)."""
    assert outcome(Kind.SEARCH_LOG, sl("position", "1e999999999")) == (Reason.OUT_OF_RANGE, None)
    assert outcome(Kind.VIDEOS, vid("duration_s", "-1e999999999")) == (Reason.OUT_OF_RANGE, None)


def test_the_detail_names_the_field_and_the_rule():
    with pytest.raises(Reject) as exc:
        LineChecker(Kind.SEARCH_LOG, 100).check(sl("position", "0").encode())
    assert (exc.value.reason, exc.value.detail) == (Reason.OUT_OF_RANGE, "position: 0 not in [1, 10000]")
