"""The project's data contract: which raw files it reads, what a valid row is, what gold it builds.

It reads the platform's raw search logs (`search_log/*.jsonl`) and catalogue (`videos/*.jsonl`);
judgements are not part of it (a judgements folder is listed as ignored). Its own rules: an
impression needs no dwell time (extra fields such as `dwell_ms` are dropped) and a position is at
most 50 (a results page); the catalogue needs a title, description, duration and publication
time. Rows are checked, quarantined with their reason, counted and deduplicated by the
platform's ETL with the same rules and reasons as every contract (`components/common/contract.py`).
"""

from components.common.contract import ID_CHARS, URL_CHARS, Chars, FieldRule, FieldType, Reason
from components.etl.contracts import Contract, KindSpec

from . import NAME

T = FieldType
QUERIES, VIDEOS, PAIRS, IMPRESSIONS = (f"gold/{NAME}_{table}" for table in ("queries", "videos", "pairs", "impressions"))
MAX_POSITION = 50

SEARCH_LOG = KindSpec(
    name="search_log",
    suffix=".jsonl",
    rules=(
        FieldRule("event_id", T.STRING, max_chars=ID_CHARS),
        FieldRule("ts", T.TIMESTAMP, sql="timestamp"),
        FieldRule("session_id", T.STRING, max_chars=ID_CHARS),
        FieldRule("query", T.STRING, blank_reason=Reason.EMPTY_QUERY),
        FieldRule("video_url", T.URL, max_chars=URL_CHARS),
        FieldRule("position", T.INT, minimum=1, maximum=MAX_POSITION, sql="int"),
        FieldRule("clicked", T.BOOL, sql="boolean"),
    ),
    silver_columns=("event_id", "ts", "session_id", "query", "query_norm", "query_id", "video_url", "canonical_url",
                    "video_id", "position", "clicked"),
    dedup_key=("event_id",),  # one impression per event id; the same id with other content is a conflict
)
CATALOGUE = KindSpec(
    name="videos",
    suffix=".jsonl",
    rules=(
        FieldRule("video_url", T.URL, max_chars=URL_CHARS),
        FieldRule("title", T.STRING),
        FieldRule("description", T.STRING, blank=True, chars=Chars.TEXT),
        FieldRule("duration_s", T.NUMBER, minimum=0, maximum=1_000_000, sql="double"),
        FieldRule("published_at", T.TIMESTAMP, sql="timestamp"),
    ),
    silver_columns=("video_id", "canonical_url", "video_url", "title", "description", "duration_s", "published_at"),
    dedup_key=("video_url", "title", "description", "duration_s", "published_at"),
)

# Gold: daily cumulative query, video and (query, video) statistics stamped at the end of the day
# (what was known then), and one row per impression: the training set's entity rows, labelled
# clicked or not.
GOLD_SCHEMAS: dict[str, dict[str, str]] = {
    QUERIES: {"query_id": "string", "event_timestamp": "timestamp", "query_text": "string", "query_num_tokens": "int",
              "query_impressions": "bigint", "query_clicks": "bigint", "query_ctr": "double"},
    VIDEOS: {"video_id": "string", "event_timestamp": "timestamp", "title": "string", "description": "string",
             "duration_s": "double", "video_age_days": "double", "video_impressions": "bigint",
             "video_clicks": "bigint", "video_ctr": "double", "video_mean_position": "double"},
    PAIRS: {"query_id": "string", "video_id": "string", "event_timestamp": "timestamp", "pair_impressions": "bigint",
            "pair_clicks": "bigint", "pair_ctr": "double", "pair_mean_position": "double"},
    IMPRESSIONS: {"event_id": "string", "query_id": "string", "video_id": "string", "event_timestamp": "timestamp",
                  "query_text": "string", "position": "int", "label": "int", "split": "string"},
}


def gold_checks(max_null_share: float) -> dict:
    """pandera expectations of each gold table (the quality gate fails the run on a breach)."""
    import pandera.pandas as pa

    from components.common.contract import SPLITS

    def col(*checks):
        return pa.Column(nullable=True, checks=[*checks, pa.Check(lambda s: s.isna().mean() <= max_null_share,
                                                                  name="null_share", ignore_na=False)])

    ids, prob, C = pa.Check.str_length(16, 16), pa.Check.in_range(0.0, 1.0), pa.Check
    return {
        QUERIES: pa.DataFrameSchema({
            "query_id": col(ids), "event_timestamp": col(), "query_text": col(C.str_length(min_value=1)),
            "query_num_tokens": col(C.ge(1)), "query_impressions": col(C.ge(1)), "query_clicks": col(C.ge(0)),
            "query_ctr": col(prob)}, unique=["query_id", "event_timestamp"], name=QUERIES),
        VIDEOS: pa.DataFrameSchema({
            "video_id": col(ids), "event_timestamp": col(), "title": col(C.str_length(min_value=1)),
            "description": col(), "duration_s": col(C.ge(0)), "video_age_days": col(C.ge(0)),
            "video_impressions": col(C.ge(0)), "video_clicks": col(C.ge(0)), "video_ctr": col(prob),
            "video_mean_position": col(C.in_range(0, MAX_POSITION))},
            checks=[C(lambda d: d["video_clicks"] <= d["video_impressions"], name="clicks_le_impressions")],
            unique=["video_id", "event_timestamp"], name=VIDEOS),
        PAIRS: pa.DataFrameSchema({
            "query_id": col(ids), "video_id": col(ids), "event_timestamp": col(), "pair_impressions": col(C.ge(1)),
            "pair_clicks": col(C.ge(0)), "pair_ctr": col(prob), "pair_mean_position": col(C.in_range(1, MAX_POSITION))},
            checks=[C(lambda d: d["pair_clicks"] <= d["pair_impressions"], name="clicks_le_impressions")],
            unique=["query_id", "video_id", "event_timestamp"], name=PAIRS),
        IMPRESSIONS: pa.DataFrameSchema({
            "event_id": col(C.str_length(min_value=1)), "query_id": col(ids), "video_id": col(ids),
            "event_timestamp": col(), "query_text": col(C.str_length(min_value=1)),
            "position": col(C.in_range(1, MAX_POSITION)), "label": col(C.isin([0, 1])), "split": col(C.isin(list(SPLITS)))},
            checks=[C(lambda d: d.groupby("query_id")["split"].transform("nunique") == 1, name="one_split_per_query")],
            unique=["event_id"], name=IMPRESSIONS),
    }


CONTRACT = Contract(
    name=NAME,
    kinds=(SEARCH_LOG, CATALOGUE),
    gold_schemas=GOLD_SCHEMAS,
    build_gold=f"{__package__}.gold:build_gold",
    gold_checks=gold_checks,
    labels_table=IMPRESSIONS,
    silver_ranges={"silver/search_log": {"position": (1, MAX_POSITION)}, "silver/videos": {"duration_s": (0, None)}},
    context_features={"position": 1.0},  # known at request time; serving scores as if shown first
    description="Impressions with clicks, and the catalogue -> query/video statistics and click labels.",
)
