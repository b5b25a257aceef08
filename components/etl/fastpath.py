"""The fast paths of the line check (``parse.LineChecker``): msgspec decodes plain JSON lines in C.

Neither path ever rejects a line: each returns the line's values, or None, and then the strict
path of parse.py decides, with its exact reason. Both take only plain lines: no backslash (so no
escapes, no escaped lone surrogates, and every quote delimits a string) and no DEL (the one
forbidden character JSON takes unescaped). msgspec keeps the last of repeated keys, but each
repeated key adds its quotes: with none repeated, a line holds exactly two quotes per key and per
string value, which both paths count.

- ``typed_check``: the line decoded straight into a Struct compiled from the kind's rules, so
  msgspec makes the type, range, length and allowed-value checks; Python then only looks at what
  msgspec cannot (blank text, timestamps, URL and query ids, each cached). A line with more
  quotes than its known fields explain (an unknown extra field, or a repeated key) is also
  decoded as a whole by ``fast_json_object``, which sees every value and every key.
- ``fast_json_object``: the line as a dict; parse.py's strict checks take it from there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from components.common.contract import FORBIDDEN, FieldRule, FieldType

PLAIN_FORBIDDEN = b"\x7f"  # the one FORBIDDEN character JSON takes unescaped (a test checks FORBIDDEN against it)
TEXT_TYPES = (FieldType.STRING, FieldType.URL, FieldType.TIMESTAMP)

_FAST_DECODER: list[Any] = []  # the msgspec decoder, made on first use (no import-time work)


def fast_json_object(raw: bytes) -> dict[str, Any] | None:
    """The object of a plain JSON line, or None: then ``parse.parse_json_line`` decides. Plain
    also means integers within 64 bits (msgspec refuses larger ones) and values that are scalars
    or lists of scalars (nesting, and how deep the json module may go, is the strict path's).
    Values come out as the json module's (numbers with a fraction or exponent as Decimal)."""
    if b"\\" in raw:
        return None
    if not _FAST_DECODER:
        import msgspec

        _FAST_DECODER.append(msgspec.json.Decoder(float_hook=Decimal))
    try:
        obj = _FAST_DECODER[0].decode(raw)
    except Exception:  # noqa: BLE001 - malformed, invalid UTF-8, an integer over 64 bits: the strict path says which
        return None
    if type(obj) is not dict:
        return None
    types = [type(v) for v in obj.values()]
    strings = len(obj) + types.count(str)
    if dict in types:
        return None
    if list in types:
        for value in obj.values():
            if type(value) is list:
                for item in value:
                    if type(item) is str:
                        strings += 1
                    elif type(item) is list or type(item) is dict:
                        return None
    return obj if raw.count(b'"') == 2 * strings else None


def _plain_text(rule: FieldRule, value: str, limit: int) -> bool:
    """Whether text passes the strict path's text checks (length, characters, blank)."""
    return (len(value) <= limit and not re.search(FORBIDDEN[rule.chars], value)
            and (rule.blank or (bool(value) and not value.isspace())))


def _field_type(rule: FieldRule, limit: int) -> Any:
    """The msgspec type that accepts exactly the values the strict path takes without a coercion
    (an int field's ``2.0`` and a number at a bound are left to it), or None when there is none."""
    from msgspec import Meta

    t = rule.type
    if rule.allowed is not None and not all(_plain_text(rule, a, limit) for a in rule.allowed):
        return None
    if t in (*TEXT_TYPES, FieldType.STRING_LIST):
        text: Any = (Literal[tuple(rule.allowed)] if rule.allowed is not None  # type: ignore[misc]
                     else Annotated[str, Meta(min_length=0 if rule.blank else 1, max_length=limit)])
        return list[text] if t is FieldType.STRING_LIST else text
    if t is FieldType.BOOL:
        return bool
    bounds = (rule.minimum, rule.maximum)
    if t is FieldType.INT and all(b is None or type(b) is int for b in bounds):
        return Annotated[int, Meta(ge=rule.minimum, le=rule.maximum)]
    if t is FieldType.NUMBER:  # strict bounds: a float strictly inside is an exact number strictly inside
        return Annotated[float, Meta(gt=rule.minimum, lt=rule.maximum)]
    return None


def typed_check(rules: tuple[FieldRule, ...], limits: dict[str, int], stamps: dict[str, int],
                timestamp: Callable[[str], int | None], ids: dict[str, dict[str, tuple[str | None, str | None]]],
                derive: Callable[[str, str], tuple[str | None, str | None]]) -> Callable[[bytes], list[Any] | None] | None:
    """The fast check of a JSON kind's lines: the values of the fields in rule order, then the ids
    derived from each URL (canonical_url, video_id) and from a field named query (query_norm,
    query_id); None when the strict path must decide. Timestamps are looked up in `stamps`, else
    `timestamp(text)` gives microseconds or None; ids are looked up in `ids[kind]`, else
    `derive(kind, value)` gives them (a None video_id: not a valid URL). The checker owns the
    caches. None when a rule has no msgspec type."""
    import msgspec
    from msgspec import UNSET, UnsetType

    fields: list[tuple[Any, ...]] = []
    for i, rule in enumerate(rules):
        t = _field_type(rule, limits[rule.name])
        if t is None:
            return None
        if rule.nullable:
            t = Union[t, None]  # noqa: UP007 - a runtime type built from variables
        fields.append((f"f{i}", t) if rule.required else (f"f{i}", Union[t, UnsetType], UNSET))  # noqa: UP007
    line = msgspec.defstruct("Line", fields, rename={f"f{i}": r.name for i, r in enumerate(rules)},
                             kw_only=True, gc=False)
    decode, astuple = msgspec.json.Decoder(line).decode, msgspec.structs.astuple
    optional = any(not r.required for r in rules)
    # the quotes of a line: two per key and per string; only a nullable text field, an optional
    # field or a list makes their number differ from line to line
    variable = optional or any((r.nullable and r.type in TEXT_TYPES) or r.type is FieldType.STRING_LIST for r in rules)
    fixed_quotes = 2 * (len(rules) + sum(r.type in TEXT_TYPES for r in rules))
    nonblank = [i for i, r in enumerate(rules) if r.type in TEXT_TYPES and not r.blank and r.allowed is None]
    nonblank_lists = [i for i, r in enumerate(rules) if r.type is FieldType.STRING_LIST and not r.blank
                      and r.allowed is None]
    times = [i for i, r in enumerate(rules) if r.type is FieldType.TIMESTAMP]
    derived = [(i, kind, ids[kind]) for i, r in enumerate(rules)
               for kind in ("url" if r.type is FieldType.URL else "query" if r.name == "query" else "",) if kind]

    def quotes(values: tuple[Any, ...]) -> int:
        n = 0
        for v in values:
            if v is not UNSET:
                n += 2 if type(v) is str else 1 + len(v) if type(v) is list else 1
        return 2 * n

    def check(raw: bytes) -> list[Any] | None:
        if b"\\" in raw or PLAIN_FORBIDDEN in raw:
            return None
        try:
            values = astuple(decode(raw))
        except Exception:  # noqa: BLE001 - anything msgspec refuses: the strict path says why
            return None
        if raw.count(b'"') != (quotes(values) if variable else fixed_quotes) and fast_json_object(raw) is None:
            return None  # more quotes: a repeated key, or an unknown field (msgspec skips its value unchecked)
        for i in nonblank:
            if values[i] is not None and values[i].isspace():
                return None
        for i in nonblank_lists:
            if values[i] and any(v.isspace() for v in values[i]):
                return None
        out = [None if v is UNSET else v for v in values] if optional else list(values)
        for i in times:
            text = out[i]
            if text is not None:
                micros = stamps.get(text)
                if micros is None and (micros := timestamp(text)) is None:
                    return None
                out[i] = micros
        for i, kind, cache in derived:
            value = out[i]
            if value is None:
                return None
            pair = cache.get(value) or derive(kind, value)
            if pair[1] is None:
                return None
            out += pair
        return out

    return check
