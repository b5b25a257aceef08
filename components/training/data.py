"""Training-set loading, validation and batching.

Everything is tokenised once up front, so a training step only pads a few id lists
(data loading stays a small share of step time without DataLoader workers). Batch order
is a pure function of (seed, epoch), which makes the position resumable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from components.training.model import TEXT_COLUMNS, FeatureSpec, encode_frame, pad_batch

REQUIRED = ("query_id", "video_id", "label", "split", *TEXT_COLUMNS)
SPLITS = ("train", "validation", "test")


class TrainingSetError(ValueError):
    """The training set does not fit the contract (the message names snapshot and column)."""


def _show(value) -> str:
    return repr(value.item() if hasattr(value, "item") else value)


def validate_frame(df: pd.DataFrame, features: list[str], where: str) -> None:
    """Raise TrainingSetError on missing columns, bad labels/splits or an empty train/validation split."""
    missing = [c for c in (*REQUIRED, *features) if c not in df.columns]
    if missing:
        raise TrainingSetError(f"{where}: missing column(s) {missing}")
    labels = pd.to_numeric(df["label"], errors="coerce")
    bad = df.index[labels.isna() | ~labels.isin([0, 1, 2, 3])]
    if len(bad):
        raise TrainingSetError(f"{where}: column 'label' must be 0-3; row {int(bad[0])} has {_show(df.loc[bad[0], 'label'])}")
    bad = df.index[~df["split"].isin(SPLITS)]
    if len(bad):
        raise TrainingSetError(f"{where}: column 'split' must be one of {SPLITS}; row {int(bad[0])} has {_show(df.loc[bad[0], 'split'])}")
    for split in ("train", "validation"):
        if not (df["split"] == split).any():
            raise TrainingSetError(f"{where}: no rows with split={split!r}")
    for name in features:
        values = pd.to_numeric(df[name], errors="coerce")
        bad = df.index[values.isna() & df[name].notna()]
        if len(bad):
            raise TrainingSetError(f"{where}: feature {name!r} is not numeric; row {int(bad[0])} has {_show(df.loc[bad[0], name])}")


@dataclass
class SplitData:
    """One split, encoded: token ids, segment ids, normalised features, labels, query codes."""

    frame: pd.DataFrame
    ids: list[list[int]]
    types: list[list[int]]
    features: np.ndarray
    labels: np.ndarray
    qcodes: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, idx: np.ndarray, pad_id: int = 0) -> dict[str, torch.Tensor]:
        out = pad_batch([self.ids[i] for i in idx], [self.types[i] for i in idx], pad_id)
        out["features"] = torch.from_numpy(self.features[idx])
        out["labels"] = torch.from_numpy(self.labels[idx])
        out["qcodes"] = torch.from_numpy(self.qcodes[idx])
        return out


def encode_split(frame: pd.DataFrame, tokenizer, spec: FeatureSpec) -> SplitData:
    frame = frame.sort_values(["query_id", "video_id"], kind="stable").reset_index(drop=True)
    ids, types = encode_frame(tokenizer, frame)
    qcodes = pd.factorize(frame["query_id"])[0].astype(np.int64)
    return SplitData(frame=frame, ids=ids, types=types, features=spec.transform(frame),
                     labels=frame["label"].astype(np.float32).to_numpy(), qcodes=qcodes)


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """Row permutation of one epoch: deterministic in (seed, epoch), so resume needs only the position."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def micro_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[np.ndarray]:
    """This rank's micro-batches of one epoch (DDP ranks take interleaved batches; the last may be short)."""
    order = epoch_order(n, seed, epoch)
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    usable = len(batches) - len(batches) % world if world > 1 else len(batches)
    return batches[rank:usable:world]


def training_frame_meta(manifest: dict[str, Any]) -> tuple[list[str], dict[str, float]]:
    """Feature list and defaults from a training-set manifest's `extra`."""
    extra = manifest.get("extra") or {}
    features = list(extra.get("features") or [])
    if not features:
        raise TrainingSetError(f"snapshot {manifest.get('table')}@{manifest.get('snapshot_id')}: manifest extra has no 'features' list")
    defaults = {k: float(v) for k, v in (extra.get("defaults") or {}).items() if v is not None}
    return features, defaults


def training_set_service(manifest: dict[str, Any], fallback: str) -> str:
    """The feature service a training-set snapshot was built for (its manifest's extra, which
    build_training_set and the backtest windows write); `fallback` (the profile's) only when absent."""
    return str((manifest.get("extra") or {}).get("feature_service") or fallback)
