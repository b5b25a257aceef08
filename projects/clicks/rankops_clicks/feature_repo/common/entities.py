"""Entities: the platform's ids (components.etl.normalize), so the project joins the same queries and videos."""

from feast import Entity, ValueType

query = Entity(name="query", join_keys=["query_id"], value_type=ValueType.STRING,
               description="A normalised search query; query_id = sha1(normalize_query(text))[:16].")
video = Entity(name="video", join_keys=["video_id"], value_type=ValueType.STRING,
               description="A catalogue video; video_id = sha1(canonical URL)[:16].")
