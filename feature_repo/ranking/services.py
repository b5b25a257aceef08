"""Feature services: versioned feature selections a model is trained and served with.

Changing a service's selection means a new version (ranker_v2), never an edit of ranker_v1:
models registered with ranker_v1 must keep getting the features they were trained on.
"""

from feast import FeatureService

from ranking.views import query_features, query_video_features, video_catalog, video_engagement

ranker_v1 = FeatureService(
    name="ranker_v1",
    features=[
        video_catalog[["title", "description", "duration_s", "video_age_days", "tag_count"]],
        video_engagement[["video_ctr"]],
        query_features[["query_num_tokens", "query_impressions", "query_ctr"]],
        query_video_features[["qv_impressions", "qv_ctr", "qv_mean_position", "qv_debiased_ctr"]],
    ],
    description="ELECTRA cross-encoder: video text plus numeric query, video and pair features.",
    owner="search-relevance@rankops.dev",
    tags={"model": "electra-ranker", "stage": "production"},
)

ctr_baseline_v1 = FeatureService(
    name="ctr_baseline_v1",
    features=[
        video_engagement[["video_impressions", "video_ctr"]],
        query_video_features[["qv_impressions", "qv_clicks", "qv_ctr", "qv_debiased_ctr"]],
    ],
    description="Engagement-only baseline reusing the same views (no text).",
    owner="search-relevance@rankops.dev",
    tags={"model": "ctr-baseline", "stage": "experimental"},
)
