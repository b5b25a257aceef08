"""The data contract between stages: raw input kinds, quarantine reasons, lakehouse tables.

Raw input (see README "Input contract"): a data directory with ``search_log/*.jsonl``,
``videos/*.jsonl`` and ``judgements/*.csv``, in any sub-folders (one per ingest batch).
Every gold table is Feast-ready: entity keys plus an ``event_timestamp`` (UTC) that says
from when the row's values were known.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """The three kinds of raw files."""

    SEARCH_LOG = "search_log"
    VIDEOS = "videos"
    JUDGEMENTS = "judgements"


KIND_SUFFIX = {Kind.SEARCH_LOG: ".jsonl", Kind.VIDEOS: ".jsonl", Kind.JUDGEMENTS: ".csv"}

SEARCH_LOG_FIELDS = ("event_id", "ts", "session_id", "query", "video_url", "position", "clicked", "dwell_ms")
VIDEO_FIELDS = ("video_url", "title", "description", "channel", "duration_s", "published_at", "tags")
JUDGEMENT_FIELDS = ("query", "video_url", "label", "annotator", "ts")


class Reason(StrEnum):
    """Machine-readable quarantine reasons; every rejected row carries exactly one."""

    INVALID_UTF8 = "invalid_utf8"  # the line's bytes are not UTF-8
    MALFORMED_JSON = "malformed_json"  # truncated or otherwise unparsable JSON
    NOT_AN_OBJECT = "not_an_object"  # valid JSON that is not an object (list, string, number)
    MISSING_FIELD = "missing_field"  # a required field is absent
    NULL_FIELD = "null_field"  # a required field is null (dwell_ms may be null)
    WRONG_TYPE = "wrong_type"  # e.g. position "3rd", clicked "yes", tags not a list
    OUT_OF_RANGE = "out_of_range"  # position < 1, label not in 0..3, negative dwell or duration
    INVALID_TIMESTAMP = "invalid_timestamp"  # unparsable or impossible (2026-02-30, year 0001)
    MISSING_TIMEZONE = "missing_timezone"  # ISO-8601 without a zone
    INVALID_URL = "invalid_url"  # not http(s), or no host
    EMPTY_QUERY = "empty_query"  # the query is empty after normalisation
    FIELD_TOO_LONG = "field_too_long"  # a field over etl.max_field_chars characters
    CSV_COLUMN_COUNT = "csv_column_count"  # a CSV row with too few or too many columns
    CONFLICTING_DUPLICATE = "conflicting_duplicate"  # same event_id, different content


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
