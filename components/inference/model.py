"""Resolve and load the packaged ranker (an MLflow pyfunc) the same way for batch and online.

Both paths go through `load_ranker`, so the feature list, defaults and preprocessing that travel
inside the model are the only source of truth for what a scoring frame must hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from components.common.contract import TEXT_COLUMNS
from components.common.mlflow_client import use_mlflow

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from components.common.config import Settings


class ModelNotFound(LookupError):
    """The registry has no such model, version or alias (the message says which)."""


@dataclass
class Ranker:
    """A loaded pyfunc plus what it needs: registry coordinates, feature order, defaults."""

    uri: str
    name: str | None
    version: str | None
    pyfunc: Any
    features: list[str]
    defaults: dict[str, float] = field(default_factory=dict)
    text_columns: tuple[str, ...] = TEXT_COLUMNS
    bf16: bool = False
    cached: Any = None  # a CachedScorer (online ELECTRA): documents tokenised once per process

    @property
    def columns(self) -> list[str]:
        return [*self.text_columns, *self.features]

    def frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """The model's input columns in model order, defaults filled, numerics as float64."""
        out = df.reindex(columns=self.columns).copy()
        for col in self.text_columns:
            out[col] = out[col].fillna("").astype(str)
        for col in self.features:
            out[col] = out[col].astype("float64").fillna(float(self.defaults.get(col, 0.0)))
        return out

    def predict(self, df: pd.DataFrame, *, timings: dict[str, float] | None = None) -> np.ndarray:
        """Scores in `df`'s order; `timings` (cached path only) gains seconds per stage."""
        import sys

        import numpy as np

        if self.cached is None:
            frame, score = self.frame(df), self.pyfunc.predict
        else:  # reads the columns it needs by name and casts them itself: no frame copy
            frame, score = df, lambda f: self.cached.score(f, timings=timings)
        torch = sys.modules.get("torch")  # a torch model: no autograd bookkeeping while scoring
        if torch is not None:
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                scores = score(frame)
        else:
            scores = score(frame)
        if hasattr(scores, "to_numpy"):
            scores = scores.to_numpy()
        return np.asarray(scores, dtype="float64").reshape(-1)


def model_uri_of(settings: Settings, *, name: str | None = None, version: str | None = None,
                 alias: str | None = None) -> str:
    """`models:/NAME/VERSION` when a version is pinned, else `models:/NAME@ALIAS` (serving defaults)."""
    name = name or settings.serving.model_name or settings.registry.model_name
    version = version or settings.serving.model_version
    if version:
        return f"models:/{name}/{version}"
    return f"models:/{name}@{alias or settings.serving.model_alias}"


def parse_registry_uri(uri: str) -> tuple[str | None, str | None, str | None]:
    """(name, version, alias) of a registry URI; (None, None, None) for runs:/, paths and
    MLflow 3 logged-model URIs (`models:/m-<id>`, no version or alias)."""
    if not uri.startswith("models:/"):
        return None, None, None
    rest = uri[len("models:/"):]
    if "@" in rest:
        name, alias = rest.split("@", 1)
        return name, None, alias
    name, _, version = rest.partition("/")
    if not version:
        return None, None, None
    return name, version, None


def resolve_version(settings: Settings, uri: str) -> tuple[str | None, str | None]:
    """(name, version) an alias or pinned URI points at right now; raises ModelNotFound."""
    from mlflow.exceptions import MlflowException

    name, version, alias = parse_registry_uri(uri)
    if name is None:
        return None, None
    client = use_mlflow(settings)
    try:
        mv = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, version)
    except MlflowException as exc:
        raise ModelNotFound(f"{uri}: not in the registry at {settings.tracking_uri} ({exc.message})") from None
    return name, str(mv.version)


def pinned_uri(settings: Settings, uri: str) -> str:
    """An alias URI turned into the version it points at now, so a long job cannot see it move."""
    name, version = resolve_version(settings, uri)
    return f"models:/{name}/{version}" if name and version else uri


def load_ranker(settings: Settings | None, uri: str, *, tracking_uri: str | None = None,
                bf16: bool | None = None, cache_documents: int = 0) -> Ranker:
    """Load `uri` (models:/NAME@ALIAS, models:/NAME/V, runs:/..., or a path) with its metadata.
    `cache_documents` > 0: score through a CachedScorer of that many documents when the model is ELECTRA."""
    import mlflow

    if settings is not None:
        name, version = resolve_version(settings, uri)
        uri = f"models:/{name}/{version}" if name and version else uri
    elif tracking_uri:
        use_mlflow(tracking_uri)
        name, version, _ = parse_registry_uri(uri)
    else:
        name, version, _ = parse_registry_uri(uri)
    try:
        pyfunc = mlflow.pyfunc.load_model(uri)
    except Exception as exc:  # MLflow raises many types for a missing/broken model
        raise ModelNotFound(f"{uri}: cannot load the model ({exc})") from None
    meta = dict(getattr(pyfunc.metadata, "metadata", None) or {})
    features = list(meta.get("features") or [])
    if not features:
        raise ModelNotFound(f"{uri}: model metadata has no 'features' list; was it packaged by rankops train?")
    defaults = {str(k): float(v) for k, v in (meta.get("defaults") or {}).items()}
    text_columns = tuple(meta.get("text_columns") or TEXT_COLUMNS)
    if bf16 is None:
        bf16 = bool(settings and settings.serving.autocast_bf16)
    cached = None
    if cache_documents:
        from components.inference.scoring import cached_scorer_of

        cached = cached_scorer_of(pyfunc, defaults, cache_size=cache_documents)
    return Ranker(uri=uri, name=name, version=version, pyfunc=pyfunc, features=features,
                  defaults=defaults, text_columns=text_columns, bf16=bf16, cached=cached)
