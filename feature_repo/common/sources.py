"""Sources on the gold tables of the lakehouse.

`path` names the gold TABLE, not a file: `rankops features apply` binds each source to the
table's latest published snapshot (and to a SparkSource on cluster profiles) and records the
snapshot id in the registered source's tags. Nothing here depends on a machine or a profile.
"""

from feast import FileSource

GOLD_TABLE_TAG = "rankops.gold_table"


def gold_source(table: str, description: str) -> FileSource:
    """A source over one gold table; event_timestamp says from when a row's values were known."""
    return FileSource(
        name=table.replace("/", "_"),
        path=table,
        timestamp_field="event_timestamp",
        description=description,
        owner="data-platform@rankops.dev",
        tags={GOLD_TABLE_TAG: table, "layer": "gold"},
    )


query_source = gold_source("gold/query_features", "Daily cumulative query statistics.")
video_source = gold_source("gold/video_features", "Video catalogue fields and daily cumulative engagement.")
query_video_source = gold_source("gold/query_video_features", "Daily cumulative query-video interaction stats.")
