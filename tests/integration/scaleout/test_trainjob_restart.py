"""A lost worker, then the TrainJob's restart: the workers resume from the checkpoint and finish as if nothing happened.

What runs is the TrainJob's own worker command (components/training/trainjob.py LAUNCH) with the
environment Kubeflow Trainer gives a pod (PET_NNODES, PET_NPROC_PER_NODE, PET_NODE_RANK,
PET_MASTER_ADDR, PET_MASTER_PORT) and, after a restart, the JobSet's restart attempt: two gloo
ranks under torchrun run `rankops train`. On the first attempt rank 1 dies by SIGKILL at step 25,
after the checkpoint at step 20 (the stand-in for a lost node: a wrapper in front of the real CLI);
torchrun then fails, as the pod would. The second attempt (RESTART_ATTEMPT=1) resumes the same
MLflow run and must end with the metrics of an uninterrupted two-rank run.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from components.common.config import load_settings
from components.common.net import free_port
from components.training.trainjob import LAUNCH
from tests.support.training_data import TINY_PARAMS, write_sample_training_set

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]
PARAMS = {**TINY_PARAMS, "threads": 1, "max_steps": 40, "checkpoint_every": 10, "eval_every": 20,
          "model": {**TINY_PARAMS["model"], "dropout": 0.0}}
WRAPPER = """#!{python}
import os, signal, sys
if os.environ.get("RANK") == "1" and os.environ.get("LOSE_RANK_1") == "1":
    from components.training import engine
    original = engine.call_callbacks
    def call_callbacks(callbacks, hook, *args):
        if hook == "on_step" and args[0] == 25:
            os.kill(os.getpid(), signal.SIGKILL)
        original(callbacks, hook, *args)
    engine.call_callbacks = call_callbacks
from pipelines.cli import main
sys.exit(main())
"""


def attempt(home: Path, bin_dir: Path, restart: int, lose_rank_1: bool = False) -> tuple[int, dict | None, str]:
    summary = home / f"summary-{restart}.json"
    params = home / "params.json"
    params.write_text(json.dumps(PARAMS))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "RANKOPS_HOME": str(home), "RANKOPS_ENV": "local",
           "OMP_NUM_THREADS": "1", "RESTART_ATTEMPT": str(restart), "PET_NNODES": "1", "PET_NPROC_PER_NODE": "2",
           "PET_NODE_RANK": "0", "PET_MASTER_ADDR": "127.0.0.1", "PET_MASTER_PORT": str(free_port()),
           "LOSE_RANK_1": "1" if lose_rank_1 else "0"}
    env = {k: v for k, v in env.items() if not (k.startswith("RANKOPS_") and "__" in k)}
    proc = subprocess.run(["bash", "-c", LAUNCH, "rankops-train", "--params", str(params), "--no-validate",
                           "--summary", str(summary)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    return proc.returncode, json.loads(summary.read_text()) if summary.exists() else None, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory) -> Path:
    """`torchrun` from this venv and the `rankops` wrapper that can lose rank 1."""
    out = tmp_path_factory.mktemp("bin")
    (out / "rankops").write_text(WRAPPER.format(python=sys.executable))
    (out / "torchrun").symlink_to(Path(sys.executable).with_name("torchrun"))
    (out / "rankops").chmod(0o755 | stat.S_IEXEC)
    return out


def test_a_lost_worker_is_recovered_from_the_last_checkpoint(tmp_path, bin_dir):
    straight_home, home = tmp_path / "straight", tmp_path / "restarted"
    for h in (straight_home, home):
        write_sample_training_set(load_settings("local", environ={"RANKOPS_HOME": str(h)}))
    code, straight, err = attempt(straight_home, bin_dir, restart=0)
    assert code == 0, err

    code, first, err = attempt(home, bin_dir, restart=0, lose_rank_1=True)
    assert code != 0 and first is None, err  # rank 1 lost: torchrun fails, and so would the pod
    ckpt = home / "checkpoints" / "training"
    killed_run = json.loads((ckpt / "_last.json").read_text())["run_id"]
    assert sorted(p.name for p in (ckpt / killed_run).glob("step-*")) == ["step-00000010", "step-00000020"]

    code, resumed, err = attempt(home, bin_dir, restart=1)  # the JobSet's restart: --resume
    assert code == 0, err
    assert (resumed["run_id"], resumed["steps"]) == (killed_run, 40)
    assert resumed["run_id"] != straight["run_id"] and straight["steps"] == 40
    assert resumed["metrics"] == straight["metrics"]  # same weights: same validation metrics, exactly
    assert not (ckpt / killed_run).exists()  # finished: nothing left to resume
