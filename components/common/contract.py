"""The data contract between stages: raw input kinds and their field table, quarantine reasons,
the defect classes the contract rejects, lakehouse tables.

Raw input (see README "Input contract"): a data directory with ``search_log/*.jsonl``,
``videos/*.jsonl`` and ``judgements/*.csv``, in any sub-folders (one per ingest batch). ``RULES``
is the one statement of what a valid raw row is: silver's checks (``parse.py``) are all read
from it, and the synthetic generator and the property tests derive their rows from it.
Every gold table is Feast-ready: entity keys plus an ``event_timestamp`` (UTC) that says
from when the row's values were known.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """The three kinds of raw files."""

    SEARCH_LOG = "search_log"
    VIDEOS = "videos"
    JUDGEMENTS = "judgements"


KIND_SUFFIX = {Kind.SEARCH_LOG: ".jsonl", Kind.VIDEOS: ".jsonl", Kind.JUDGEMENTS: ".csv"}


class Reason(StrEnum):
    """Machine-readable quarantine reasons; every rejected row carries exactly one."""

    INVALID_UTF8 = "invalid_utf8"  # the line's bytes are not UTF-8
    MALFORMED_JSON = "malformed_json"  # not one complete RFC 8259 JSON value (see parse.py)
    NOT_AN_OBJECT = "not_an_object"  # valid JSON that is not an object (list, string, number)
    MALFORMED_CSV = "malformed_csv"  # a CSV row whose quoting does not parse (unterminated quote)
    CSV_COLUMN_COUNT = "csv_column_count"  # a CSV row with more or fewer columns than its header
    MISSING_FIELD = "missing_field"  # a field of the table is absent
    NULL_FIELD = "null_field"  # null (an empty CSV cell) where the table does not allow it
    WRONG_TYPE = "wrong_type"  # a value of another JSON type than the table's (no coercion but the rules below)
    FIELD_TOO_LONG = "field_too_long"  # more characters than the field's limit
    CONTROL_CHARACTER = "control_character"  # a C0 control or DEL the field does not allow
    BLANK_FIELD = "blank_field"  # empty or whitespace-only where the table does not allow it
    EMPTY_QUERY = "empty_query"  # a query that is empty or whitespace-only (its normal form is "")
    INVALID_TIMESTAMP = "invalid_timestamp"  # unparsable or impossible (2026-02-30, year 0001)
    MISSING_TIMEZONE = "missing_timezone"  # ISO-8601 without a zone
    INVALID_URL = "invalid_url"  # not a URL normalize.canonicalize_url can turn into host/path
    OUT_OF_RANGE = "out_of_range"  # a number outside the field's range (overflow included)
    CONFLICTING_DUPLICATE = "conflicting_duplicate"  # same event_id, different content


class FieldType(StrEnum):
    """The JSON type a field must have, and what it becomes in silver."""

    STRING = "string"  # JSON string -> string
    URL = "url"  # JSON string -> string, plus canonical_url and video_id
    TIMESTAMP = "timestamp"  # JSON string, ISO-8601 with a zone -> UTC timestamp
    INT = "int"  # JSON number with an integral value (2, 2.0, 2e0) -> int / bigint
    NUMBER = "number"  # JSON number -> double
    BOOL = "bool"  # JSON true / false -> boolean
    STRING_LIST = "string_list"  # JSON array of strings (may be empty) -> array<string>


class Chars(StrEnum):
    """Which characters a text field allows: all of Unicode except the controls named here."""

    LINE = "line"  # one line: no C0 control but TAB, no DEL
    TEXT = "text"  # free text: no C0 control but TAB, LF, CR, no DEL


# A regex character class of the characters each Chars value forbids (Python `re` syntax).
FORBIDDEN = {Chars.LINE: "[\x00-\x08\x0a-\x1f\x7f]", Chars.TEXT: "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"}
TS_MIN, TS_MAX = "1990-01-01T00:00:00+00:00", "2100-01-01T00:00:00+00:00"  # [min, max): outside is impossible


@dataclass(frozen=True)
class FieldRule:
    """One field of a raw kind: every silver check of the field is read from here.

    Unknown extra fields are accepted and dropped. ``blank``: whether an empty or whitespace-only
    string is allowed (``blank_reason`` when not). ``allowed`` closes a string field (each element of a list) to a set
of values. ``max_chars``
    caps a text field (each element of a list) below the configured ``etl.max_field_chars``,
    which caps every text field. ``minimum``/``maximum`` bound a number, both inclusive.
    ``sql`` is the silver column type.
    """

    name: str
    type: FieldType
    required: bool = True  # absent -> missing_field; an optional field absent reads as null
    nullable: bool = False
    blank: bool = False
    minimum: int | float | None = None
    maximum: int | float | None = None
    max_chars: int | None = None
    chars: Chars = Chars.LINE
    blank_reason: Reason = Reason.BLANK_FIELD
    sql: str = "string"
    allowed: tuple[str, ...] | None = None  # a string (each list element) must be one of these, else out_of_range


ID_CHARS = 1_000  # event, session and annotator ids
URL_CHARS = 8_192
T = FieldType
RULES: dict[Kind, tuple[FieldRule, ...]] = {
    Kind.SEARCH_LOG: (
        FieldRule("event_id", T.STRING, max_chars=ID_CHARS),
        FieldRule("ts", T.TIMESTAMP, sql="timestamp"),
        FieldRule("session_id", T.STRING, max_chars=ID_CHARS),
        FieldRule("query", T.STRING, blank_reason=Reason.EMPTY_QUERY),
        FieldRule("video_url", T.URL, max_chars=URL_CHARS),
        FieldRule("position", T.INT, minimum=1, maximum=10_000, sql="int"),
        FieldRule("clicked", T.BOOL, sql="boolean"),
        FieldRule("dwell_ms", T.INT, nullable=True, minimum=0, maximum=86_400_000, sql="bigint"),  # <= one day
    ),
    Kind.VIDEOS: (
        FieldRule("video_url", T.URL, max_chars=URL_CHARS),
        FieldRule("title", T.STRING),
        FieldRule("description", T.STRING, blank=True, chars=Chars.TEXT),
        FieldRule("channel", T.STRING),
        FieldRule("duration_s", T.NUMBER, minimum=0, maximum=1_000_000, sql="double"),  # <= 11.6 days
        FieldRule("published_at", T.TIMESTAMP, sql="timestamp"),
        FieldRule("tags", T.STRING_LIST, sql="array<string>"),
    ),
    Kind.JUDGEMENTS: (
        FieldRule("query", T.STRING, blank_reason=Reason.EMPTY_QUERY),
        FieldRule("video_url", T.URL, max_chars=URL_CHARS),
        FieldRule("label", T.INT, minimum=0, maximum=3, sql="int"),
        FieldRule("annotator", T.STRING, max_chars=ID_CHARS),
        FieldRule("ts", T.TIMESTAMP, sql="timestamp"),
    ),
}
# The online ranker's logs (issue 17), two more raw kinds of the search contract, outside `Kind` (the
# generator and the defect catalogue cover the three offline kinds): one impression per response,
# and the clicks on it, joined back by request_id in silver (components/etl/impressions.py).
IMPRESSIONS, CLICKS = "impressions", "clicks"
MODES = ("champion", "shadow", "ab", "interleave")
ARMS = ("champion", "challenger")
IMPRESSION_RULES: tuple[FieldRule, ...] = (
    FieldRule("request_id", T.STRING, max_chars=ID_CHARS),
    FieldRule("ts", T.TIMESTAMP, sql="timestamp"),
    FieldRule("session_id", T.STRING, max_chars=ID_CHARS),
    FieldRule("query_id", T.STRING, nullable=True, max_chars=ID_CHARS),  # silver recomputes it from query
    FieldRule("query", T.STRING, blank_reason=Reason.EMPTY_QUERY),
    FieldRule("experiment", T.STRING, nullable=True, max_chars=ID_CHARS),
    FieldRule("mode", T.STRING, allowed=MODES),
    FieldRule("arm", T.STRING, nullable=True, allowed=ARMS),
    FieldRule("champion_version", T.STRING, max_chars=ID_CHARS),
    FieldRule("challenger_version", T.STRING, nullable=True, max_chars=ID_CHARS),
    FieldRule("video_ids", T.STRING_LIST, max_chars=ID_CHARS, sql="array<string>"),
    FieldRule("teams", T.STRING_LIST, nullable=True, allowed=ARMS, sql="array<string>"),
    FieldRule("latency_ms", T.NUMBER, minimum=0, maximum=3_600_000, sql="double"),  # <= one hour
    FieldRule("fallback", T.BOOL, sql="boolean"),
    FieldRule("fallback_reason", T.STRING, nullable=True, chars=Chars.TEXT),
)
CLICK_RULES: tuple[FieldRule, ...] = (
    FieldRule("request_id", T.STRING, max_chars=ID_CHARS),
    FieldRule("video_id", T.STRING, max_chars=ID_CHARS),
    FieldRule("position", T.INT, minimum=1, maximum=10_000, sql="int"),
    FieldRule("ts", T.TIMESTAMP, sql="timestamp"),
)
SILVER_IMPRESSION_POSITIONS = "silver/impression_positions"  # one row per served position, with its click

SEARCH_LOG_FIELDS = tuple(r.name for r in RULES[Kind.SEARCH_LOG])
VIDEO_FIELDS = tuple(r.name for r in RULES[Kind.VIDEOS])
JUDGEMENT_FIELDS = tuple(r.name for r in RULES[Kind.JUDGEMENTS])

# Deduplication: rows equal on the key are one event; equal on every field (typed) an exact duplicate.
DEDUP_KEY: dict[Kind, tuple[str, ...]] = {
    Kind.SEARCH_LOG: ("event_id",), Kind.VIDEOS: VIDEO_FIELDS, Kind.JUDGEMENTS: JUDGEMENT_FIELDS,
}
# Silver columns after the lineage columns: the fields plus the ids derived from query and URL.
SILVER_COLUMNS: dict[Kind, tuple[str, ...]] = {
    Kind.SEARCH_LOG: ("event_id", "ts", "session_id", "query", "query_norm", "query_id", "video_url",
                      "canonical_url", "video_id", "position", "clicked", "dwell_ms"),
    Kind.VIDEOS: ("video_id", "canonical_url", "video_url", "title", "description", "channel", "duration_s",
                  "published_at", "tags"),
    Kind.JUDGEMENTS: ("query", "query_norm", "query_id", "video_url", "canonical_url", "video_id", "label",
                      "annotator", "ts"),
}


@dataclass(frozen=True)
class Defect:
    """A class of bad input the contract rejects, with the reason it gets (None: a duplicate)."""

    name: str
    reason: Reason | None
    kinds: tuple[Kind, ...]
    example: str


JSONL, ALL = (Kind.SEARCH_LOG, Kind.VIDEOS), tuple(Kind)
DEFECTS: tuple[Defect, ...] = (
    Defect("bad_bytes", Reason.INVALID_UTF8, ALL, "0xff or a Latin-1 byte inside a line"),
    Defect("truncated_json", Reason.MALFORMED_JSON, JSONL, '{"event_id": "e1", "ts'),
    Defect("trailing_garbage", Reason.MALFORMED_JSON, JSONL, '{...} xyz, {...}], {...}{...}'),
    Defect("non_finite_number", Reason.MALFORMED_JSON, JSONL, '"duration_s": NaN / Infinity'),
    Defect("single_quotes", Reason.MALFORMED_JSON, JSONL, "{'video_url': ...}"),
    Defect("json_comment", Reason.MALFORMED_JSON, JSONL, '{...} // note, /* note */'),
    Defect("duplicate_key", Reason.MALFORMED_JSON, JSONL, '{"title": "a", "title": "b", ...}'),
    Defect("not_an_object", Reason.NOT_AN_OBJECT, JSONL, '["e1", ...] or "{...}"'),
    Defect("unterminated_quote", Reason.MALFORMED_CSV, (Kind.JUDGEMENTS,), '"rock,https://...'),
    Defect("column_count", Reason.CSV_COLUMN_COUNT, (Kind.JUDGEMENTS,), "a row with 4 or 6 columns"),
    Defect("missing_field", Reason.MISSING_FIELD, JSONL, "no session_id key"),
    Defect("null_field", Reason.NULL_FIELD, ALL, '"query": null, an empty CSV cell'),
    Defect("number_as_string", Reason.WRONG_TYPE, ALL, '"position": "3", label "two"'),
    Defect("bool_as_number", Reason.WRONG_TYPE, (Kind.SEARCH_LOG,), '"clicked": 1'),
    Defect("bool_as_string", Reason.WRONG_TYPE, (Kind.SEARCH_LOG,), '"clicked": "true"'),
    Defect("string_as_number", Reason.WRONG_TYPE, JSONL, '"title": 42'),
    Defect("fraction_for_int", Reason.WRONG_TYPE, (Kind.SEARCH_LOG, Kind.JUDGEMENTS), '"position": 2.5, label 1.5'),
    Defect("not_a_string_list", Reason.WRONG_TYPE, (Kind.VIDEOS,), '"tags": "a, b" or ["a", 1] or ["a", null]'),
    Defect("field_too_long", Reason.FIELD_TOO_LONG, ALL, "a description over etl.max_field_chars"),
    Defect("control_character", Reason.CONTROL_CHARACTER, ALL, "U+0001 in a query, U+007F in a title, LF in a URL"),
    Defect("blank_field", Reason.BLANK_FIELD, ALL, '"session_id": "  ", a blank annotator or title'),
    Defect("empty_query", Reason.EMPTY_QUERY, (Kind.SEARCH_LOG, Kind.JUDGEMENTS), '"query": " \t "'),
    Defect("invalid_timestamp", Reason.INVALID_TIMESTAMP, ALL, "2026-02-30T10:00:00Z, yesterday"),
    Defect("missing_timezone", Reason.MISSING_TIMEZONE, ALL, "2026-01-01T10:00:00"),
    Defect("url_bad_scheme", Reason.INVALID_URL, ALL, "ftp://..., javascript:..., mailto:..."),
    Defect("url_no_host", Reason.INVALID_URL, ALL, "https:///watch?v=1, https://www./v/1"),
    Defect("url_broken_separator", Reason.INVALID_URL, ALL, "https:/host/v/1, https//host/v/1, https://https://host"),
    Defect("url_illegal_host", Reason.INVALID_URL, ALL, "https://vid_hub!.example/v/1, https://host:99999/v/1"),
    Defect("below_minimum", Reason.OUT_OF_RANGE, ALL, "position 0, dwell_ms -1, label -1"),
    Defect("numeric_overflow", Reason.OUT_OF_RANGE, ALL, "duration_s 1e20, position 99999999999, label 10"),
    Defect("conflicting_duplicate", Reason.CONFLICTING_DUPLICATE, (Kind.SEARCH_LOG,), "an event_id re-sent edited"),
    Defect("exact_duplicate", None, ALL, "the same row twice (counted as a duplicate, kept once)"),
)
DEFECT_NAMES = tuple(d.name for d in DEFECTS)


class FileDefect(StrEnum):
    """Files under the input directory the contract does not take: listed as ignored, never read."""

    OUTSIDE_KIND_FOLDER = "outside_kind_folder"  # not directly inside search_log/, videos/ or judgements/
    WRONG_EXTENSION = "wrong_extension"  # e.g. .json, .txt, .tsv
    COMPRESSED = "compressed"  # .gz/.bz2/.xz/.zst/.zip by name, or gzip/zip/... content under a contract name
    NOT_UTF8_TEXT = "not_utf8_text"  # a UTF-16/UTF-32 byte-order mark, or NUL bytes (UTF-16 without BOM, binary)
    EMPTY = "empty"  # 0 bytes
    UNREADABLE = "unreadable"  # permission or I/O error


# Lakehouse tables (SnapshotStore names). Bronze keeps raw lines; silver is typed; gold is Feast-ready.
BRONZE_TABLES = {k: f"bronze/{k.value}" for k in Kind}
SILVER_TABLES = {k: f"silver/{k.value}" for k in Kind}
QUARANTINE_TABLE = "silver/quarantine"

GOLD_QUERY = "gold/query_features"
GOLD_VIDEO = "gold/video_features"
GOLD_QUERY_VIDEO = "gold/query_video_features"
GOLD_LABELS = "gold/labels"
GOLD_TABLES = (GOLD_QUERY, GOLD_VIDEO, GOLD_QUERY_VIDEO, GOLD_LABELS)

# Gold columns (name -> Spark SQL type). Daily rows: stats are cumulative up to the end of a day
# with activity, and event_timestamp is that day's end (the moment the values became known).
GOLD_SCHEMAS: dict[str, dict[str, str]] = {
    GOLD_QUERY: {
        "query_id": "string",
        "event_timestamp": "timestamp",
        "query_text": "string",
        "query_num_tokens": "int",
        "query_impressions": "bigint",
        "query_clicks": "bigint",
        "query_ctr": "double",
        "query_sessions": "bigint",
    },
    GOLD_VIDEO: {
        "video_id": "string",
        "event_timestamp": "timestamp",
        "canonical_url": "string",
        "title": "string",
        "description": "string",
        "channel": "string",
        "duration_s": "double",
        "video_age_days": "double",
        "tag_count": "int",
        "video_impressions": "bigint",
        "video_clicks": "bigint",
        "video_ctr": "double",
    },
    GOLD_QUERY_VIDEO: {
        "query_id": "string",
        "video_id": "string",
        "event_timestamp": "timestamp",
        "qv_impressions": "bigint",
        "qv_clicks": "bigint",
        "qv_ctr": "double",
        "qv_mean_position": "double",
        "qv_mean_dwell_ms": "double",
        "qv_debiased_ctr": "double",
    },
    GOLD_LABELS: {
        "query_id": "string",
        "video_id": "string",
        "event_timestamp": "timestamp",
        "query_text": "string",
        "label": "int",
        "split": "string",  # train | validation | test, assigned by query_id
    },
}

SPLITS = ("train", "validation", "test")

# Columns of a training set / scoring frame besides the numeric features of the feature service.
TEXT_COLUMNS = ("query_text", "title", "description")
