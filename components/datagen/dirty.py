"""Dirty rows: each carries EXACTLY ONE defect, named by the quarantine `Reason` it must get.

Why one defect per row: the ETL tests can then check the quarantine reasons exactly against the
generator's counts. Which reasons can come from which raw kind (the cycles below) follows the
contract: JSON errors only in JSONL, column counts only in CSV, `conflicting_duplicate` only in the
search log (the only kind with an `event_id`). `field_too_long` is written at most once per file to
keep the data small. Invalid UTF-8 is made with lone surrogates that the writer encodes with
``surrogateescape`` into raw bytes (0xff, or 0xc3 followed by an ASCII byte).
"""

from __future__ import annotations

import json
import random
from typing import Any

from components.etl.contract import SEARCH_LOG_FIELDS, VIDEO_FIELDS, Kind, Reason

LONG_FIELD_CHARS = 120_000  # over the contract's 100,000-character limit
NULLABLE = {"dwell_ms"}
REQUIRED = {Kind.SEARCH_LOG: SEARCH_LOG_FIELDS, Kind.VIDEOS: VIDEO_FIELDS}
BAD_BYTES = ("\udcff", "\udcc3(", "\udce9t\udce9")  # 0xff; 0xc3 + '('; latin-1 'été'

CYCLES: dict[Kind, tuple[Reason, ...]] = {
    Kind.SEARCH_LOG: (
        Reason.INVALID_UTF8, Reason.MALFORMED_JSON, Reason.NOT_AN_OBJECT, Reason.MISSING_FIELD,
        Reason.NULL_FIELD, Reason.WRONG_TYPE, Reason.OUT_OF_RANGE, Reason.INVALID_TIMESTAMP,
        Reason.MISSING_TIMEZONE, Reason.INVALID_URL, Reason.EMPTY_QUERY, Reason.CONFLICTING_DUPLICATE,
        Reason.FIELD_TOO_LONG,
    ),
    Kind.VIDEOS: (
        Reason.INVALID_UTF8, Reason.MALFORMED_JSON, Reason.NOT_AN_OBJECT, Reason.MISSING_FIELD,
        Reason.NULL_FIELD, Reason.WRONG_TYPE, Reason.OUT_OF_RANGE, Reason.INVALID_TIMESTAMP,
        Reason.MISSING_TIMEZONE, Reason.INVALID_URL, Reason.FIELD_TOO_LONG,
    ),
    Kind.JUDGEMENTS: (
        Reason.CSV_COLUMN_COUNT, Reason.INVALID_UTF8, Reason.WRONG_TYPE, Reason.OUT_OF_RANGE,
        Reason.INVALID_TIMESTAMP, Reason.MISSING_TIMEZONE, Reason.INVALID_URL, Reason.EMPTY_QUERY,
        Reason.FIELD_TOO_LONG,
    ),
}
TS_FIELD = {Kind.SEARCH_LOG: "ts", Kind.VIDEOS: "published_at", Kind.JUDGEMENTS: "ts"}
TEXT_FIELD = {Kind.SEARCH_LOG: "query", Kind.VIDEOS: "description", Kind.JUDGEMENTS: "query"}


def _bad_timestamp(rng: random.Random, ts: str) -> str:
    date, _, time = ts.partition("T")
    return rng.choice(
        (
            f"2026-02-30T{time}",
            f"{date[:4]}-13-{date[8:10]}T{time}",
            f"{date}T25:61:00Z",
            f"{date}T{time[:2]}:{time[3:5]}:61+00:00",
            "yesterday at noon",
        )
    )


def _zoneless(ts: str) -> str:
    for i in range(len(ts) - 1, 9, -1):
        if ts[i] in "Z+-":
            return ts[:i]
    return ts


def _bad_url(rng: random.Random, url: str) -> str:
    rest = url.split("://", 1)[1]
    path = rest[rest.index("/") :]
    return rng.choice(
        (f"ftp://{rest}", f"https://{path}", rest, f"javascript:alert('{path}')", f"mailto:abuse@{rest.split('/')[0]}")
    )


def _long_text(text: str) -> str:
    pad = " lorem ipsum dolor sit amet"
    return (text + pad * (LONG_FIELD_CHARS // len(pad) + 1))[:LONG_FIELD_CHARS]


def _inject_bytes(rng: random.Random, text: str) -> str:
    cut = rng.randrange(len(text) + 1)
    return text[:cut] + rng.choice(BAD_BYTES) + text[cut:]


def _wrong_type(rng: random.Random, kind: Kind, row: dict[str, Any]) -> None:
    if kind is Kind.SEARCH_LOG:
        choices = ["position", "clicked"] + (["dwell_ms"] if row["dwell_ms"] is not None else [])
        name = rng.choice(choices)
        row[name] = {"position": f"#{row['position']}", "clicked": rng.choice(("yes", "no")),
                     "dwell_ms": f"{row['dwell_ms']}ms"}[name]
    else:  # videos
        if rng.random() < 0.5:
            row["duration_s"] = f"{row['duration_s']} seconds"
        else:
            row["tags"] = ", ".join(row["tags"])


def _out_of_range(rng: random.Random, kind: Kind, row: dict[str, Any]) -> None:
    if kind is Kind.SEARCH_LOG:
        if row["dwell_ms"] is not None and rng.random() < 0.5:
            row["dwell_ms"] = -row["dwell_ms"] - 1
        else:
            row["position"] = rng.choice((0, -1, -7))
    else:
        row["duration_s"] = -rng.randrange(1, 600)


def corrupt_json(rng: random.Random, kind: Kind, row: dict[str, Any], reason: Reason) -> str:
    """The text of one JSONL line derived from a clean `row` (a copy) with exactly one defect."""
    row = dict(row)
    if reason is Reason.INVALID_UTF8:
        field = TEXT_FIELD[kind] if kind is Kind.SEARCH_LOG or rng.random() < 0.5 else "title"
        row[field] = _inject_bytes(rng, row[field])
    elif reason is Reason.MALFORMED_JSON:
        text = json.dumps(row, ensure_ascii=False)
        if rng.random() < 0.3:
            return text.replace('"', "'")  # single quotes: a Python repr, not JSON
        return text[: rng.randrange(1, len(text) - 1)]  # truncated mid-record
    elif reason is Reason.NOT_AN_OBJECT:
        if rng.random() < 0.5:
            return json.dumps(list(row.values()), ensure_ascii=False)
        return json.dumps(json.dumps(row, ensure_ascii=False), ensure_ascii=False)  # an object quoted as a string
    elif reason is Reason.MISSING_FIELD:
        del row[rng.choice([k for k in REQUIRED[kind] if k not in NULLABLE])]
    elif reason is Reason.NULL_FIELD:
        row[rng.choice([k for k in REQUIRED[kind] if k not in NULLABLE])] = None
    elif reason is Reason.WRONG_TYPE:
        _wrong_type(rng, kind, row)
    elif reason is Reason.OUT_OF_RANGE:
        _out_of_range(rng, kind, row)
    elif reason is Reason.INVALID_TIMESTAMP:
        row[TS_FIELD[kind]] = _bad_timestamp(rng, row[TS_FIELD[kind]])
    elif reason is Reason.MISSING_TIMEZONE:
        row[TS_FIELD[kind]] = _zoneless(row[TS_FIELD[kind]])
    elif reason is Reason.INVALID_URL:
        row["video_url"] = _bad_url(rng, row["video_url"])
    elif reason is Reason.EMPTY_QUERY:
        row["query"] = rng.choice(("", "   ", "\t", " \t "))
    elif reason is Reason.FIELD_TOO_LONG:
        row[TEXT_FIELD[kind]] = _long_text(row[TEXT_FIELD[kind]])
    else:
        raise ValueError(f"reason {reason} cannot be injected into a {kind} JSON line")
    return json.dumps(row, ensure_ascii=False)


def corrupt_csv(rng: random.Random, fields: list[str], reason: Reason) -> list[str]:
    """A judgement CSV row (query, video_url, label, annotator, ts) with exactly one defect."""
    query, url, label, annotator, ts = fields
    if reason is Reason.CSV_COLUMN_COUNT:
        return fields[:-1] if rng.random() < 0.5 else [*fields, rng.choice(("extra", "2", "note: re-check"))]
    if reason is Reason.INVALID_UTF8:
        query = _inject_bytes(rng, query)
    elif reason is Reason.WRONG_TYPE:
        label = rng.choice(("high", "relevant", "two", "2/3"))
    elif reason is Reason.OUT_OF_RANGE:
        label = rng.choice(("4", "-1", "9", "10"))
    elif reason is Reason.INVALID_TIMESTAMP:
        ts = _bad_timestamp(rng, ts)
    elif reason is Reason.MISSING_TIMEZONE:
        ts = _zoneless(ts)
    elif reason is Reason.INVALID_URL:
        url = _bad_url(rng, url)
    elif reason is Reason.EMPTY_QUERY:
        query = rng.choice(("   ", "\t", " \t "))
    elif reason is Reason.FIELD_TOO_LONG:
        query = _long_text(query)
    else:
        raise ValueError(f"reason {reason} cannot be injected into a judgement CSV row")
    return [query, url, label, annotator, ts]
