"""The windows of a rolling-origin backtest and each window's frame (pure).

Window i trains on the labels with event time <= cutoff_i and is evaluated on those in
(cutoff_i, cutoff_i + horizon]; the K evaluation ranges are consecutive and the last ends at
the newest label, so the backtest walks forward through time like the model would have lived.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


class BacktestError(ValueError):
    """A backtest that cannot be planned or run on this data (names the window and the problem)."""


@dataclass(frozen=True)
class Window:
    index: int
    cutoff: Any  # pd.Timestamp (UTC)
    end: Any

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "cutoff": self.cutoff.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Window:
        import pandas as pd

        return cls(int(data["index"]), pd.Timestamp(data["cutoff"]), pd.Timestamp(data["end"]))


def plan_windows(start: pd.Timestamp, end: pd.Timestamp, windows: int, horizon_days: float | None = None) -> list[Window]:
    """K consecutive evaluation ranges ending at `end`; the default horizon splits the span into K + 1 parts
    (the first part only ever trains)."""
    import pandas as pd

    if windows < 1:
        raise BacktestError(f"--windows must be at least 1, got {windows}")
    span = end - start
    horizon = pd.Timedelta(days=horizon_days) if horizon_days else span / (windows + 1)
    if horizon <= pd.Timedelta(0):
        raise BacktestError(f"the labels span {start} .. {end}: no time to walk through")
    first = end - windows * horizon
    if first <= start:
        raise BacktestError(f"{windows} windows of {horizon} leave no training data before the first cutoff "
                            f"({first}; labels start {start}): use fewer windows or a shorter --horizon-days")
    return [Window(i, first + i * horizon, first + (i + 1) * horizon) for i in range(windows)]


def window_frame(full: pd.DataFrame, window: Window) -> pd.DataFrame:
    """The window's rows: before the cutoff as train (validation kept as validation), then its range as test."""
    ts = full["event_timestamp"]
    before, inside = (ts <= window.cutoff).to_numpy(), ((ts > window.cutoff) & (ts <= window.end)).to_numpy()
    frame = full[before | inside].copy()
    split = np.where(inside[before | inside], "test",
                     np.where(frame["split"].astype(str).str.lower().isin(["validation", "valid", "val"]),
                              "validation", "train"))
    frame["split"] = split
    for needed in ("train", "validation", "test"):
        if not (frame["split"] == needed).any():
            raise BacktestError(f"window {window.index} ({window.cutoff} .. {window.end}) has no {needed} rows")
    return frame.reset_index(drop=True)


def stability(rows: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """Mean, spread, worst window and trend of the retrained model's metric, its lead over BM25, and how the
    model trained at the first cutoff ages (its metric in the first and last window, its trend)."""
    model = np.array([r["model"][metric] for r in rows], dtype=float)
    delta = np.array([r["model"][metric] - r["bm25"][metric] for r in rows], dtype=float)
    worst = int(np.argmin(model))
    trend = float(np.polyfit(np.arange(len(rows)), model, 1)[0]) if len(rows) > 1 else math.nan
    ageing = {}
    if all("origin" in r for r in rows):
        origin = np.array([r["origin"][metric] for r in rows], dtype=float)
        ageing = {"origin_first": float(origin[0]), "origin_last": float(origin[-1]),
                  "origin_trend_per_window": float(np.polyfit(np.arange(len(rows)), origin, 1)[0])
                  if len(rows) > 1 else math.nan,
                  # paired on the same queries, so a window's difficulty cancels: what drift cost the unretrained
                  # model and what retraining won back in the newest window
                  "origin_drop": float(origin[0] - origin[-1]), "retrain_gain_last": float(model[-1] - origin[-1])}
    return {"metric": metric, "windows": len(rows), "mean": float(model.mean()),
            "std": float(model.std(ddof=1)) if len(rows) > 1 else 0.0,
            "min": float(model.min()), "max": float(model.max()), "worst_window": rows[worst]["window"]["index"],
            "mean_delta_vs_bm25": float(delta.mean()), "worst_delta_vs_bm25": float(delta.min()),
            "windows_beating_bm25": int((delta > 0).sum()),
            "trend_per_window": trend, **ageing}
