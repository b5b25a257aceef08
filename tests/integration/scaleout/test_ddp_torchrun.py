"""Two gloo ranks under torchrun reach the weights of one process with the same global batch.

The production loop (components/training/engine.py `fit`) runs in both layouts: one process with
micro-batches of 8 and gradient accumulation 2, and two ranks with micro-batches of 8 each, whose
gradients DDP averages. Same global batch of 16, same optimiser steps, so the final weights must
agree. Tolerance: 1e-6 absolute on every parameter (measured here: 0.0, bitwise equal, since the
mean of two fp32 gradients is the same sum in both layouts); a different global batch moves them
by orders of magnitude more, which the last test checks so the tolerance means something.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]
TOLERANCE = 1e-6


def train(out: Path, batch: int, accumulation: int, ranks: int = 1) -> dict:
    import torch

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks)] \
        if ranks > 1 else [sys.executable]  # torchrun; --standalone picks a free rendezvous port
    proc = subprocess.run([*launcher, "-m", "tests.support.ddp_job", str(out), str(batch), str(accumulation)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return torch.load(out)


def max_difference(a: dict, b: dict) -> float:
    assert sorted(a) == sorted(b)
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("ddp")
    return {"one": train(tmp / "one.pt", 8, 2), "two": train(tmp / "two.pt", 8, 1, ranks=2),
            "smaller_batch": train(tmp / "small.pt", 8, 1)}


def test_two_ranks_take_the_same_steps_as_one_process(runs):
    rows = runs["one"]["rows"]
    assert rows % 16 == 0 and runs["two"]["rows"] == rows
    assert runs["one"]["steps"] == runs["two"]["steps"] == 2 * rows // 16  # two epochs of global batches of 16


def test_two_ranks_reach_the_weights_of_one_process(runs):
    assert max_difference(runs["one"]["state"], runs["two"]["state"]) <= TOLERANCE


def test_another_global_batch_ends_elsewhere(runs):
    """Guards the tolerance: half the global batch (twice the steps) is far outside it."""
    assert runs["smaller_batch"]["steps"] == 2 * runs["one"]["steps"]
    assert max_difference(runs["one"]["state"], runs["smaller_batch"]["state"]) > 1000 * TOLERANCE
