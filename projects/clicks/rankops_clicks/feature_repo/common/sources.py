"""Sources on the project's gold tables: `path` names a TABLE; `rankops features apply` binds it to the
table's latest published snapshot (tag rankops.gold_table)."""

from feast import FileSource


def gold_source(table: str, description: str) -> FileSource:
    return FileSource(name=table.replace("/", "_"), path=table, timestamp_field="event_timestamp",
                      description=description, tags={"rankops.gold_table": table, "layer": "gold"})


query_source = gold_source("gold/clicks_queries", "Daily cumulative query impressions and clicks.")
video_source = gold_source("gold/clicks_videos", "Catalogue fields and daily cumulative video engagement.")
pair_source = gold_source("gold/clicks_pairs", "Daily cumulative impressions and clicks of a query-video pair.")
