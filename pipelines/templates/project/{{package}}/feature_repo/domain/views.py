"""Feature views of the project; each numeric Field's `default` tag is what a model sees when it is missing."""

from datetime import timedelta

from common.entities import query, video
from common.sources import pair_source, query_source, video_source
from feast import FeatureView, Field
from feast.types import Float64, Int64, String


def numeric(name: str, dtype, description: str, default: float = 0.0) -> Field:
    return Field(name=name, dtype=dtype, description=description, tags={"default": repr(float(default))})


query_stats = FeatureView(
    name="query_stats", entities=[query], ttl=timedelta(days=30), source=query_source, online=True,
    schema=[
        Field(name="query_text", dtype=String, description="The normalised query text."),
        numeric("query_num_tokens", Int64, "Whitespace tokens of the normalised query."),
        numeric("query_impressions", Int64, "Impressions of the query before the day."),
        numeric("query_clicks", Int64, "Clicks on any result of the query."),
        numeric("query_ctr", Float64, "Clicks / impressions of the query."),
    ],
    description="How often and how successfully a query was searched.",
)

# Catalogue text never expires: a video's only row before an impression may be its listing row.
video_stats = FeatureView(
    name="video_stats", entities=[video], ttl=timedelta(0), source=video_source, online=True,
    schema=[
        Field(name="title", dtype=String, description="Video title from the catalogue."),
        Field(name="description", dtype=String, description="Video description from the catalogue."),
        numeric("duration_s", Float64, "Duration in seconds."),
        numeric("video_age_days", Float64, "Days since publication at the row's time."),
        numeric("video_impressions", Int64, "Impressions of the video."),
        numeric("video_clicks", Int64, "Clicks on the video."),
        numeric("video_ctr", Float64, "Clicks / impressions of the video."),
        numeric("video_mean_position", Float64, "Mean position the video was shown at (0: never shown)."),
    ],
    description="Catalogue text and engagement of a video.",
)

pair_stats = FeatureView(
    name="pair_stats", entities=[query, video], ttl=timedelta(days=30), source=pair_source, online=True,
    schema=[
        numeric("pair_impressions", Int64, "Impressions of the video for the query."),
        numeric("pair_clicks", Int64, "Clicks on the video for the query."),
        numeric("pair_ctr", Float64, "Clicks / impressions of the pair."),
        numeric("pair_mean_position", Float64, "Mean position the video was shown at for the query (0: never)."),
    ],
    description="How a query's searchers took a video so far: the strongest click signal when the pair is known.",
)
