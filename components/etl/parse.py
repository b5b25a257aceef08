"""Parsing and validation of raw lines against a contract's field table (``contract.RULES`` for
search, any ``contracts.KindSpec``): pure Python.

Every bronze line gets exactly one outcome: the typed values of its fields, or the FIRST failing
check as a quarantine ``reason`` plus a ``detail`` naming the field. Order: invalid_utf8 ->
malformed_json / not_an_object (JSONL) or control_character (a NUL byte) / malformed_csv /
csv_column_count (CSV) -> then field by field in table order: missing_field -> null_field ->
wrong_type -> field_too_long -> control_character -> blank_field / empty_query ->
missing_timezone / invalid_timestamp -> invalid_url -> out_of_range. (conflicting_duplicate is
decided across rows, in silver.)

JSON is strict RFC 8259: one complete value per line, nothing after it but whitespace; NaN /
Infinity, single quotes, comments, unescaped control characters, escaped lone surrogates and
repeated keys are malformed. Numbers are read exactly (``Decimal``), so overflow is seen, not
rounded away. Type rules: a field takes only its own JSON type, with two written coercions:
an int field takes any JSON number with an integral value (``2.0`` is 2: JSON has one number
type), and a CSV cell of an int/number field is read as a number when it is a JSON number
literal (CSV has no types). A leading UTF-8 BOM on a line is dropped.

Silver runs ``LineChecker.check_lines`` on every line (inside Spark tasks on the bronze files,
filecheck.py, or as an Arrow UDF, silver.check_kind); query and URL ids are cached per task, so
``normalize.py`` runs once per distinct value and task. Most plain lines take the typed fast path
of fastpath.py, which never rejects: whatever it is unsure of, this module decides.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from components.common.contract import (
    FORBIDDEN,
    TS_MAX,
    TS_MIN,
    FieldRule,
    FieldType,
    Reason,
)
from components.etl import normalize as nz
from components.etl.contracts import Contract, KindSpec, resolve_contract
from components.etl.fastpath import fast_json_object, typed_check

if TYPE_CHECKING:
    import pyarrow as pa

TS_WITH_ZONE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:?[0-9]{2})\Z")
TS_NO_ZONE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?\Z")
NUMBER_RE = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")  # a JSON number literal
ESCAPED_SURROGATE_RE = re.compile(r"\\u[dD][89a-fA-F]")
FORBIDDEN_RE = {chars: re.compile(pattern) for chars, pattern in FORBIDDEN.items()}
LINEAGE = ("kind", "batch_id", "source_file", "line_number", "file_sha256")  # (file_sha256, line_number) is unique
ID_COLUMNS = {FieldType.URL: ("canonical_url", "video_id")}
QUERY_ID_COLUMNS = ("query_norm", "query_id")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROS_MIN, MICROS_MAX = (int((datetime.fromisoformat(t) - EPOCH).total_seconds()) * 1_000_000 for t in (TS_MIN, TS_MAX))
CSV_CELL_CAP = 2**31 - 1
CACHE_MAX = 200_000  # entries per id / timestamp cache (per Spark task)
JSON_TYPE = {str: "string", bool: "bool", int: "number", Decimal: "number", list: "array", dict: "object"}


class Reject(Exception):
    """A line breaks the contract: the quarantine reason and a detail naming the field."""

    def __init__(self, reason: Reason, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (RFC 8259)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"repeated key {key[:40]!r}")
    return obj


DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=_unique_keys)


def decode_line(raw: bytes) -> str:
    """The line as text (one leading BOM dropped); invalid_utf8 when its bytes are not UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Reject(Reason.INVALID_UTF8, f"bytes are not UTF-8 (byte {exc.start + 1})") from None
    return text[1:] if text.startswith("\ufeff") else text


def _has_surrogate(value: Any) -> bool:
    """Whether a decoded value holds a lone surrogate anywhere; iterative, as the json module
    nests deeper than Python recursion leaves room for below it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= c <= "\udfff" for c in item):
                return True
        elif isinstance(item, dict):
            stack += item.keys()
            stack += item.values()
        elif isinstance(item, list):
            stack += item
    return False


def parse_json_line(text: str) -> dict[str, Any]:
    """The JSON object of a line; malformed_json / not_an_object otherwise (strict RFC 8259)."""
    try:
        value = DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise Reject(Reason.MALFORMED_JSON, f"{exc.msg} at column {exc.colno}") from None
    except ValueError as exc:  # NaN / Infinity, a repeated key, an over-long number
        raise Reject(Reason.MALFORMED_JSON, str(exc)) from None
    except RecursionError:
        raise Reject(Reason.MALFORMED_JSON, "nested too deeply") from None
    if ESCAPED_SURROGATE_RE.search(text) and _has_surrogate(value):
        raise Reject(Reason.MALFORMED_JSON, "an escaped lone surrogate is not Unicode text")
    if not isinstance(value, dict):
        raise Reject(Reason.NOT_AN_OBJECT, f"a JSON {JSON_TYPE.get(type(value), 'null')}, not an object")
    return value


def parse_csv_line(text: str, columns: list[str], rules: tuple[FieldRule, ...]) -> dict[str, Any]:
    """The cells of a CSV data line by header column; int/number cells that are JSON number
    literals become numbers, empty cells None (null)."""
    if "\x00" in text:  # the csv module cannot split a line holding NUL
        raise Reject(Reason.CONTROL_CHARACTER, "line: control character U+0000")
    try:
        cells = next(csv.reader([text], strict=True), [])
    except csv.Error as exc:
        raise Reject(Reason.MALFORMED_CSV, str(exc)) from None
    if len(cells) != len(columns):
        raise Reject(Reason.CSV_COLUMN_COUNT, f"{len(cells)} columns, the header has {len(columns)}")
    row: dict[str, Any] = {}
    for name, cell in zip(columns, cells, strict=True):
        row[name] = None if cell == "" else cell
    for rule in rules:
        cell = row.get(rule.name)
        if rule.type in (FieldType.INT, FieldType.NUMBER) and cell is not None and NUMBER_RE.match(cell):
            row[rule.name] = DECODER.decode(cell)
    return row


def parse_timestamp(text: str) -> int:
    """Microseconds since the epoch (UTC) of ISO-8601 text with a zone, in [TS_MIN, TS_MAX)."""
    if not TS_WITH_ZONE.match(text):
        if TS_NO_ZONE.match(text):
            raise Reject(Reason.MISSING_TIMEZONE, "no zone")
        raise Reject(Reason.INVALID_TIMESTAMP, "not ISO-8601 date and time with a zone")
    try:
        delta = datetime.fromisoformat(text) - EPOCH
    except ValueError as exc:
        raise Reject(Reason.INVALID_TIMESTAMP, str(exc)) from None
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if not MICROS_MIN <= micros < MICROS_MAX:
        raise Reject(Reason.INVALID_TIMESTAMP, f"outside [{TS_MIN[:10]}, {TS_MAX[:10]})")
    return micros


def _check_text(rule: FieldRule, value: str, limit: int, what: str) -> None:
    if len(value) > limit:
        raise Reject(Reason.FIELD_TOO_LONG, f"{what}: over {limit} characters")
    bad = FORBIDDEN_RE[rule.chars].search(value)
    if bad:
        raise Reject(Reason.CONTROL_CHARACTER, f"{what}: control character U+{ord(bad.group()):04X}")
    if not rule.blank and (not value or value.isspace()):
        raise Reject(rule.blank_reason, f"{what}: blank")


def _check_allowed(rule: FieldRule, value: str, what: str) -> None:
    if rule.allowed is not None and value not in rule.allowed:
        raise Reject(Reason.OUT_OF_RANGE, f"{what}: {value[:40]!r} not one of {', '.join(rule.allowed)}")


def _number(rule: FieldRule, value: Any) -> int | Decimal:
    """The number of a JSON number value, range-checked while still a Decimal (``1e999999999`` is
    never expanded into an int)."""
    kind = type(value)
    if kind is not int and kind is not Decimal:
        raise Reject(Reason.WRONG_TYPE, f"{rule.name}: expected {rule.type}, got {JSON_TYPE.get(kind, 'null')}")
    if rule.type is FieldType.INT and kind is Decimal and value != value.to_integral_value():
        raise Reject(Reason.WRONG_TYPE, f"{rule.name}: expected an integer, got a fraction")
    if (rule.minimum is not None and value < rule.minimum) or (rule.maximum is not None and value > rule.maximum):
        shown = str(value) if len(str(value)) <= 24 else f"{str(value)[:20]}..."
        raise Reject(Reason.OUT_OF_RANGE, f"{rule.name}: {shown} not in [{rule.minimum}, {rule.maximum}]")
    return int(value) if rule.type is FieldType.INT else value


def kind_spec(kind: str | KindSpec, contract: Contract | None = None) -> KindSpec:
    """The KindSpec of `kind` (a name, or already a spec) in `contract` (default: search)."""
    return kind if isinstance(kind, KindSpec) else resolve_contract(contract).kind(kind)


class LineChecker:
    """Checks the lines of one kind against its rules, with per-task caches for ids and timestamps."""

    def __init__(self, kind: str | KindSpec, max_chars: int, headers: dict[str, list[str]] | None = None,
                 contract: Contract | None = None):
        self.spec = kind_spec(kind, contract)
        self.kind, self.rules, self.headers = self.spec.name, self.spec.rules, headers or {}
        self.default_columns = [r.name for r in self.rules]
        self.limits = {r.name: min(r.max_chars or max_chars, max_chars) for r in self.rules}
        if self.spec.csv:  # no csv-module cap on a cell: the contract's limit says field_too_long
            csv.field_size_limit(CSV_CELL_CAP)
        self.columns = self.spec.silver_columns
        self._ids: dict[str, dict[str, tuple[str | None, str | None]]] = {"url": {}, "query": {}}
        self._ts: dict[str, int] = {}
        derived = {r.name: "url" if r.type is FieldType.URL else "query" if r.name == "query" else None for r in self.rules}
        self._plan = [(r, derived[r.name]) for r in self.rules]
        ids = {"url": ID_COLUMNS[FieldType.URL], "query": QUERY_ID_COLUMNS}
        # values come out as the fields in rule order, then the derived ids: the typed fast path's layout
        self._names = [r.name for r in self.rules] + [n for r in self.rules for n in ids.get(derived[r.name] or "", ())]
        last = {n: i for i, n in enumerate(self._names)}  # a field named like a derived id (an impression's
        self._pick = [last[c] for c in self.columns]      # query_id): the derived value, as in check()
        self._typed = None if self.spec.csv else typed_check(self.rules, self.limits, self._ts,
                                                                 self._timestamp_or_none, self._ids, self._id)

    def fields(self, raw: bytes, file_sha256: str | None = None) -> dict[str, Any]:
        """The parsed fields of one line, before the field checks (Reject on a line-level error)."""
        text = decode_line(raw)
        if self.spec.csv:
            return parse_csv_line(text, self.headers.get(file_sha256 or "", self.default_columns), self.rules)
        return parse_json_line(text)

    def check(self, raw: bytes, file_sha256: str | None = None) -> dict[str, Any]:
        """The silver values of one line (fields and ids); raises Reject with the first failure."""
        return dict(zip(self._names, self._check_values(raw, file_sha256), strict=True))

    def _check_values(self, raw: bytes, file_sha256: str | None = None) -> list[Any]:
        """``check`` as a list: the fields in rule order, then the derived ids (the batch path: no dict per line)."""
        out = self._typed(raw) if self._typed is not None else None
        if out is None:
            out = self._checked_fields(raw, file_sha256)
        if self.spec.row_check is not None:  # rules across fields (e.g. one team per served video)
            failed = self.spec.row_check(dict(zip(self._names, out, strict=True)))
            if failed is not None:
                raise Reject(*failed)
        return out

    def _checked_fields(self, raw: bytes, file_sha256: str | None) -> list[Any]:
        """The strict path: every check of every field, in table order (the first failure raises)."""
        obj = None if self.spec.csv else fast_json_object(raw)
        if obj is None:
            obj = self.fields(raw, file_sha256)
        out: list[Any] = []
        extra: list[Any] = []
        for rule, derived in self._plan:
            value = self._value(rule, obj)
            out.append(value)
            if derived == "url":
                canonical, video_id = self._id("url", value)
                if video_id is None:
                    raise Reject(Reason.INVALID_URL, f"{rule.name}: not an http(s) URL with a valid host")
                extra += (canonical, video_id)
            elif derived == "query":
                extra += self._id("query", value)
        return out + extra

    def _value(self, rule: FieldRule, obj: dict[str, Any]) -> Any:
        name = rule.name
        if name not in obj and rule.required:
            raise Reject(Reason.MISSING_FIELD, f"{name}: missing")
        value = obj.get(name)
        if value is None:
            if not rule.nullable:
                raise Reject(Reason.NULL_FIELD, f"{name}: null")
            return None
        t = rule.type
        if t in (FieldType.INT, FieldType.NUMBER):
            number = _number(rule, value)
            return number if t is FieldType.INT else float(number)
        if t is FieldType.BOOL:
            if type(value) is not bool:
                raise Reject(Reason.WRONG_TYPE, f"{name}: expected bool, got {JSON_TYPE.get(type(value), 'null')}")
            return value
        if t is FieldType.STRING_LIST:
            if type(value) is not list or any(type(v) is not str for v in value):
                raise Reject(Reason.WRONG_TYPE, f"{name}: expected an array of strings")
            for i, item in enumerate(value):
                _check_text(rule, item, self.limits[name], f"{name}[{i}]")
                _check_allowed(rule, item, f"{name}[{i}]")
            return value
        if type(value) is not str:
            raise Reject(Reason.WRONG_TYPE, f"{name}: expected {t} (a string), got {JSON_TYPE.get(type(value), 'null')}")
        _check_text(rule, value, self.limits[name], name)
        _check_allowed(rule, value, name)
        if t is FieldType.TIMESTAMP:
            return self._timestamp(name, value)
        return value

    def _timestamp(self, name: str, text: str) -> int:
        micros = self._ts.get(text)
        if micros is None:
            try:
                micros = parse_timestamp(text)
            except Reject as exc:
                raise Reject(exc.reason, f"{name}: {exc.detail}") from None
            if len(self._ts) >= CACHE_MAX:
                self._ts.clear()
            self._ts[text] = micros
        return micros

    def _timestamp_or_none(self, text: str) -> int | None:
        try:
            return self._timestamp("", text)
        except Reject:
            return None

    def _id(self, kind: str, value: str) -> tuple[str | None, str | None]:
        cache = self._ids[kind]
        ids = cache.get(value)
        if ids is None:
            if kind == "url":
                canonical = nz.canonicalize_url(value)
                ids = (canonical, None if canonical is None else nz.id_of(canonical))
            else:
                norm = nz.normalize_query(value)
                ids = (norm, nz.id_of(norm))
            if len(cache) >= CACHE_MAX:
                cache.clear()
            cache[value] = ids
        return ids

    def check_lines(self, raws: pa.Array, shas: pa.Array | None = None) -> pa.StructArray:
        """``reason``/``detail`` and the silver columns (NULL when rejected) of each line, in order."""
        import pyarrow as pa

        rows: list[list[Any]] = []
        reasons: list[str | None] = []
        details: list[str | None] = []
        check = self._check_values
        empty = [None] * len(self._names)
        raw_list = raws.to_pylist()
        for raw, sha in zip(raw_list, [None] * len(raw_list) if shas is None else shas.to_pylist(), strict=True):
            try:
                rows.append(check(raw, sha))
                reasons.append(None)
                details.append(None)
            except Reject as exc:
                rows.append(empty)
                reasons.append(str(exc.reason))
                details.append(exc.detail)
        by_name = list(zip(*rows, strict=True)) if rows else [() for _ in self._names]
        values = [by_name[i] for i in self._pick]
        types = arrow_types(self.spec)
        arrays = [pa.array(reasons, pa.string()), pa.array(details, pa.string())]
        arrays += [pa.array(v, types[c]) for c, v in zip(self.columns, values, strict=True)]
        return pa.StructArray.from_arrays(arrays, names=list(CHECK_FIELDS + self.columns))


CHECK_FIELDS = ("reason", "detail")


def arrow_types(kind: str | KindSpec, contract: Contract | None = None) -> dict[str, pa.DataType]:
    """Arrow type of each silver column of `kind` (timestamps in UTC microseconds)."""
    import pyarrow as pa

    spec = kind_spec(kind, contract)
    sql = {"string": pa.string(), "int": pa.int32(), "bigint": pa.int64(), "double": pa.float64(),
           "boolean": pa.bool_(), "timestamp": pa.timestamp("us", tz="UTC"), "array<string>": pa.list_(pa.string())}
    by_name = {r.name: sql[r.sql] for r in spec.rules}
    return {c: by_name.get(c, pa.string()) for c in spec.silver_columns}


def header_columns(header_line: str | None) -> list[str]:
    """Column names of a CSV header line (BOM and surrounding spaces dropped, lowercased)."""
    if not header_line:
        return []
    row = next(csv.reader([header_line.lstrip("\ufeff")]), [])
    return [c.strip().lower() for c in row]
