"""The msgspec fast path of JSON lines (fastpath.fast_json_object) against the strict json-module
decoder it stands in for: on any line it returns either nothing or exactly the strict object."""

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.common.contract import FORBIDDEN, Reason
from components.etl import fastpath, parse

KEYS = st.sampled_from(["a", "b", "query", "ts", "é", "k:1", 'q"', ""])
STRINGS = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=8)
NUMBERS = st.sampled_from(["0", "-0", "7", "-12", "2.0", "1e3", "1.5E-2", "1e999", "01", "9223372036854775807",
                           "9223372036854775808", "-9223372036854775809", "123456789012345678901234567890", "NaN",
                           "Infinity", ".5", "1."])
SPACE = st.sampled_from(["", " ", "\t", "\n", "\r", "\x0b"])


def _string(text: str, how: str) -> str:
    """A JSON string of `text`: json.dumps with \\u escapes for all but ASCII (lone surrogates
    too), with escapes for quotes and controls only, or the raw characters between quotes (which
    may be invalid JSON: a control character, a quote)."""
    return {"ascii": json.dumps(text), "utf8": json.dumps(text, ensure_ascii=False), "raw": f'"{text}"'}[how]


def _value(depth: int) -> st.SearchStrategy[str]:
    scalars = st.one_of(NUMBERS, st.sampled_from(["true", "false", "null"]),
                        st.builds(_string, STRINGS, st.sampled_from(["ascii", "utf8", "raw"])))
    if depth == 0:
        return scalars
    inner = _value(depth - 1)
    return st.one_of(scalars, st.lists(inner, max_size=3).map(lambda xs: f"[{','.join(xs)}]"), _object(inner))


def _object(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Objects written by hand, so that keys may repeat."""
    member = st.tuples(KEYS, values, SPACE).map(lambda m: f'{json.dumps(m[0], ensure_ascii=False)}{m[2]}:{m[1]}')
    return st.lists(member, max_size=5).map(lambda ms: "{" + ",".join(ms) + "}")


LINES = st.tuples(SPACE, st.one_of(_object(_value(2)), _value(1)), SPACE, st.booleans()).map(
    lambda t: ("\ufeff" if t[3] else "") + t[0] + t[1] + t[2])


def _strict(raw: bytes):
    try:
        return parse.parse_json_line(parse.decode_line(raw))
    except parse.Reject as exc:
        return exc.reason


@settings(max_examples=600, deadline=None)
@given(LINES)
def test_the_fast_path_returns_nothing_or_exactly_the_strict_object(line):
    raw = line.encode("utf-8", "surrogatepass")
    fast = fastpath.fast_json_object(raw)
    if fast is not None:
        strict = _strict(raw)
        assert strict == fast
        assert json.dumps(strict, sort_keys=True, default=repr) == json.dumps(fast, sort_keys=True, default=repr)


def test_a_repeated_key_without_escapes_is_left_to_the_strict_path():
    raw = b'{"event_id": "e1", "query": "cats", "event_id": "e2"}'
    assert fastpath.fast_json_object(raw) is None  # msgspec alone keeps {"event_id": "e2", ...}
    assert _strict(raw) == Reason.MALFORMED_JSON


def test_plain_lines_are_decoded_by_the_fast_path_with_the_json_module_values():
    raw = b'{"event_id": "e1", "tags": ["a", "b:c"], "n": 2.50, "k": null, "ok": true}'
    fast = fastpath.fast_json_object(raw)
    assert fast == {"event_id": "e1", "tags": ["a", "b:c"], "n": parse.Decimal("2.50"), "k": None, "ok": True}
    assert type(fast["n"]) is parse.Decimal


def test_every_forbidden_character_json_takes_unescaped_is_the_plain_lines_check():
    """The typed fast path searches no text for control characters, it takes no line holding
    PLAIN_FORBIDDEN: every other forbidden character is below U+0020, which JSON refuses unescaped."""
    plain = set(fastpath.PLAIN_FORBIDDEN.decode())
    every = "".join(chr(c) for c in range(0x20, 0x110000) if not 0xD800 <= c <= 0xDFFF)
    for pattern in FORBIDDEN.values():
        assert set(re.findall(pattern, every)) <= plain, pattern
    assert fastpath.fast_json_object(b'{"q": "a\x7fb"}') is not None  # the DEL itself reaches the strict checks
    checker = parse.LineChecker("search_log", 10_000)
    line = ('{"event_id": "e1", "ts": "2026-10-01T00:00:00+00:00", "session_id": "s", "query": "a\x7fb", '
            '"video_url": "https://vidhub.example/v/abc", "position": 1, "clicked": false, "dwell_ms": null}')
    for query in ("a\x7fb", "a\\u0001b", "a\\u007fb"):  # a DEL as it is, escaped controls
        with pytest.raises(parse.Reject) as caught:
            checker.check(line.replace("a\x7fb", query).encode())
        assert caught.value.reason == Reason.CONTROL_CHARACTER, query


def test_nested_values_are_left_to_the_strict_path_however_deep():
    for depth in (2, 50, 5_000):
        raw = ('{"event_id": "e1", "extra": ' + "[" * depth + "]" * depth + "}").encode()
        assert fastpath.fast_json_object(raw) is None
    assert fastpath.fast_json_object(b'{"event_id": "e1", "extra": {"k": "v"}}') is None
    deep = ('{"event_id": "e1", "extra": ' + "[" * 5_000 + "]" * 5_000 + "}").encode()
    assert _strict(deep) == Reason.MALFORMED_JSON  # nested too deeply: a reason, not a crashed task


def test_a_lone_surrogate_deep_inside_is_malformed_not_a_crash():
    for depth in (1, 900, 980):
        line = '{"event_id": "e1", "extra": ' + "[" * depth + '"\\ud800"' + "]" * depth + "}"
        assert _strict(line.encode()) == Reason.MALFORMED_JSON, depth
