"""Feature sources for scoring: the Feast online store, or an in-memory frame with the same call.

Both answer `lookup(query, video_ids) -> DataFrame` (one row per id, in order, with query_text,
video_id, title, description and the numeric features), the signature of
`components.features.online.get_online_features`, so the ranker never knows which it has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from components.common.config import Settings


class FeatureSource(Protocol):
    def lookup(self, query: str, video_ids: list[str]) -> pd.DataFrame: ...

    def ping(self) -> None: ...


class FeastOnlineFeatures:
    """The Feast online store through the features stage's `get_online_features` (one batched call)."""

    def __init__(self, settings: Settings, service: str):
        from components.features.online import get_online_features

        self._get = get_online_features
        self.settings = settings
        self.service = service

    def lookup(self, query: str, video_ids: list[str]) -> pd.DataFrame:
        return self._get(self.settings, query, list(video_ids), service=self.service)

    def ping(self) -> None:
        self.lookup("ping", ["0000000000000000"])


class FrameFeatures:
    """Online features from in-memory query and video tables (tests, benchmarks, stand-in stores)."""

    def __init__(self, queries: pd.DataFrame, videos: pd.DataFrame, pairs: pd.DataFrame | None = None, *,
                 features: list[str], defaults: dict[str, float] | None = None):
        from components.etl.normalize import query_id_of

        self._query_id_of = query_id_of
        self.queries = queries.set_index("query_id")
        self.videos = videos.set_index("video_id")
        self.pairs = pairs.set_index(["query_id", "video_id"]) if pairs is not None else None
        self.features = list(features)
        self.defaults = defaults or {}

    def lookup(self, query: str, video_ids: list[str]) -> pd.DataFrame:
        import pandas as pd

        qid = self._query_id_of(query)
        out = pd.DataFrame({"query_text": [query] * len(video_ids), "video_id": list(video_ids)})
        vid = self.videos.reindex(video_ids)
        out["title"] = vid["title"].to_numpy() if "title" in vid else None
        out["description"] = vid["description"].to_numpy() if "description" in vid else None
        qrow = self.queries.reindex([qid] * len(video_ids))
        prow = (self.pairs.reindex(list(zip([qid] * len(video_ids), video_ids, strict=True)))
                if self.pairs is not None else None)
        for col in self.features:
            for src in (vid, qrow, prow):
                if src is not None and col in src.columns:
                    out[col] = src[col].to_numpy(dtype="float64")
                    break
            else:
                out[col] = float("nan")
            out[col] = out[col].fillna(float(self.defaults.get(col, 0.0)))
        return out

    def ping(self) -> None:
        return None


def online_source(settings: Settings, service: str | None = None) -> FeatureSource:
    """The profile's online store (Feast) for `service` (default serving.feature_service)."""
    return FeastOnlineFeatures(settings, service or settings.serving.feature_service)


def unknown_ids(frame: pd.DataFrame) -> list[str]:
    """Candidates the store does not know: no title came back (Feast fills text nulls with "").

    Every catalogue video has a title (silver quarantines rows without one), so an empty title
    means the id is not in the store, whatever defaults the numeric features got.
    """
    import pandas as pd

    if "title" not in frame.columns:
        return []
    # plain Python over 50 values: pandas' string methods cost 0.2 ms of the lookup stage here
    return [str(v) for v, t in zip(frame["video_id"].to_numpy(), frame["title"].to_numpy(), strict=True)
            if (not isinstance(t, str) and pd.isna(t)) or not str(t).strip()]
