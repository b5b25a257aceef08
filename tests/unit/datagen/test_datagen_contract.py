"""The generator writes exactly the input contract, and its ledger matches an independent recount.

The recount parses every line with plain Python (json, csv, datetime, the ETL's own
`canonicalize_url`/`normalize_query`) and derives each dirty row's reason from the contract as
the README states it, written out here by hand, without using datagen or parse.py code, so a wrong
ledger or a row with two defects fails here.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from components.common.contract import (
    DEFECTS,
    JUDGEMENT_FIELDS,
    SEARCH_LOG_FIELDS,
    VIDEO_FIELDS,
    FileDefect,
    Kind,
    Reason,
)
from components.datagen.generate import generate_dataset
from components.etl.normalize import canonicalize_url

MAX_CHARS = 100_000
TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?\Z")
LINE_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
STRINGS = {"event_id", "ts", "session_id", "query", "video_url", "title", "description", "channel", "published_at"}
RANGES = {"position": (1, 10_000), "dwell_ms": (0, 86_400_000), "duration_s": (0, 1_000_000), "label": (0, 3)}
LIMITS = {"event_id": 1_000, "session_id": 1_000, "annotator": 1_000, "video_url": 8_192}


def check_ts(value: str) -> Reason | None:
    m = TS_RE.match(value)
    if m is None:
        return Reason.INVALID_TIMESTAMP
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00") if m.group(2) else value)
    except ValueError:
        return Reason.INVALID_TIMESTAMP
    if not m.group(2):
        return Reason.MISSING_TIMEZONE
    return None if datetime(1990, 1, 1, tzinfo=UTC) <= instant < datetime(2100, 1, 1, tzinfo=UTC) else Reason.INVALID_TIMESTAMP


def strict_json(text: str):
    """RFC 8259: no NaN/Infinity, no repeated keys; json.loads already refuses trailing data."""
    def no_constant(name):
        raise ValueError(name)

    def unique(pairs):
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError("repeated key")
        return dict(pairs)

    return json.loads(text, parse_float=Decimal, parse_constant=no_constant, object_pairs_hook=unique)


def check_text(name: str, value: str, blank_ok: bool) -> Reason | None:
    if len(value) > LIMITS.get(name, MAX_CHARS):
        return Reason.FIELD_TOO_LONG
    if (TEXT_CONTROLS if name == "description" else LINE_CONTROLS).search(value):
        return Reason.CONTROL_CHARACTER
    if not blank_ok and not value.strip():
        return Reason.EMPTY_QUERY if name == "query" else Reason.BLANK_FIELD
    return None


def check_field(name: str, v) -> Reason | None:
    """The reason a present, non-null value of field `name` is rejected for (None: valid)."""
    if name in STRINGS or name == "annotator":
        if not isinstance(v, str):
            return Reason.WRONG_TYPE
        reason = check_text(name, v, blank_ok=name == "description")
        if reason is None and name in ("ts", "published_at"):
            reason = check_ts(v)
        if reason is None and name == "video_url" and canonicalize_url(v) is None:
            reason = Reason.INVALID_URL
        return reason
    if name == "clicked":
        return None if isinstance(v, bool) else Reason.WRONG_TYPE
    if name == "tags":
        if not isinstance(v, list) or not all(isinstance(t, str) for t in v):
            return Reason.WRONG_TYPE
        return next((r for r in (check_text(name, t, False) for t in v) if r), None)
    if isinstance(v, bool) or not isinstance(v, int | Decimal):
        return Reason.WRONG_TYPE
    if name != "duration_s" and v != int(v):
        return Reason.WRONG_TYPE
    low, high = RANGES[name]
    return None if low <= v <= high else Reason.OUT_OF_RANGE


def classify_json(kind: Kind, raw: bytes) -> tuple[Reason | None, dict | None]:
    """The one reason a JSONL line is quarantined for (None: valid), and the parsed object."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Reason.INVALID_UTF8, None
    try:
        obj = strict_json(text)
    except ValueError:
        return Reason.MALFORMED_JSON, None
    if not isinstance(obj, dict):
        return Reason.NOT_AN_OBJECT, None
    for f in SEARCH_LOG_FIELDS if kind is Kind.SEARCH_LOG else VIDEO_FIELDS:
        if f not in obj:
            return Reason.MISSING_FIELD, obj
        if obj[f] is None:
            if f == "dwell_ms":
                continue
            return Reason.NULL_FIELD, obj
        reason = check_field(f, obj[f])
        if reason:
            return reason, obj
    return None, obj


def classify_csv(raw: bytes) -> Reason | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Reason.INVALID_UTF8
    try:
        row = next(csv.reader([text], strict=True))
    except csv.Error:
        return Reason.MALFORMED_CSV
    if len(row) != len(JUDGEMENT_FIELDS):
        return Reason.CSV_COLUMN_COUNT
    for name, cell in zip(JUDGEMENT_FIELDS, row, strict=True):
        if cell == "":
            return Reason.NULL_FIELD
        value = cell
        if name == "label":
            if not re.fullmatch(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?", cell):
                return Reason.WRONG_TYPE
            value = Decimal(cell)
        reason = check_field(name, value)
        if reason:
            return reason
    return None


def data_lines(path: Path) -> list[bytes]:
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    assert lines[-1] == b"", f"{path} must end with a newline"
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines[:-1]]
    if path.suffix == ".csv":
        header = lines[0].removeprefix("\ufeff".encode())
        assert header == b"query,video_url,label,annotator,ts"
        lines = lines[1:]
    return lines


def recount(path: Path, kind: Kind) -> dict:
    """Independent ledger of one file: lines, valid, duplicates, reasons, conflicting pairs.

    Valid rows are grouped by event_id (search log) or by their whole content (the other kinds):
    a group of equal rows is one valid row plus duplicates, a search-log group of differing rows
    is a conflict.
    """
    reasons: Counter[str] = Counter()
    groups: dict[str, list[bytes]] = {}
    lines = data_lines(path)
    for raw in lines:
        if kind is Kind.JUDGEMENTS:
            reason, key = classify_csv(raw), raw.decode("utf-8", "replace")
        else:
            reason, obj = classify_json(kind, raw)
            fields = SEARCH_LOG_FIELDS if kind is Kind.SEARCH_LOG else VIDEO_FIELDS
            key = obj["event_id"] if kind is Kind.SEARCH_LOG and reason is None else json.dumps(
                [obj[f] for f in fields] if reason is None else None, default=str)
        if reason is None:
            groups.setdefault(key, []).append(raw)
        else:
            reasons[reason.value] += 1
    valid = duplicates = pairs = 0
    for rows in groups.values():
        if len(set(rows)) > 1:
            reasons[Reason.CONFLICTING_DUPLICATE.value] += len(rows)
            pairs += 1
        else:
            valid += 1
            duplicates += len(rows) - 1
    return {"lines": len(lines), "valid": valid, "duplicates": duplicates, "quarantined": dict(sorted(reasons.items())),
            "conflicting_pairs": pairs}


@pytest.fixture(scope="module")
def dirty_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("dirty")
    return out, generate_dataset(out, impressions=6000, days=2, seed=11, dirty_share=0.05)


def test_clean_data_set_is_all_valid_contract_rows(tmp_path: Path) -> None:
    result = generate_dataset(tmp_path, impressions=3000, days=2, seed=3, dirty_share=0.0)
    assert result["quarantined_rows"] == 0 and result["duplicate_rows"] == 0
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == [
        "2026-10-01/judgements/part-00000.csv", "2026-10-01/search_log/part-00000.jsonl",
        "2026-10-01/videos/part-00000.jsonl", "2026-10-02/judgements/part-00000.csv",
        "2026-10-02/search_log/part-00000.jsonl", "2026-10-02/videos/part-00000.jsonl", "_generator.json",
    ]
    for rel, ledger in result["files"].items():
        kind = Kind(ledger["kind"])
        counted = recount(tmp_path / rel, kind)
        assert counted["quarantined"] == {} and counted["duplicates"] == 0, rel
        assert counted["valid"] == counted["lines"] == ledger["lines"] == ledger["valid"], rel
    assert result["kinds"]["search_log"]["valid"] == 3000
    # every video in logs and judgements is in the catalogue, under the canonical identity
    catalogue = set()
    for path in tmp_path.glob("*/videos/*.jsonl"):
        for raw in data_lines(path):
            catalogue.add(canonicalize_url(json.loads(raw)["video_url"]))
    assert len(catalogue) == result["world"]["videos"]
    seen = {canonicalize_url(json.loads(raw)["video_url"]) for p in tmp_path.glob("*/search_log/*") for raw in data_lines(p)}
    assert seen <= catalogue


@pytest.fixture(scope="module")
def drifted_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Every drift mechanism at full strength: new videos and queries, staleness, behaviour, topic mix."""
    out = tmp_path_factory.mktemp("drifted")
    return out, generate_dataset(out, impressions=6000, days=2, seed=11, dirty_share=0.05, drift=1.0)


@pytest.mark.parametrize("data_set", ["dirty_set", "drifted_set"])
def test_ledger_matches_an_independent_recount(data_set: str, request: pytest.FixtureRequest) -> None:
    out, result = request.getfixturevalue(data_set)
    on_disk = json.loads((out / "_generator.json").read_text())
    assert on_disk == {k: v for k, v in result.items() if k not in ("out_dir", "elapsed_s", "rows_per_s")}
    totals: Counter[str] = Counter()
    for rel, ledger in result["files"].items():
        counted = recount(out / rel, Kind(ledger["kind"]))
        assert counted == {k: ledger[k] for k in counted}, rel
        assert ledger["lines"] == ledger["valid"] + ledger["duplicates"] + sum(ledger["quarantined"].values())
        totals.update(counted["quarantined"])
    assert {r: n for r, n in result["quarantine_reasons"].items() if n} == dict(totals)
    assert result["quarantined_rows"] == sum(totals.values())
    assert result["lines"] == result["valid_rows"] + result["quarantined_rows"] + result["duplicate_rows"]
    assert result["header_lines"] == 2  # one CSV header per judgement file, not counted in lines


def test_every_reason_is_injected_and_field_too_long_stays_rare(dirty_set: tuple[Path, dict]) -> None:
    _out, result = dirty_set
    assert set(result["quarantine_reasons"]) == {r.value for r in Reason}
    assert all(n > 0 for n in result["quarantine_reasons"].values()), result["quarantine_reasons"]
    assert set(result["defects"]) == {d.name for d in DEFECTS}  # every class of the contract table
    assert result["quarantine_reasons"]["field_too_long"] <= len(result["files"])  # at most one per file
    sl = result["kinds"]["search_log"]
    assert sl["quarantined"]["conflicting_duplicate"] == 2 * sl["conflicting_pairs"] > 0
    share = result["quarantined_rows"] / result["lines"]
    assert 0.035 < share < 0.065  # dirty_share=0.05 of the lines


def test_every_defect_class_of_each_kind_is_injected_and_counted(tmp_path: Path) -> None:
    """Files of a kind continue one cycle of its classes: enough dirt covers all, each counted."""
    result = generate_dataset(tmp_path, impressions=2000, days=3, seed=12, dirty_share=0.3)
    for kind, k in result["kinds"].items():
        assert set(k["defects"]) == {d.name for d in DEFECTS if Kind(kind) in d.kinds}, kind
        by_reason: Counter[str] = Counter()
        for d in DEFECTS:
            if d.reason is not None and d.name in k["defects"]:
                by_reason[d.reason.value] += k["defects"][d.name] * (2 if d.name == "conflicting_duplicate" else 1)
        assert dict(by_reason) == k["quarantined"], kind  # the defect classes add up to the reasons
        assert k["defects"]["exact_duplicate"] == k["duplicates"] > 0, kind
    for rel, ledger in result["files"].items():
        counted = recount(tmp_path / rel, Kind(ledger["kind"]))
        assert counted == {k: ledger[k] for k in counted}, rel


def test_judgement_csv_bom_crlf_and_extra_fields(dirty_set: tuple[Path, dict]) -> None:
    out, result = dirty_set
    day2 = (out / "2026-10-02/judgements/part-00000.csv").read_bytes()
    day1 = (out / "2026-10-01/judgements/part-00000.csv").read_bytes()
    assert day2.startswith(b"\xef\xbb\xbfquery,") and day2.count(b"\r\n") == day2.count(b"\n")
    assert day1.startswith(b"query,") and b"\r\n" not in day1
    assert result["files"]["2026-10-02/judgements/part-00000.csv"]["bom"] is True
    extras = Counter()
    for path in (out / rel for rel in result["files"] if rel.endswith(".jsonl")):
        for raw in data_lines(path):
            reason, obj = classify_json(Kind(path.parent.name), raw)
            if reason is None:
                extras.update(k for k in obj if k not in SEARCH_LOG_FIELDS + VIDEO_FIELDS)
    assert extras["client"] > 50 and extras["language"] > 0


def test_timestamps_carry_varied_zones_inside_their_day(dirty_set: tuple[Path, dict]) -> None:
    out, _ = dirty_set
    zones: Counter[str] = Counter()
    for raw in data_lines(out / "2026-10-02/search_log/part-00000.jsonl"):
        reason, obj = classify_json(Kind.SEARCH_LOG, raw)
        if reason is None:
            ts = obj["ts"]
            zones[ts[-6:] if ts[-6] in "+-" else ts[-1]] += 1
            instant = datetime.fromisoformat(ts.replace("Z", "+00:00"))
            assert instant.astimezone(UTC).date().isoformat() == "2026-10-02", ts
    assert {"Z", "+00:00", "+02:00", "-05:00"} <= set(zones)


def test_files_the_contract_ignores_are_written_once_and_listed(dirty_set: tuple[Path, dict]) -> None:
    out, result = dirty_set
    assert result["ignored_files"] == {
        "2026-10-01/judgements/part-00001.csv": "empty",
        "2026-10-01/search_log.jsonl": "outside_kind_folder",
        "2026-10-01/search_log/part-00001.jsonl.gz": "compressed",
        "2026-10-01/search_log/part-00002.jsonl": "compressed",
        "2026-10-01/videos/part-00001.jsonl": "not_utf8_text",
        "2026-10-01/videos/part-00002.json": "wrong_extension",
    }
    assert set(result["ignored_files"].values()) == {d.value for d in FileDefect} - {"unreadable"}
    assert (out / "2026-10-01/search_log/part-00002.jsonl").read_bytes()[:2] == b"\x1f\x8b"  # gzip, contract name
    assert (out / "2026-10-01/videos/part-00001.jsonl").read_bytes()[:2] == b"\xff\xfe"  # UTF-16 LE BOM
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert on_disk == {*result["files"], *result["ignored_files"], "_generator.json"}
