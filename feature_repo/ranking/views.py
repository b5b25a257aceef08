"""Feature views of the ranking domain: one per gold table.

Each numeric Field carries a `default` tag: the value the model sees when an entity is
unknown online or its value is missing/expired offline (training and serving read the same tag).
TTLs bound how old a value may be at a label's (or request's) timestamp.
"""

from datetime import timedelta

from common.entities import query, video
from common.sources import query_source, query_video_source, video_source
from feast import FeatureView, Field
from feast.types import Float64, Int64, String

OWNER = "search-relevance@rankops.dev"


def numeric(name: str, dtype, description: str, default: float = 0.0) -> Field:
    """A numeric feature with the default the model expects when it is missing."""
    return Field(name=name, dtype=dtype, description=description, tags={"default": repr(float(default))})


query_features = FeatureView(
    name="query_features",
    entities=[query],
    ttl=timedelta(days=30),
    schema=[
        Field(name="query_text", dtype=String, description="The normalised query text."),
        numeric("query_num_tokens", Int64, "Whitespace tokens in the normalised query."),
        numeric("query_impressions", Int64, "Impressions of the query so far."),
        numeric("query_clicks", Int64, "Clicks on any result of the query so far."),
        numeric("query_ctr", Float64, "Clicks / impressions of the query."),
        numeric("query_sessions", Int64, "Distinct sessions that issued the query."),
    ],
    source=query_source,
    online=True,
    description="How often and how successfully a query is searched.",
    owner=OWNER,
    tags={"team": "search-relevance", "domain": "query"},
)

# Catalogue attributes never expire: a video published two years ago keeps its title. Its only
# row before a label may be the publication-time row, far older than any engagement TTL.
video_catalog = FeatureView(
    name="video_catalog",
    entities=[video],
    ttl=timedelta(0),  # 0 = no expiry in Feast
    schema=[
        Field(name="title", dtype=String, description="Video title from the catalogue."),
        Field(name="description", dtype=String, description="Video description from the catalogue."),
        Field(name="channel", dtype=String, description="Publishing channel."),
        numeric("duration_s", Float64, "Video length in seconds."),
        numeric("video_age_days", Float64, "Days since publication at the row's timestamp."),
        numeric("tag_count", Int64, "Number of catalogue tags."),
    ],
    source=video_source,
    online=True,
    description="Catalogue text and static attributes of a video.",
    owner=OWNER,
    tags={"team": "search-relevance", "domain": "video"},
)

# Engagement of a video over all queries: stale after a month without activity.
video_engagement = FeatureView(
    name="video_engagement",
    entities=[video],
    ttl=timedelta(days=30),
    schema=[
        numeric("video_impressions", Int64, "Impressions of the video so far, any query."),
        numeric("video_clicks", Int64, "Clicks on the video so far, any query."),
        numeric("video_ctr", Float64, "Clicks / impressions of the video."),
    ],
    source=video_source,
    online=True,
    description="Overall engagement of a video (same gold table as video_catalog, other TTL).",
    owner=OWNER,
    tags={"team": "search-relevance", "domain": "video"},
)

query_video_features = FeatureView(
    name="query_video_features",
    entities=[query, video],
    ttl=timedelta(days=30),
    schema=[
        numeric("qv_impressions", Int64, "Times the video was shown for the query."),
        numeric("qv_clicks", Int64, "Clicks on the video for the query."),
        numeric("qv_ctr", Float64, "Clicks / impressions for the pair."),
        numeric("qv_mean_position", Float64, "Mean shown position (1-based); 0 when never shown."),
        numeric("qv_mean_dwell_ms", Float64, "Mean dwell time of clicks in ms."),
        numeric("qv_debiased_ctr", Float64, "Position-debiased CTR of the pair."),
    ],
    source=query_video_source,
    online=True,
    description="Interaction of a query with a video (the pair entity).",
    owner=OWNER,
    tags={"team": "search-relevance", "domain": "query_video"},
)
