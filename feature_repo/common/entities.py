"""Entities: the join keys every ranking feature hangs on (ids from components.etl.normalize)."""

from feast import Entity, ValueType

query = Entity(
    name="query",
    join_keys=["query_id"],
    value_type=ValueType.STRING,
    description="A normalised search query; query_id = sha1(normalize_query(text))[:16].",
    owner="search-relevance@rankops.dev",
    tags={"team": "search-relevance"},
)

video = Entity(
    name="video",
    join_keys=["video_id"],
    value_type=ValueType.STRING,
    description="A catalogue video; video_id = sha1(canonical URL)[:16].",
    owner="search-relevance@rankops.dev",
    tags={"team": "search-relevance"},
)
