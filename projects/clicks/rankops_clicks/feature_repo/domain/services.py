"""The feature service the click model is trained and served with (a new selection is a new version)."""

from feast import FeatureService

from domain.views import pair_stats, query_stats, video_stats

service = FeatureService(
    name="clicks_v1",
    features=[
        video_stats[["title", "description", "duration_s", "video_age_days", "video_impressions", "video_ctr",
                     "video_mean_position"]],
        query_stats[["query_num_tokens", "query_impressions", "query_ctr"]],
        pair_stats[["pair_impressions", "pair_ctr", "pair_mean_position"]],
    ],
    description="Click model: video text and engagement, query and pair engagement (position comes with the request).",
)
