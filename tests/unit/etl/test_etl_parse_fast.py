"""The fast JSON path (parse.plain_json_object, orjson) against the strict one (the stdlib decoder
with its hooks): on every line it either returns exactly the strict path's object or hands the
line over (None). Expected values come from the strict path, never from orjson."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.etl.parse import LineChecker, Reject, decode_line, parse_json_line, plain_json_object

LINE = ('{"event_id": "e1", "ts": "2026-01-01T10:00:00+02:00", "session_id": "s1", "query": "crème brûlée", '
        '"video_url": "https://vidhub.example/v/1", "position": 2, "clicked": true, "dwell_ms": null}')


def strict(raw: bytes):
    """The strict path's object, or the Reject it raises."""
    try:
        return parse_json_line(decode_line(raw))
    except Reject as exc:
        return exc


def test_a_plain_line_is_read_by_the_fast_path_with_the_strict_values():
    raw = LINE.encode()
    got = plain_json_object(raw)
    assert got == strict(raw) == json.loads(LINE)
    assert list(got) == ["event_id", "ts", "session_id", "query", "video_url", "position", "clicked", "dwell_ms"]


@pytest.mark.parametrize("raw", [
    LINE[:-1].encode() + b', "position": 3}',  # a repeated key (orjson would keep the last)
    LINE[:-1].encode() + b', "position" : 3}',  # ... spaced before its colon
    LINE[:-1].encode() + b', "query": "x"}',  # ... with a string value
    LINE.replace('"position": 2', '"position": 2.0').encode(),  # a float: strict reads a Decimal
    LINE.replace('"position": 2', '"position": 99999999999999999999999').encode(),  # orjson: a float
    LINE.replace('"position": 2', '"position": -9223372036854775809').encode(),
    LINE.replace('"position": 2', '"position": 1e400').encode(),
    LINE.replace('"position": 2', '"position": NaN').encode(),
    b"\xef\xbb\xbf" + LINE.encode(),  # a BOM: strict drops it
    LINE.replace('"s1"', '"s\\u00e9"').encode(),  # any escape
    LINE.replace('"s1"', '"\\ud800"').encode(),  # a lone surrogate
    LINE.replace('"s1"', '"a\\"b"').encode(),  # an escaped quote
    LINE.replace('"s1"', '{"a": 1, "a": 2}').encode(),  # a nested object
    LINE.replace('"s1"', '[1, "a"]').encode(),  # a list of non-strings
    LINE.replace('"s1"', '"a\tb"').encode(),  # a raw control character in a string
    LINE.encode()[:-3] + b'\xff"}',  # not UTF-8
    b'"{}"', b"[]", b"null", b"", b" ",
])
def test_lines_the_fast_path_hands_to_the_strict_path(raw):
    assert plain_json_object(raw) is None


def test_lists_of_strings_and_a_del_character_stay_on_the_fast_path():
    raw = b'{"tags": ["a", "b c"], "title": "x\x7f", "n": -0}'
    assert plain_json_object(raw) == strict(raw) == {"tags": ["a", "b c"], "title": "x\x7f", "n": 0}


def test_the_checker_gives_the_same_outcome_for_a_line_either_path_reads():
    checker = LineChecker("search_log", 100)
    fast = checker.check(LINE.encode())
    slow = checker.check(LINE.replace('"s1"', '"\\u0073\\u0031"').encode())  # escapes: the strict path
    assert fast == slow
    assert (fast["session_id"], fast["position"], fast["clicked"], fast["dwell_ms"]) == ("s1", 2, True, None)


PIECES = st.sampled_from(['"', "\\", ":", ",", "{", "}", "[", "]", " ", "\t", "\x0c", "\x00", "\x7f", "\ufeff",
                          "1", "-", ".", "e", "2.0", '"position": 3', '"a" : "b"', "\\ud800", "true", "null",
                          "NaN", "é", "\u2028"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(LINE)), st.integers(0, 3), PIECES), max_size=4))
def test_fast_path_agrees_with_the_strict_path_on_mutated_lines(edits):
    """Random insertions, deletions and replacements of JSON's structural characters: the fast
    path returns None or exactly what the strict path accepts."""
    line = LINE
    for at, cut, piece in edits:
        line = line[:at] + piece + line[at + cut:]
    raw = line.encode("utf-8", "surrogatepass")
    fast = plain_json_object(raw)
    if fast is not None:
        expected = strict(raw)
        assert not isinstance(expected, Reject), (raw, expected)
        assert fast == expected
        assert [type(v) for v in fast.values()] == [type(v) for v in expected.values()]
