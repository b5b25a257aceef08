"""The online ranker's impression log and clicks as raw kinds, and their join back by request id.

Two kinds of the search contract (fields in `contract.IMPRESSION_RULES` / `CLICK_RULES`):
``impressions/*.jsonl`` (one line per ranker response) and ``clicks/*.jsonl`` (one line per
click on a served video). Bronze, silver checks, quarantine and accounting are the ETL's own,
as for every kind; this module adds what is particular to them: the checks across fields of an
impression, and ``silver/impression_positions``, the impressions exploded into one row per
served position with the clicks joined back by ``request_id`` (what an experiment report counts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.common import contract as C
from components.etl.contracts import KindSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from components.common.snapshots import Snapshot, SnapshotStore

Reason = C.Reason
IMPRESSION_COLUMNS = (*(r.name for r in C.IMPRESSION_RULES[:5]), "query_norm",
                      *(r.name for r in C.IMPRESSION_RULES[5:]))
CLICK_COLUMNS = tuple(r.name for r in C.CLICK_RULES)
POSITION_COLUMNS = ("request_id", "ts", "session_id", "query_id", "experiment", "mode", "arm", "champion_version",
                    "challenger_version", "fallback", "position", "video_id", "team", "clicked", "clicks",
                    "first_click_ts")


def check_impression(row: dict[str, Any]) -> tuple[Reason, str] | None:
    """What the field table cannot say: interleaving names one team per served video, unless the
    challenger failed (a fallback serves the champion's list: no team to credit), and only
    interleaving has teams; an A/B response names its arm."""
    mode, teams, videos = row["mode"], row["teams"], row["video_ids"]
    if mode == "interleave":
        if teams is None:
            if row["fallback"]:
                return None
            return Reason.NULL_FIELD, "teams: null in interleave mode without a fallback (one team per served video)"
        if len(teams) != len(videos):
            return Reason.OUT_OF_RANGE, f"teams: {len(teams)} teams for {len(videos)} video_ids"
    elif teams is not None:
        return Reason.OUT_OF_RANGE, f"teams: given in {mode} mode (interleave only)"
    if mode == "ab" and row["arm"] is None:
        return Reason.NULL_FIELD, "arm: null in ab mode"
    return None


IMPRESSION_KINDS = (
    KindSpec(C.IMPRESSIONS, ".jsonl", C.IMPRESSION_RULES, IMPRESSION_COLUMNS, ("request_id",),
             row_check=check_impression),
    KindSpec(C.CLICKS, ".jsonl", C.CLICK_RULES, CLICK_COLUMNS, CLICK_COLUMNS),
)
SILVER_IMPRESSIONS, SILVER_CLICKS = (f"silver/{k.name}" for k in IMPRESSION_KINDS)
IMPRESSION_RANGES: dict[str, dict[str, tuple[float | None, float | None]]] = {
    SILVER_IMPRESSIONS: {"latency_ms": (0, None)}, SILVER_CLICKS: {"position": (1, None)},
}
IMPRESSION_NULLABLE = {
    SILVER_IMPRESSIONS: {r.name for r in C.IMPRESSION_RULES if r.nullable} - {"query_id"},
    SILVER_CLICKS: set(),
}


def to_impression_positions(impressions: DataFrame, clicks: DataFrame) -> DataFrame:
    """One row per served position of every impression, with its clicks (joined on request_id and
    video_id; a click on a video the response did not serve joins nothing and stays in silver/clicks)."""
    from pyspark.sql import functions as F

    served = impressions.select(
        *POSITION_COLUMNS[:10], F.posexplode("video_ids").alias("_i", "video_id"), "teams",
    ).select(
        *POSITION_COLUMNS[:10], (F.col("_i") + 1).cast("int").alias("position"), "video_id",
        F.when(F.col("teams").isNotNull(), F.element_at("teams", F.col("_i") + 1)).alias("team"),
    )
    per_video = clicks.groupBy("request_id", "video_id").agg(
        F.count(F.lit(1)).alias("clicks"), F.min("ts").alias("first_click_ts"))
    joined = served.join(per_video, ["request_id", "video_id"], "left")
    return joined.select(
        *POSITION_COLUMNS[:-3],  # all but clicked, clicks, first_click_ts
        F.col("clicks").isNotNull().alias("clicked"),
        F.coalesce("clicks", F.lit(0)).cast("bigint").alias("clicks"),
        "first_click_ts",
    )


def write_impression_positions(spark: Any, store: SnapshotStore, silver: dict[str, Snapshot]) -> dict[str, Snapshot]:
    """``silver/impression_positions`` as a snapshot (unpublished) from the silver snapshots of both kinds."""
    if SILVER_IMPRESSIONS not in silver or SILVER_CLICKS not in silver:
        return {}
    frame = to_impression_positions(store.read_spark(spark, silver[SILVER_IMPRESSIONS]),
                                    store.read_spark(spark, silver[SILVER_CLICKS]))
    parents = {t: silver[t].ref for t in (SILVER_IMPRESSIONS, SILVER_CLICKS)}
    return {C.SILVER_IMPRESSION_POSITIONS: store.write(C.SILVER_IMPRESSION_POSITIONS, frame, parents=parents)}


def published_positions(store: SnapshotStore, snaps: dict[str, Snapshot]) -> dict[str, Snapshot]:
    """On a run that reuses the published state: the published ``silver/impression_positions`` beside it."""
    from components.etl.gate import latest_or_none

    if SILVER_IMPRESSIONS not in snaps or SILVER_CLICKS not in snaps:
        return {}
    published = latest_or_none(store, C.SILVER_IMPRESSION_POSITIONS)
    return {} if published is None else {C.SILVER_IMPRESSION_POSITIONS: published}
