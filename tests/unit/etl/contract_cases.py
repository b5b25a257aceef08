"""Hypothesis strategies for raw lines, derived from the contract table (contract.RULES, DEFECTS).

A `Case` is one raw line of a kind and what silver must make of it: the typed silver values of a
valid row, or the quarantine reason of one defect class. Expected values are built with the line
from its parts (a URL from scheme/host/path/params, a timestamp from its instant and zone, a
query from words), never by calling the code under test; ids are sha1 prefixes computed here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from components.common.contract import DEFECTS, RULES, Chars, FieldRule, FieldType, Kind, Reason

# "contract": reproducible (derandomized), no example database written into the checkout; set
# HYPOTHESIS_PROFILE=contract-explore for a long random search.
settings.register_profile("contract", deadline=None, database=None, derandomize=True, max_examples=300,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("contract-explore", deadline=None, database=None, max_examples=5000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "contract"))

BOM = "\ufeff"
MAX_CHARS = 200  # the property tests run with etl.max_field_chars = 200: long values stay cheap
LINE_FORBIDDEN = "".join(chr(c) for c in range(32) if c != 9) + "\x7f"
NO_BOM = "\ufeff"  # a line's leading BOM is dropped (documented): generated text never starts a line with one
TEXT_FORBIDDEN = "".join(chr(c) for c in range(32) if c not in (9, 10, 13)) + "\x7f"
BLANKS = st.text(st.sampled_from(" \t\u00a0\u2003\u3000\u205f"), min_size=1, max_size=4)
TRACKING = ("utm_source", "UTM_Medium", "utm_", "fbclid", "gclid", "si", "Feature", "_ga", "ref_src")
# normal form -> spellings a user may type (case, NFD, the German sharp s that casefolds to "ss")
WORDS = {
    "rock": ("rock", "ROCK", "Rock"), "lo-fi": ("lo-fi", "Lo-Fi"), "docker": ("docker", "DOCKER"),
    "caf\u00e9": ("caf\u00e9", "CAF\u00c9", "cafe\u0301", "CAFE\u0301"), "strasse": ("stra\u00dfe", "STRASSE", "Stra\u00dfe"),
    "k\u00f6ln": ("k\u00f6ln", "K\u00d6LN", "ko\u0308ln"),
}


@dataclass
class Case:
    """One raw line and its expected outcome (`values` when valid, else `reason`)."""

    kind: Kind
    line: bytes
    reason: Reason | None = None
    defect: str | None = None
    values: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def sha16(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def text_of(chars: Chars, blank: bool, min_size: int = 1) -> st.SearchStrategy[str]:
    forbidden = (LINE_FORBIDDEN if chars is Chars.LINE else TEXT_FORBIDDEN) + NO_BOM
    s = st.text(st.characters(exclude_categories=("Cs",), exclude_characters=forbidden), min_size=min_size,
                max_size=30)
    return s if blank else s.filter(lambda v: v.strip() != "")


@st.composite
def queries(draw) -> tuple[str, str]:
    """(raw query, its normal form): words in several spellings, joined by whitespace runs."""
    words = draw(st.lists(st.sampled_from(sorted(WORDS)), min_size=1, max_size=4))
    spelled = [draw(st.sampled_from(WORDS[w])) for w in words]
    gaps = draw(st.lists(st.sampled_from((" ", "  ", "\t", " \u3000")), min_size=len(words) + 1, max_size=len(words) + 1))
    raw = gaps[0] * draw(st.booleans()) + "".join(w + g for w, g in zip(spelled, gaps[1:], strict=True))
    return raw, " ".join(words)


LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)


ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
PATH_CHARS = ALNUM + "ABCDEFGHIJKLMNOPQRSTUVWXYZ_~.-"
KEY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"  # unknown extra keys: never a digit


@st.composite
def hosts(draw) -> str:
    """Dot-separated labels of letters and digits with inner hyphens, ending in a name."""
    labels = []
    for _ in range(draw(st.integers(1, 3))):
        label = draw(st.text(ALNUM, min_size=1, max_size=8))
        cut = draw(st.integers(0, len(label)))
        labels.append(label[:cut] + "-" + label[cut:] if 0 < cut < len(label) and draw(st.booleans()) else label)
    return ".".join([*labels, draw(st.sampled_from(("example", "com", "tv", "co")))])


@st.composite
def urls(draw) -> dict[str, str]:
    """A valid video URL and its canonical form, from parts (normalize.py's rules, by hand)."""
    scheme = draw(st.sampled_from(("http", "https", "HTTP", "Https")))
    host = draw(hosts())
    spelled = "".join(c.upper() if draw(st.booleans()) else c for c in host) if draw(st.booleans()) else host
    www = draw(st.sampled_from(("", "www.", "WWW.")))
    user = draw(st.sampled_from(("", "user@", "u:pw@")))
    port = draw(st.sampled_from(("", "80", "443", "8080")))
    segments = draw(st.lists(st.text(PATH_CHARS, min_size=1, max_size=8), max_size=3))
    path = "".join("/" + s for s in segments)
    slashes = draw(st.sampled_from(("", "/", "//")))
    keep = [f"{k}={v}" for k, v in draw(st.lists(st.tuples(st.sampled_from(("v", "t", "list", "id")),
                                                             st.text(PATH_CHARS[:62], max_size=6)), max_size=2))]
    track = [f"{k}={draw(LABEL)}" for k in draw(st.lists(st.sampled_from(TRACKING), max_size=2))]
    params = draw(st.permutations([*keep, *track, *([""] * draw(st.integers(0, 1)))]))
    fragment = draw(st.sampled_from(("", "#t=30", "#x?y=1")))
    authority = f"{user}{www}{spelled}" + (f":{port}" if port else "")
    query = f"?{'&'.join(params)}" if params else ""
    raw = f"{scheme}://{authority}{path}{slashes}{query}{fragment}"
    default = "443" if scheme.lower() == "https" else "80"
    canonical = host + (f":{port}" if port and port != default else "") + (path + slashes).rstrip("/")
    if keep:
        canonical += "?" + "&".join(sorted(keep))
    return {"raw": raw, "canonical": canonical, "scheme": scheme, "host": host, "path": path + slashes + query}


ZONES = st.integers(-14 * 60, 14 * 60).map(lambda m: m - m % 15)


@st.composite
def timestamps(draw) -> tuple[str, int, str]:
    """(ISO-8601 text with a zone, microseconds since the epoch UTC, the same text without zone)."""
    local = draw(st.datetimes(datetime(1991, 1, 1), datetime(2098, 12, 31)))
    offset = draw(ZONES)
    digits = draw(st.sampled_from((0, 1, 3, 6, 9)))
    frac = f"{local.microsecond:06d}{draw(st.integers(0, 999)):03d}"[:digits]
    local = local.replace(microsecond=int(frac.ljust(6, "0")[:6]) if digits else 0)
    zone = "Z" if offset == 0 and draw(st.booleans()) else (
        f"{'+' if offset >= 0 else '-'}{abs(offset) // 60:02d}{':' if draw(st.booleans()) else ''}{abs(offset) % 60:02d}")
    text = local.strftime(f"%Y-%m-%d{draw(st.sampled_from('T '))}%H:%M:%S") + (f".{frac}" if digits else "")
    instant = local - timedelta(minutes=offset)
    micros = (instant - datetime(1970, 1, 1)) // timedelta(microseconds=1)
    return text + zone, micros, text


def integers(rule: FieldRule) -> st.SearchStrategy[tuple[str, int]]:
    """(JSON literal, value): an integral number written as an integer, a decimal or with an exponent."""
    lo, hi = int(rule.minimum if rule.minimum is not None else -(10**9)), int(rule.maximum or 10**9)
    forms = st.sampled_from(("{n}", "{n}", "{n}.0", "{n}.000", "{n}e0", "{n}E+0", "{n10}e-1"))
    return st.tuples(st.integers(lo, hi), forms).map(lambda t: (t[1].format(n=t[0], n10=t[0] * 10), t[0]))


def numbers(rule: FieldRule) -> st.SearchStrategy[tuple[str, float]]:
    lo, hi = Decimal(str(rule.minimum)), Decimal(str(rule.maximum))
    d = st.decimals(lo, hi, places=3, allow_nan=False, allow_infinity=False)
    return st.tuples(d, st.sampled_from(("plain", "exp"))).map(
        lambda t: (str(t[0]) if t[1] == "plain" else f"{t[0]:e}", float(Decimal(str(t[0]) if t[1] == "plain" else f"{t[0]:e}"))))


@st.composite
def valid_fields(draw, kind: Kind) -> tuple[dict[str, str | None], dict[str, Any]]:
    """(JSON literal per field, None = null; expected silver values incl. ids) of a valid row of `kind`."""
    literal: dict[str, str] = {}
    values: dict[str, Any] = {}
    for rule in RULES[kind]:
        name, t = rule.name, rule.type
        if name == "query":
            raw, norm = draw(queries())
            literal[name], values[name] = json.dumps(raw), raw
            values["query_norm"], values["query_id"] = norm, sha16(norm)
        elif t is FieldType.URL:
            u = draw(urls())
            literal[name], values[name] = json.dumps(u["raw"]), u["raw"]
            values["canonical_url"], values["video_id"] = u["canonical"], sha16(u["canonical"])
        elif t is FieldType.TIMESTAMP:
            text, micros, _ = draw(timestamps())
            literal[name], values[name] = json.dumps(text), micros
        elif t is FieldType.INT:
            if rule.nullable and draw(st.integers(0, 4)) == 0:
                literal[name], values[name] = None, None
            else:
                literal[name], values[name] = draw(integers(rule))
        elif t is FieldType.NUMBER:
            literal[name], values[name] = draw(numbers(rule))
        elif t is FieldType.BOOL:
            values[name] = draw(st.booleans())
            literal[name] = json.dumps(values[name])
        elif t is FieldType.STRING_LIST:
            values[name] = draw(st.lists(text_of(rule.chars, False), max_size=4))
            literal[name] = json.dumps(values[name], ensure_ascii=draw(st.booleans()))
        else:
            values[name] = draw(text_of(rule.chars, rule.blank, min_size=0 if rule.blank else 1))
            literal[name] = json.dumps(values[name], ensure_ascii=draw(st.booleans()))
    return literal, values


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=5), inner, max_size=3), max_leaves=6)


@st.composite
def render_json(draw, literal: dict[str, str | None], kind: Kind, repeat: str | None = None) -> str:
    """An object of the literals in any key order, with unknown extra fields and JSON whitespace;
    `repeat` names a field written twice (a repeated key)."""
    names = {r.name for r in RULES[kind]}
    extras = draw(st.dictionaries(st.text(KEY_CHARS, min_size=1, max_size=8).filter(lambda k: k not in names),
                                  JSON_VALUES, max_size=2))
    items = [(k, "null" if v is None else v) for k, v in literal.items()] + [(k, json.dumps(v)) for k, v in extras.items()]
    if repeat is not None:
        items.append((repeat, draw(st.sampled_from(("null", "1", '"x"', items[0][1])))))
    items = draw(st.permutations(items))
    ws = st.sampled_from(("", " ", "\t", "  "))
    body = ",".join(f"{draw(ws)}{json.dumps(k)}{draw(ws)}:{draw(ws)}{v}{draw(ws)}" for k, v in items)
    return f"{draw(st.sampled_from(('', BOM)))}{draw(ws)}{{{body}}}{draw(ws)}"


def csv_line(cells: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    return buf.getvalue()


def csv_cell(literal: str | None) -> str:
    """A CSV cell of a JSON literal: strings unquoted, numbers as written, null an empty cell."""
    if literal is None:
        return ""
    return json.loads(literal) if literal.startswith('"') else literal


def columns_of(kind: Kind) -> list[str]:
    return [r.name for r in RULES[kind]]


@st.composite
def valid_cases(draw, kind: Kind, columns: list[str] | None = None) -> Case:
    literal, values = draw(valid_fields(kind))
    if kind is Kind.JUDGEMENTS:
        line = csv_line([csv_cell(literal[c]) for c in columns or columns_of(kind)])
    else:
        line = draw(render_json(literal, kind))
    return Case(kind, line.encode("utf-8"), values=values, meta={"literal": literal})


# --- defect classes --------------------------------------------------------------------------

TEXT_TYPES = (FieldType.STRING, FieldType.URL, FieldType.TIMESTAMP)
NUMERIC = (FieldType.INT, FieldType.NUMBER)
NUMBER_LITERAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")
TS_ANY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:?[0-9]{2})?\Z")
BAD_BYTES = (b"\xff", b"\xfe", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xc3(", b"\xf8\x88\x80\x80\x80")
LINE_DEFECTS = ("bad_bytes", "truncated_json", "trailing_garbage", "non_finite_number", "single_quotes", "json_comment",
                "duplicate_key", "not_an_object", "unterminated_quote", "column_count")


def eligible(kind: Kind, defect: str) -> list[FieldRule]:
    """The fields of `kind` a field-level defect can be put into (empty: it does not apply)."""
    rules = RULES[kind]
    pick = {
        "missing_field": lambda r: kind is not Kind.JUDGEMENTS,  # a CSV row cannot lack a header column
        "null_field": lambda r: not r.nullable,
        "number_as_string": lambda r: r.type in NUMERIC,
        "bool_as_number": lambda r: r.type is FieldType.BOOL,
        "bool_as_string": lambda r: r.type is FieldType.BOOL,
        "string_as_number": lambda r: r.type in TEXT_TYPES and kind is not Kind.JUDGEMENTS,  # CSV cells are text
        "fraction_for_int": lambda r: r.type is FieldType.INT,
        "not_a_string_list": lambda r: r.type is FieldType.STRING_LIST,
        "field_too_long": lambda r: r.type in (*TEXT_TYPES, FieldType.STRING_LIST),
        "control_character": lambda r: r.type in (*TEXT_TYPES, FieldType.STRING_LIST),
        "blank_field": lambda r: (r.type in (*TEXT_TYPES, FieldType.STRING_LIST) and not r.blank
                                  and r.blank_reason is Reason.BLANK_FIELD),
        "empty_query": lambda r: r.blank_reason is Reason.EMPTY_QUERY,
        "invalid_timestamp": lambda r: r.type is FieldType.TIMESTAMP,
        "missing_timezone": lambda r: r.type is FieldType.TIMESTAMP,
        "below_minimum": lambda r: r.type in NUMERIC and r.minimum is not None,
        "numeric_overflow": lambda r: r.type in NUMERIC and r.maximum is not None,
    }
    if defect.startswith("url_"):
        return [r for r in rules if r.type is FieldType.URL]
    return [r for r in rules if pick[defect](r)]


def applies(kind: Kind, defect: str) -> bool:
    """Whether a defect class can occur in a raw kind, by the table's field types and the format."""
    csv_only, json_only = ("unterminated_quote", "column_count"), LINE_DEFECTS[1:8]
    if defect in ("exact_duplicate", "bad_bytes"):
        return True
    if defect == "conflicting_duplicate":
        return kind is Kind.SEARCH_LOG  # the only kind keyed by an id, not by its whole content
    if defect in csv_only:
        return kind is Kind.JUDGEMENTS
    if defect in json_only:
        return kind is not Kind.JUDGEMENTS and (defect != "non_finite_number" or any(r.type in NUMERIC for r in RULES[kind]))
    return bool(eligible(kind, defect))


def too_long(rule: FieldRule) -> st.SearchStrategy[str]:
    piece = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=8)
    return piece.map(lambda t: t * (MAX_CHARS // len(t) + 1))  # over MAX_CHARS, never blank


@st.composite
def control_text(draw, rule: FieldRule, value: str, in_csv: bool) -> str:
    forbidden = LINE_FORBIDDEN if rule.chars is Chars.LINE else TEXT_FORBIDDEN
    if in_csv:  # a CSV line cannot hold a line break
        forbidden = forbidden.replace("\n", "").replace("\r", "")
    cut = draw(st.integers(0, len(value)))
    return value[:cut] + draw(st.sampled_from(forbidden)) + value[cut:]


@st.composite
def bad_timestamps(draw) -> str:
    text, _, bare = draw(timestamps())
    date, time = bare[:10], bare[11:19]
    zone = text[len(bare):]
    y, m, d = date.split("-")
    choices = [
        f"{y}-13-{d}T{time}{zone}", f"{y}-02-30T{time}{zone}", f"{y}-{m}-{d}T24:00:00{zone}",
        f"{y}-{m}-{d}T{time[:3]}60:00{zone}", f"{y}-{m}-{d}T{time[:6]}61{zone}", f"1989-{m}-{d}T{time}Z",
        f"2100-{m}-{d}T{time}+00:00", f"0001-{m}-{d}T{time}Z", f"{date}", f"{date}T{time[:5]}Z",
        f"{y}{m}{d}T{time.replace(':', '')}Z", f"{date}T{time}+2400", "yesterday at noon", f"{date}T{time} UTC",
    ]
    return draw(st.sampled_from(choices))


@st.composite
def bad_urls(draw, defect: str) -> str:
    u = draw(urls())
    host, path, scheme = u["host"], u["path"] or "/v/1", u["scheme"]
    if defect == "url_bad_scheme":
        return draw(st.sampled_from((f"ftp://{host}{path}", f"javascript:alert('{path}')", f"mailto:a@{host}",
                                     f"file://{host}{path}", f"{host}{path}", f"//{host}{path}", f"ht-tp://{host}{path}")))
    if defect == "url_no_host":
        return draw(st.sampled_from((f"{scheme}:///{path.lstrip('/')}", f"{scheme}://www.{path}", f"{scheme}://:8080{path}",
                                     f"{scheme}://user@{path}", f"{scheme}://?v=1", f"{scheme}://#x")))
    if defect == "url_broken_separator":
        return draw(st.sampled_from((f"{scheme}:/{host}{path}", f"{scheme}//{host}{path}", f"{scheme}:\\\\{host}{path}",
                                     f"http://{scheme}://{host}{path}", f"{scheme}:{host}{path}")))
    cut = draw(st.integers(1, len(host) - 1))
    return draw(st.sampled_from((
        f"{scheme}://{host[:cut]}{draw(st.sampled_from('_!$%*+=,;~'))}{host[cut:]}{path}",
        f"{scheme}://{host}:{draw(st.integers(65536, 99999))}{path}", f"{scheme}://{host}:8o{path}",
        f"{scheme}://-{host}{path}", f"{scheme}://{host.replace('.', '..', 1)}{path}", f"{scheme}://localhost{path}",
        f"{scheme}://10.0.0.{draw(st.integers(256, 999))}{path}", f"{scheme}://[::g]{path}",
    )))


def _json_text(value: str) -> str:
    return json.dumps(value)


@st.composite
def field_defect(draw, kind: Kind, defect: str, rule: FieldRule, literal: dict[str, str | None]) -> None:
    """Put `defect` into field `rule` of `literal` (in place)."""
    name, in_csv = rule.name, kind is Kind.JUDGEMENTS
    current = literal.get(name)
    if defect == "missing_field":
        del literal[name]
    elif defect == "null_field":
        literal[name] = None
    elif defect == "number_as_string":
        if in_csv:
            literal[name] = _json_text(draw(st.sampled_from(("two", " 2", "2 ", "#2", "0x2", "+2", ".5", "2.", "1e", "NaN",
                                                              "Infinity", "02", "-", "1,5"))))
        else:
            literal[name] = _json_text(current if current is not None else "7")
    elif defect == "bool_as_number":
        literal[name] = draw(st.sampled_from(("0", "1", "1.0", "0e0")))
    elif defect == "bool_as_string":
        literal[name] = draw(st.sampled_from(('"true"', '"false"', '"yes"', '"1"')))
    elif defect == "string_as_number":
        literal[name] = draw(st.sampled_from(("42", "-1", "3.5", "1e3", "0")))
    elif defect == "fraction_for_int":
        n = draw(st.integers(int(rule.minimum or 0), int(rule.maximum or 100)))
        literal[name] = draw(st.sampled_from((f"{n}.5", f"{n}.25", f"{10 * n + 5}e-1", f"{n}.0000001")))
    elif defect == "not_a_string_list":
        literal[name] = draw(st.sampled_from(('"a, b"', "[1]", '["a", null]', '[["x"]]', '{"a": "b"}', "7", "true",
                                              '["a", true]')))
    elif defect == "field_too_long":
        long = draw(too_long(rule))
        literal[name] = json.dumps([long]) if rule.type is FieldType.STRING_LIST else _json_text(long)
    elif defect == "control_character":
        base = draw(text_of(rule.chars, True, min_size=0))
        bad = draw(control_text(rule, base, in_csv))
        literal[name] = json.dumps([bad]) if rule.type is FieldType.STRING_LIST else _json_text(bad)
    elif defect in ("blank_field", "empty_query"):
        blank = draw(BLANKS if in_csv else st.one_of(BLANKS, st.just("")))
        literal[name] = json.dumps(["ok", blank]) if rule.type is FieldType.STRING_LIST else _json_text(blank)
    elif defect == "invalid_timestamp":
        literal[name] = _json_text(draw(bad_timestamps()))
    elif defect == "missing_timezone":
        literal[name] = _json_text(draw(timestamps())[2])
    elif defect.startswith("url_"):
        literal[name] = _json_text(draw(bad_urls(defect)))
    elif defect == "below_minimum":
        low = Decimal(str(rule.minimum))
        gap = draw(st.sampled_from(("1", "0.001", "7", "1e6"))) if rule.type is FieldType.NUMBER else draw(
            st.sampled_from(("1", "2", "1000")))
        literal[name] = str(low - Decimal(gap))
    elif defect == "numeric_overflow":
        high = Decimal(str(rule.maximum))
        literal[name] = draw(st.sampled_from((str(high + 1), "99999999999999999999", "1e20", "1e400",
                                              "123456789012345678901234567890", f"{high + 1}.0")))
    else:
        raise ValueError(f"no field-level strategy for {defect}")


REASONS = {d.name: d.reason for d in DEFECTS}


@st.composite
def defect_cases(draw, kind: Kind, defect: str, columns: list[str] | None = None) -> Case:
    """A line of `kind` with exactly one defect of class `defect`, and the reason it must get."""
    literal, _ = draw(valid_fields(kind))
    cols = columns or columns_of(kind)
    reason, field_name = REASONS[defect], None
    if defect in ("duplicate_key",):
        line = draw(render_json(literal, kind, repeat=draw(st.sampled_from(columns_of(kind)))))
    elif defect == "non_finite_number":
        target = draw(st.sampled_from([r.name for r in RULES[kind] if r.type in NUMERIC] + ["extra"]))
        literal[target] = draw(st.sampled_from(("NaN", "Infinity", "-Infinity")))
        line = draw(render_json(literal, kind))
    elif defect in LINE_DEFECTS:
        if kind is Kind.JUDGEMENTS:
            cells = [csv_cell(literal[c]) for c in cols]
            if defect == "unterminated_quote":
                line = '"' + ",".join(c.replace('"', "") for c in cells)
            elif defect == "column_count":
                extra = draw(st.sampled_from(("", "x", "2", "note")))
                line = csv_line(cells[:-1] if draw(st.booleans()) else [*cells, extra])
            else:
                line = csv_line(cells)
        else:
            line = draw(render_json(literal, kind))
            end = line.rindex("}")
            if defect == "truncated_json":
                line = line[: draw(st.integers(1, end))]
            elif defect == "trailing_garbage":
                garbage = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\n\r"), min_size=1,
                                  max_size=8).filter(lambda g: g.strip(" \t") != "")
                line = line + draw(garbage)
            elif defect == "single_quotes":
                line = line.replace('"', "'")
            elif defect == "json_comment":
                note = draw(st.sampled_from(("/* c */", "/**/", "// note", "# note")))
                at = draw(st.sampled_from(("start", "inside", "end")))
                line = note + line if at == "start" else line[: end + 1] + note if at == "end" else line.replace("{", "{" + note, 1)
            elif defect == "not_an_object":
                value = draw(st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=3), st.just(line)))
                line = json.dumps(value)
        if defect == "bad_bytes":
            at = draw(st.integers(0, len(line)))
            return Case(kind, line[:at].encode() + draw(st.sampled_from(BAD_BYTES)) + line[at:].encode(),
                        reason=reason, defect=defect)
    else:
        rule = draw(st.sampled_from(eligible(kind, defect)))
        field_name = rule.name
        draw(field_defect(kind, defect, rule, literal))
        if kind is Kind.JUDGEMENTS:
            line = csv_line([csv_cell(literal[c]) for c in cols])
        else:
            line = draw(render_json(literal, kind))
    if kind is Kind.JUDGEMENTS and "\x00" in line and reason is not Reason.CONTROL_CHARACTER:
        raise AssertionError("a CSV line with NUL is a line-level control_character")
    return Case(kind, line.encode("utf-8"), reason=reason, defect=defect, meta={"field": field_name})


def row_defects(kind: Kind) -> list[str]:
    """The defect classes of one line of `kind` (the duplicates are classes of several lines)."""
    return [d.name for d in DEFECTS if kind in d.kinds and d.reason is not None and d.name != "conflicting_duplicate"]
