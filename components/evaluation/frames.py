"""The evaluation frame: one row per (query, candidate video) with label and split.

Comes from the training-set snapshot so the model, the BM25 baseline and a champion
are all judged on exactly the same queries and candidates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from components.common.config import Settings
    from components.common.snapshots import Snapshot

REQUIRED_COLUMNS = ("query_id", "video_id", "label", "split", "query_text", "title", "description")
TEXT_COLUMNS = ["query_text", "title", "description"]
TEST_SPLITS = ("test",)
VALIDATION_SPLITS = ("validation", "valid", "val")
TRAIN_SPLITS = ("train",)


class EvaluationDataError(ValueError):
    """The training set cannot be evaluated on (names the snapshot and the problem)."""


def default_training_set(settings: Settings) -> str:
    return f"features/training_set_{settings.training.feature_service}"


def load_training_set(settings: Settings, ref: str | None = None) -> tuple[Snapshot, pd.DataFrame]:
    """The snapshot behind `ref` (default: the latest training set) and its rows."""
    from components.common.snapshots import SnapshotStore

    store = SnapshotStore(settings.lakehouse)
    snap = store.resolve(ref or default_training_set(settings))
    frame = store.read_pandas(snap)
    validate_frame(frame, where=snap.ref)
    return snap, frame


def validate_frame(frame: pd.DataFrame, where: str = "evaluation frame") -> None:
    """Fail with the missing column / bad row named, before any model is scored."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise EvaluationDataError(f"{where}: missing column(s) {missing}; has {list(frame.columns)}")
    bad = frame["label"].isna()
    if bad.any():
        row = frame[bad].iloc[0]
        raise EvaluationDataError(
            f"{where}: label is null in {int(bad.sum())} row(s), first query_id={row['query_id']} video_id={row['video_id']}"
        )
    if not frame["split"].isin(TEST_SPLITS).any():
        raise EvaluationDataError(f"{where}: no rows with split in {TEST_SPLITS}; splits are {sorted(frame['split'].unique())}")


def split_mask(frame: pd.DataFrame, splits: tuple[str, ...]) -> Any:
    return frame["split"].astype(str).str.lower().isin(splits)


def feature_columns(frame: pd.DataFrame, snapshot_extra: dict[str, Any] | None, model_metadata: dict[str, Any] | None) -> list[str]:
    """Numeric feature names in model order: the model's own list first, else the training set's."""
    for source in (model_metadata or {}, snapshot_extra or {}):
        features = source.get("features")
        if features:
            missing = [f for f in features if f not in frame.columns]
            if missing:
                raise EvaluationDataError(f"training set lacks feature column(s) {missing} the model needs")
            return list(features)
    skip = {"label", "event_timestamp", "split", *REQUIRED_COLUMNS}
    return [c for c in frame.columns if c not in skip and frame[c].dtype.kind in "biuf"]


def model_input(frame: pd.DataFrame, features: list[str], defaults: dict[str, Any] | None = None) -> pd.DataFrame:
    """The columns the packaged pyfunc expects: the three texts then the numeric features."""
    out = frame[TEXT_COLUMNS + features].copy()
    for col in TEXT_COLUMNS:
        out[col] = out[col].fillna("").astype(str)
    for col in features:
        fill = (defaults or {}).get(col, 0.0)
        out[col] = out[col].astype(float).fillna(fill)
    return out.reset_index(drop=True)


def dedupe_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (query, video): a pair seen at several timestamps keeps its latest row."""
    if "event_timestamp" in frame.columns:
        frame = frame.sort_values("event_timestamp", kind="stable")
    return frame.drop_duplicates(["query_id", "video_id"], keep="last").sort_values(
        ["query_id", "video_id"], kind="stable"
    ).reset_index(drop=True)
