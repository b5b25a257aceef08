"""The typed fast path (fastpath.typed_check: msgspec decodes a line into a Struct compiled from the
rules) against the strict path it stands in for: on any line of any JSON kind it gives nothing, or
exactly the values (types included) the strict path gives; the strict path then never rejects."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.common.contract import FieldType
from components.etl import parse

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
JSON_KINDS = [k.name for k in parse.resolve_contract(None).kinds if not k.csv]
MAX_CHARS = (10_000, 24)  # the configured cap, and one below some values
TEXT = ['"abc"', '""', '" "', '"\u3000"', '"\u2028x"', '"a\x7fb"', '"a\\u0041"', '"\U0001f600\u00e9"', '"a\tb"',
        '"champion"', '"challenger"', '"shadow"', '"ios"', "null", "1", "true", '["a"]', "{}"]
TIMES = ['"2026-10-03T00:00:03Z"', '"2026-10-03T00:00:03.5+05:30"', '"2026-02-30T00:00:00Z"', '"2026-10-03T00:00:03"',
         '"1989-12-31T23:59:59Z"', '"2099-12-31T23:59:59Z"', '"2100-01-01T00:00:00Z"', '"2026-10-03 00:00:03+0530"',
         '"2026-10-03T00:00:03.1234567Z"', '"2026-10-03T24:00:00Z"', '" "', "null", "0"]
URLS = ['"https://www.VidHub.example/watch?v=a1&utm_source=x"', '"http://vidhub.example:8080/v/b2/"',
        '"ftp://vidhub.example/v/1"', '"https://nohost/v"', '"https://vidhub.example/v/a b"', '""', "null",
        '"https://[::1]/v"', '"https://vidhub.example/\u00e9"']
INTS = ["1", "0", "-0", "-1", "2", "2.0", "1e2", "10000", "10001", "86400000", "86400001", "9223372036854775808",
        "true", "null", '"1"', "01"]
NUMBERS = ["0", "0.0", "-0.0", "12.5", "1e3", "1E-400", "3600000", "3599999.9999999999999", "3600000.0000000000001",
           "1000000", "999999.99999999999999", "-1", "true", "null", '"1"', "NaN"]
BOOLS = ["true", "false", "0", "null", '"true"']
LISTS = ["[]", '["a"]', '["a", "b"]', '["a", " "]', '["champion"]', '["champion", "challenger"]', '["x"]', "[1]",
         "null", '[""]', '["a\x7f"]', "[[]]"]
CHOICES = {FieldType.STRING: TEXT, FieldType.URL: URLS, FieldType.TIMESTAMP: TIMES, FieldType.INT: INTS,
           FieldType.NUMBER: NUMBERS, FieldType.BOOL: BOOLS, FieldType.STRING_LIST: LISTS}
SPACE = st.sampled_from(["", " ", "\t"])


def _long(limit: int) -> st.SearchStrategy[str]:
    return st.sampled_from([json.dumps("x" * limit), json.dumps("x" * (limit + 1)), json.dumps("\U0001f600" * limit)])


def _valid(rule) -> str:
    """A value of the rule's type that passes its checks."""
    if rule.allowed is not None:
        return json.dumps([rule.allowed[0]] if rule.type is FieldType.STRING_LIST else rule.allowed[0])
    return {FieldType.STRING: '"abc"', FieldType.URL: '"https://ab.example/v1"', FieldType.BOOL: "true",
            FieldType.TIMESTAMP: '"2026-10-03T00:00:03Z"', FieldType.INT: str(rule.minimum or 0),
            FieldType.NUMBER: "12.5", FieldType.STRING_LIST: '["a"]'}[rule.type]


@st.composite
def lines(draw, kind: str, max_chars: int) -> str:
    """A valid line of `kind` with up to two fields changed to one of their type's edge values,
    sometimes a field missing or doubled, sometimes an extra field."""
    checker = _checker(kind, max_chars)
    members = [[rule.name, _valid(rule)] for rule in checker.rules]
    for i in draw(st.lists(st.integers(0, len(members) - 1), max_size=2)):
        rule = checker.rules[i]
        values = st.sampled_from(CHOICES[rule.type])
        if rule.type in (FieldType.STRING, FieldType.URL):
            values = st.one_of(values, _long(checker.limits[rule.name]))
        members[i][1] = draw(values)
    what = draw(st.sampled_from(["as is"] * 6 + ["missing", "twice", "extra"]))
    i = draw(st.integers(0, len(members) - 1))
    if what == "missing":
        del members[i]
    elif what == "twice":
        members.insert(draw(st.integers(0, len(members))), [members[i][0], draw(st.sampled_from(CHOICES[checker.rules[i].type]))])
    elif what == "extra":
        members.append(["client", draw(st.sampled_from(['"ios"', "1", "[1, 2]"]))])
    space = draw(SPACE)
    return "{" + f",{space}".join(f'"{k}":{space}{v}' for k, v in members) + "}"


_CHECKERS: dict = {}


def _checker(kind: str, max_chars: int, typed: bool = True) -> parse.LineChecker:
    key = (kind, max_chars, typed)
    if key not in _CHECKERS:
        checker = parse.LineChecker(kind, max_chars)
        if not typed:
            checker._typed = None
        _CHECKERS[key] = checker
    return _CHECKERS[key]


def _typed_values(values):
    return [(type(v), v) for v in values]


@pytest.mark.parametrize("max_chars", MAX_CHARS)
@pytest.mark.parametrize("kind", JSON_KINDS)
@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_the_typed_path_gives_nothing_or_exactly_the_strict_values(kind, max_chars, data):
    raw = data.draw(lines(kind, max_chars)).encode()
    fast = _checker(kind, max_chars)._typed(raw)
    if fast is not None:  # the fields as the strict path checks them (a kind's row_check comes after both)
        strict = _checker(kind, max_chars, typed=False)._checked_fields(raw, None)
        assert _typed_values(fast) == _typed_values(strict)


def test_every_json_kind_has_a_typed_path_that_takes_plain_valid_lines():
    line = {"event_id": "e1", "ts": "2026-10-03T00:00:03.5+05:30", "session_id": "s1", "query": "Caf\u00e9  ROCK",
            "video_url": "https://www.VidHub.example/watch?v=a1&utm_source=x", "position": 3, "clicked": True,
            "dwell_ms": None}
    checker = _checker("search_log", 10_000)
    fast = checker._typed(json.dumps(line, ensure_ascii=False).encode())
    assert fast == [*line.values()][:1] + [(datetime(2026, 10, 2, 18, 30, 3, 500_000, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)] + [*line.values()][2:] + [
        "caf\u00e9 rock", parse.nz.id_of("caf\u00e9 rock"), "vidhub.example/watch?v=a1",
        parse.nz.id_of("vidhub.example/watch?v=a1")]
    assert all(_checker(kind, 10_000)._typed is not None for kind in JSON_KINDS)
    repeated = json.dumps(line).replace('"position": 3', '"position": 3, "position": 4').encode()
    assert checker._typed(repeated) is None  # msgspec alone would keep position 4
    extra = json.dumps({**line, "client": "ios", "tags": ["a"]}, ensure_ascii=False).encode()
    assert checker._typed(extra) == fast  # unknown fields are dropped, as the strict path drops them
    plain = json.dumps(line, ensure_ascii=False).encode()[:-1]
    for bad in (b'"client": "\xff"', b'"client": {"a": 1}', b'"client": 1, "client": 2', b'"query": "x"'):
        assert checker._typed(plain + b", " + bad + b"}") is None, bad  # invalid UTF-8, nesting, repeated keys
    assert checker._typed(plain + b', "client": 123456789012345678901}') == fast  # valid JSON, dropped
    with pytest.raises(parse.Reject, match="repeated key"):
        checker.check(repeated)


@pytest.mark.parametrize("max_chars", MAX_CHARS)
@pytest.mark.parametrize("kind", JSON_KINDS)
def test_every_edge_value_of_every_field_alone(kind, max_chars):
    """Each field of a valid line set to each edge value of its type, one at a time."""
    checker, strict = _checker(kind, max_chars), _checker(kind, max_chars, typed=False)
    valid = {rule.name: _valid(rule) for rule in checker.rules}
    taken = 0
    for rule in checker.rules:
        limit = checker.limits[rule.name]
        longest = [json.dumps("x" * limit), json.dumps("x" * (limit + 1)), json.dumps("\U0001f600" * limit)]
        for value in CHOICES[rule.type] + longest * (rule.type is FieldType.STRING):
            raw = "{" + ", ".join(f'"{k}": {value if k == rule.name else v}' for k, v in valid.items()) + "}"
            fast = checker._typed(raw.encode())
            if fast is not None:
                taken += 1
                assert _typed_values(fast) == _typed_values(strict._checked_fields(raw.encode(), None)), raw
    assert taken >= len(checker.rules)  # the valid values of each field at least
