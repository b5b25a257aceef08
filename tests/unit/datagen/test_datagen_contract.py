"""The generator writes exactly the input contract, and its ledger matches an independent recount.

The recount parses every line with plain Python (json, csv, datetime, the ETL's own
`canonicalize_url`/`normalize_query`) and derives each dirty row's reason from the contract,
without using any datagen code, so a wrong ledger or a row with two defects fails here.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from components.datagen.generate import generate_dataset
from components.etl.contract import JUDGEMENT_FIELDS, SEARCH_LOG_FIELDS, VIDEO_FIELDS, Kind, Reason
from components.etl.normalize import canonicalize_url, normalize_query

MAX_CHARS = 100_000
TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?\Z")
TYPES = {
    "event_id": str, "ts": str, "session_id": str, "query": str, "video_url": str, "title": str,
    "description": str, "channel": str, "published_at": str, "annotator": str,
}


def check_ts(value: str) -> Reason | None:
    m = TS_RE.match(value)
    if m is None:
        return Reason.INVALID_TIMESTAMP
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00") if m.group(2) else value)
    except ValueError:
        return Reason.INVALID_TIMESTAMP
    return None if m.group(2) else Reason.MISSING_TIMEZONE


def classify_json(kind: Kind, raw: bytes) -> tuple[Reason | None, dict | None]:
    """The one reason a JSONL line is quarantined for (None: valid), and the parsed object."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Reason.INVALID_UTF8, None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return Reason.MALFORMED_JSON, None
    if not isinstance(obj, dict):
        return Reason.NOT_AN_OBJECT, None
    fields = SEARCH_LOG_FIELDS if kind is Kind.SEARCH_LOG else VIDEO_FIELDS
    if any(f not in obj for f in fields):
        return Reason.MISSING_FIELD, obj
    if any(obj[f] is None for f in fields if f != "dwell_ms"):
        return Reason.NULL_FIELD, obj
    for f in fields:
        v = obj[f]
        ok = {
            "position": isinstance(v, int) and not isinstance(v, bool),
            "clicked": isinstance(v, bool),
            "dwell_ms": v is None or (isinstance(v, int) and not isinstance(v, bool)),
            "duration_s": isinstance(v, int | float) and not isinstance(v, bool),
            "tags": isinstance(v, list) and all(isinstance(t, str) for t in v),
        }.get(f, isinstance(v, TYPES.get(f, object)))
        if not ok:
            return Reason.WRONG_TYPE, obj
    if any(isinstance(obj[f], str) and len(obj[f]) > MAX_CHARS for f in fields):
        return Reason.FIELD_TOO_LONG, obj
    if kind is Kind.SEARCH_LOG:
        if obj["position"] < 1 or (obj["dwell_ms"] is not None and obj["dwell_ms"] < 0):
            return Reason.OUT_OF_RANGE, obj
        ts_reason = check_ts(obj["ts"])
    else:
        if obj["duration_s"] < 0:
            return Reason.OUT_OF_RANGE, obj
        ts_reason = check_ts(obj["published_at"])
    if ts_reason:
        return ts_reason, obj
    if canonicalize_url(obj["video_url"]) is None:
        return Reason.INVALID_URL, obj
    if kind is Kind.SEARCH_LOG and not normalize_query(obj["query"]):
        return Reason.EMPTY_QUERY, obj
    return None, obj


def classify_csv(raw: bytes) -> Reason | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Reason.INVALID_UTF8
    row = next(csv.reader([text]))
    if len(row) != len(JUDGEMENT_FIELDS):
        return Reason.CSV_COLUMN_COUNT
    query, url, label, _annotator, ts = row
    if any(len(c) > MAX_CHARS for c in row):
        return Reason.FIELD_TOO_LONG
    if not re.fullmatch(r"-?\d+", label):
        return Reason.WRONG_TYPE
    if not 0 <= int(label) <= 3:
        return Reason.OUT_OF_RANGE
    return check_ts(ts) or (Reason.INVALID_URL if canonicalize_url(url) is None else None) or (
        Reason.EMPTY_QUERY if not normalize_query(query) else None
    )


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
    """Independent ledger of one file: lines, valid, duplicates, reasons, conflicting pairs."""
    reasons: Counter[str] = Counter()
    by_event: dict[str, list[bytes]] = {}
    valid = 0
    lines = data_lines(path)
    for raw in lines:
        if kind is Kind.JUDGEMENTS:
            reason = classify_csv(raw)
        else:
            reason, obj = classify_json(kind, raw)
            if reason is None and kind is Kind.SEARCH_LOG:
                by_event.setdefault(obj["event_id"], []).append(raw)
                continue
        if reason is None:
            valid += 1
        else:
            reasons[reason.value] += 1
    duplicates = pairs = 0
    for rows in by_event.values():
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


def test_ledger_matches_an_independent_recount(dirty_set: tuple[Path, dict]) -> None:
    out, result = dirty_set
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
    assert result["quarantine_reasons"]["field_too_long"] <= len(result["files"])  # at most one per file
    sl = result["kinds"]["search_log"]
    assert sl["quarantined"]["conflicting_duplicate"] == 2 * sl["conflicting_pairs"] > 0
    assert sl["duplicates"] > 0
    share = result["quarantined_rows"] / result["lines"]
    assert 0.035 < share < 0.065  # dirty_share=0.05 of the lines


def test_judgement_csv_bom_crlf_and_extra_fields(dirty_set: tuple[Path, dict]) -> None:
    out, result = dirty_set
    day2 = (out / "2026-10-02/judgements/part-00000.csv").read_bytes()
    day1 = (out / "2026-10-01/judgements/part-00000.csv").read_bytes()
    assert day2.startswith(b"\xef\xbb\xbfquery,") and day2.count(b"\r\n") == day2.count(b"\n")
    assert day1.startswith(b"query,") and b"\r\n" not in day1
    assert result["files"]["2026-10-02/judgements/part-00000.csv"]["bom"] is True
    extras = Counter()
    for path in out.glob("*/*/*.jsonl"):
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
