"""Dirty rows: each carries EXACTLY ONE defect, a class of ``contract.DEFECTS`` with its `Reason`.

Why one defect per row: the ETL tests can then check the quarantine reasons exactly against the
generator's counts. A kind's cycle holds every defect class the contract lists for that kind (JSON
errors only in JSONL, quoting and column counts only in CSV, ``conflicting_duplicate`` only in the
search log, the only kind with an ``event_id``); exact duplicates are drawn by the writer.
``field_too_long`` is written at most once per file to keep the data small. Invalid UTF-8 is made
with lone surrogates that the writer encodes with ``surrogateescape`` into raw bytes (0xff, or
0xc3 followed by an ASCII byte).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from components.common.contract import DEFECTS, RULES, Kind

LONG_FIELD_CHARS = 120_000  # over the contract's 100,000-character limit
BAD_BYTES = ("\udcff", "\udcc3(", "\udce9t\udce9")  # 0xff; 0xc3 + '('; latin-1 'été'
CONTROLS = ("\x00", "\x01", "\x07", "\x0b", "\x1b", "\x1f", "\x7f")  # never TAB/LF/CR: CSV lines stay whole
RAW = "\x00raw\x00"  # sentinel: the number literal that follows is written verbatim

# Every defect class of a kind that makes a dirty line, in contract order (exact duplicates: the writer).
CYCLES: dict[Kind, tuple[str, ...]] = {
    kind: tuple(d.name for d in DEFECTS if kind in d.kinds and d.name != "exact_duplicate") for kind in Kind
}
REASON_OF = {d.name: d.reason for d in DEFECTS}
TS_FIELD = {Kind.SEARCH_LOG: "ts", Kind.VIDEOS: "published_at", Kind.JUDGEMENTS: "ts"}
TEXT_FIELD = {Kind.SEARCH_LOG: "query", Kind.VIDEOS: "description", Kind.JUDGEMENTS: "query"}
CONTROL_FIELDS = {Kind.SEARCH_LOG: ("query", "video_url", "session_id"), Kind.VIDEOS: ("title", "channel", "video_url")}
BLANK_FIELDS = {Kind.SEARCH_LOG: ("event_id", "session_id"), Kind.VIDEOS: ("title", "channel")}
BLANKS = ("", " ", "   ", "\t", " \t ", "\u3000", "\u00a0 ")
INT_FIELDS = {Kind.SEARCH_LOG: ("position", "dwell_ms")}
NUMBER_FIELD = {Kind.SEARCH_LOG: "position", Kind.VIDEOS: "duration_s"}


def _bad_timestamp(rng: random.Random, ts: str) -> str:
    date, _, time = ts.partition("T")
    return rng.choice(
        (
            f"2026-02-30T{time}",
            f"{date[:4]}-13-{date[8:10]}T{time}",
            f"{date}T25:61:00Z",
            f"{date}T{time[:2]}:{time[3:5]}:61+00:00",
            "yesterday at noon",
            f"0001-{date[5:]}T{time}",
        )
    )


def _zoneless(ts: str) -> str:
    for i in range(len(ts) - 1, 9, -1):
        if ts[i] in "Z+-":
            return ts[:i]
    return ts


def _parts(url: str) -> tuple[str, str, str]:
    """(scheme, host, path with query) of a generated URL."""
    scheme, rest = url.split("://", 1)
    cut = rest.index("/") if "/" in rest else len(rest)
    return scheme, rest[:cut], rest[cut:]


def bad_url(rng: random.Random, url: str, defect: str) -> str:
    """A spelling of `url` that the contract rejects as invalid_url, of one defect class."""
    scheme, host, path = _parts(url)
    bare = host.lower().removeprefix("www.")
    choices = {
        "url_bad_scheme": (f"ftp://{host}{path}", f"javascript:alert('{path}')", f"mailto:abuse@{bare}", f"{bare}{path}"),
        "url_no_host": (f"{scheme}:///{path.lstrip('/')}", f"{scheme}://www.{path}", f"{scheme}://:443{path}",
                        f"{scheme}://user@{path}"),
        "url_broken_separator": (f"{scheme}:/{host}{path}", f"{scheme}//{host}{path}", f"{scheme}:\\\\{host}{path}",
                                 f"http://{scheme}://{host}{path}", f"{scheme}:{host}{path}"),
        "url_illegal_host": (f"{scheme}://{bare.replace('.', '_', 1)}{path}", f"{scheme}://{bare.replace('.', '!.', 1)}{path}",
                             f"{scheme}://{host}:99999{path}", f"{scheme}://-{bare}{path}", f"{scheme}://{bare}..{path}"),
    }[defect]
    return rng.choice(choices)


def _long_text(text: str) -> str:
    pad = " lorem ipsum dolor sit amet"
    return (text + pad * (LONG_FIELD_CHARS // len(pad) + 1))[:LONG_FIELD_CHARS]


def _inject(rng: random.Random, text: str, options: tuple[str, ...]) -> str:
    cut = rng.randrange(len(text) + 1)
    return text[:cut] + rng.choice(options) + text[cut:]


def _dumps(row: dict[str, Any], raw: str | None = None) -> str:
    """The JSON line of `row`; a field set to RAW is written as the literal `raw`."""
    return json.dumps(row, ensure_ascii=False).replace(json.dumps(RAW), raw or "")


def _required(kind: Kind) -> list[str]:
    return [r.name for r in RULES[kind] if not r.nullable]


def _json_field_defect(rng: random.Random, kind: Kind, row: dict[str, Any], defect: str) -> str | None:
    """Apply a field-level defect to `row` in place; a returned text replaces the rendering."""
    sl = kind is Kind.SEARCH_LOG
    if defect == "bad_bytes":
        field = TEXT_FIELD[kind] if sl or rng.random() < 0.5 else "title"
        row[field] = _inject(rng, row[field], BAD_BYTES)
    elif defect == "missing_field":
        del row[rng.choice(_required(kind))]
    elif defect == "null_field":
        row[rng.choice(_required(kind))] = None
    elif defect == "number_as_string":
        name = NUMBER_FIELD[kind]
        row[name] = str(row[name])
    elif defect == "bool_as_number":
        row["clicked"] = int(row["clicked"])
    elif defect == "bool_as_string":
        row["clicked"] = rng.choice((str(row["clicked"]).lower(), "yes", "no"))
    elif defect == "string_as_number":
        row[rng.choice(("session_id", "event_id") if sl else ("title", "channel"))] = rng.randrange(1, 10**6)
    elif defect == "fraction_for_int":
        row["position"] += 0.5
    elif defect == "not_a_string_list":
        row["tags"] = rng.choice((", ".join(row["tags"]), [*row["tags"], 7], [*row["tags"], None], {"tag": "x"}))
    elif defect == "field_too_long":
        row[TEXT_FIELD[kind]] = _long_text(row[TEXT_FIELD[kind]])
    elif defect == "control_character":
        field = rng.choice(CONTROL_FIELDS[kind])
        row[field] = _inject(rng, row[field], CONTROLS + ("\n", "\r"))
    elif defect == "blank_field":
        if kind is Kind.VIDEOS and rng.random() < 0.25:
            row["tags"] = [*row["tags"], rng.choice(BLANKS)]
        else:
            row[rng.choice(BLANK_FIELDS[kind])] = rng.choice(BLANKS)
    elif defect == "empty_query":
        row["query"] = rng.choice(BLANKS)
    elif defect == "invalid_timestamp":
        row[TS_FIELD[kind]] = _bad_timestamp(rng, row[TS_FIELD[kind]])
    elif defect == "missing_timezone":
        row[TS_FIELD[kind]] = _zoneless(row[TS_FIELD[kind]])
    elif defect.startswith("url_"):
        row["video_url"] = bad_url(rng, row["video_url"], defect)
    elif defect == "below_minimum":
        if sl and row["dwell_ms"] is not None and rng.random() < 0.5:
            row["dwell_ms"] = -row["dwell_ms"] - 1
        elif sl:
            row["position"] = rng.choice((0, -1, -7))
        else:
            row["duration_s"] = -rng.randrange(1, 600)
    elif defect == "numeric_overflow":
        name = NUMBER_FIELD[kind] if not sl or rng.random() < 0.5 else "dwell_ms"
        row[name] = RAW
        return _dumps(row, rng.choice(("1e20", "99999999999", "1e400", "123456789012345678901234567890")))
    else:
        raise ValueError(f"defect {defect} cannot be injected into a {kind} JSON line")
    return None


LINE_DEFECTS: dict[str, Callable[[random.Random, str, dict[str, Any]], str]] = {
    "truncated_json": lambda rng, text, row: text[: rng.randrange(1, len(text) - 1)],
    "trailing_garbage": lambda rng, text, row: text + rng.choice((" xyz", "]", "}", " {}", ",1", ' "tail"', "\x00")),
    "single_quotes": lambda rng, text, row: text.replace('"', "'"),  # a Python repr, not JSON
    "json_comment": lambda rng, text, row: rng.choice((text + " // checked", "/* export v2 */ " + text,
                                                       text.replace(", ", ", /* c */ ", 1))),
    "duplicate_key": lambda rng, text, row: text[:-1] + ", " + json.dumps({"video_url": row["video_url"]})[1:],
    "not_an_object": lambda rng, text, row: rng.choice((json.dumps(list(row.values()), ensure_ascii=False),
                                                        json.dumps(text, ensure_ascii=False))),
}


def corrupt_json(rng: random.Random, kind: Kind, row: dict[str, Any], defect: str) -> str:
    """The text of one JSONL line derived from a clean `row` (a copy) with exactly one defect."""
    row = dict(row)
    if defect in LINE_DEFECTS:
        return LINE_DEFECTS[defect](rng, json.dumps(row, ensure_ascii=False), row)
    if defect == "non_finite_number":
        row[NUMBER_FIELD[kind]] = RAW
        return _dumps(row, rng.choice(("NaN", "Infinity", "-Infinity")))
    text = _json_field_defect(rng, kind, row, defect)
    return text if text is not None else json.dumps(row, ensure_ascii=False)


def corrupt_csv(rng: random.Random, fields: list[str], defect: str) -> list[str] | str:
    """A judgement CSV row (query, video_url, label, annotator, ts) with exactly one defect; a str
    is the line itself (quoting errors cannot be written through the csv module)."""
    query, url, label, annotator, ts = fields
    if defect == "column_count":
        return fields[:-1] if rng.random() < 0.5 else [*fields, rng.choice(("extra", "2", "note: re-check"))]
    if defect == "unterminated_quote":
        return f'"{query},{url},{label},{annotator},{ts}'
    if defect == "bad_bytes":
        query = _inject(rng, query, BAD_BYTES)
    elif defect == "null_field":
        i = rng.randrange(5)
        return [*fields[:i], "", *fields[i + 1 :]]
    elif defect == "number_as_string":
        label = rng.choice(("high", "relevant", "two", "2/3", "#2", " 2"))
    elif defect == "fraction_for_int":
        label = rng.choice(("1.5", "2.5", "0.1"))
    elif defect == "field_too_long":
        query = _long_text(query)
    elif defect == "control_character":
        if rng.random() < 0.5:  # NUL aside: a CSV line holding it cannot be split (a line-level rejection)
            query = _inject(rng, query, CONTROLS[1:])
        else:
            annotator = _inject(rng, annotator, CONTROLS[1:])
    elif defect == "blank_field":
        annotator = rng.choice(BLANKS[1:])  # an empty cell is null_field
    elif defect == "empty_query":
        query = rng.choice(BLANKS[1:])
    elif defect == "invalid_timestamp":
        ts = _bad_timestamp(rng, ts)
    elif defect == "missing_timezone":
        ts = _zoneless(ts)
    elif defect.startswith("url_"):
        url = bad_url(rng, url, defect)
    elif defect == "below_minimum":
        label = rng.choice(("-1", "-3"))
    elif defect == "numeric_overflow":
        label = rng.choice(("4", "9", "10", "1e3", "99999999999999999999"))
    else:
        raise ValueError(f"defect {defect} cannot be injected into a judgement CSV row")
    return [query, url, label, annotator, ts]
