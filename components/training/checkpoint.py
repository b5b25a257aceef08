"""Resumable checkpoints: model, optimiser, scheduler, RNG states and data position.

Layout under `<RANKOPS_HOME>/<training.checkpoint_dir>`::

    _last.json                     # the run to resume: run_id, training set, params digest
    <run_id>/step-00000040/state.pt
    <run_id>/best.pt               # weights of the best validation so far (early stopping)

Writes go to a temp dir and are renamed, so a SIGKILL never leaves a half checkpoint behind.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class CheckpointManager:
    """Saves and finds checkpoints of one training run."""

    def __init__(self, root: str | os.PathLike[str], keep: int = 2):
        self.root, self.keep = Path(root), keep

    def run_dir(self, run_id: str) -> Path:
        return self.root / run_id

    def mark_last(self, info: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f"._last.{uuid.uuid4().hex}.tmp"
        tmp.write_text(json.dumps(info, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.root / "_last.json")

    def last_info(self) -> dict[str, Any] | None:
        path = self.root / "_last.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def save(self, run_id: str, step: int, state: dict[str, Any]) -> Path:
        final = self.run_dir(run_id) / f"step-{step:08d}"
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
        tmp.mkdir(parents=True)
        torch.save(state, tmp / "state.pt")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        for old in self.steps(run_id)[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def steps(self, run_id: str) -> list[Path]:
        base = self.run_dir(run_id)
        return sorted(p for p in base.glob("step-*") if (p / "state.pt").exists()) if base.exists() else []

    def latest(self, run_id: str) -> dict[str, Any] | None:
        steps = self.steps(run_id)
        return torch.load(steps[-1] / "state.pt", map_location="cpu", weights_only=False) if steps else None

    def save_best(self, run_id: str, model_state: dict[str, torch.Tensor]) -> None:
        target = self.run_dir(run_id) / "best.pt"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".best.{uuid.uuid4().hex}.tmp")
        torch.save(model_state, tmp)
        os.replace(tmp, target)

    def load_best(self, run_id: str) -> dict[str, torch.Tensor] | None:
        path = self.run_dir(run_id) / "best.pt"
        return torch.load(path, map_location="cpu", weights_only=True) if path.exists() else None

    def finish(self, run_id: str) -> None:
        """Drop a finished run's checkpoints (nothing left to resume) and its resume pointer."""
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)
        last = self.last_info()
        if last and last.get("run_id") == run_id:
            (self.root / "_last.json").unlink(missing_ok=True)
