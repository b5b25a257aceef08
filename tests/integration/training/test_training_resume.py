"""SIGKILL in the middle of training, then --resume: the same final weights as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from components.common.config import load_settings
from components.training.api import TrainingError, train
from tests.support.training_data import TINY_PARAMS, write_sample_training_set

pytestmark = pytest.mark.slow
PARAMS = {**TINY_PARAMS, "threads": 1, "max_steps": 40, "checkpoint_every": 10, "eval_every": 20,
          "model": {**TINY_PARAMS["model"], "dropout": 0.1}}
KILLER = textwrap.dedent("""
    import json, os, signal, sys, time
    from mlflow.tracking import MlflowClient
    from components.common.config import load_settings
    from components.training.api import train

    # A slow tracking store: metric writes still in flight when the process dies must not be lost.
    write = MlflowClient.log_batch
    MlflowClient.log_batch = lambda self, *a, **kw: (time.sleep(0.5), write(self, *a, **kw))[1]

    class KillAt:
        def on_step(self, step, total, logs):
            if step == 25:  # after the checkpoint at step 20, in the middle of the next interval
                os.kill(os.getpid(), signal.SIGKILL)

    train(load_settings("local"), params=json.loads(sys.argv[1]), callbacks=[KillAt()], log_model=False)
""")


def test_sigkill_then_resume_gives_identical_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "home"
    monkeypatch.setenv("RANKOPS_HOME", str(home))
    settings = load_settings("local", environ={"RANKOPS_HOME": str(home)})
    write_sample_training_set(settings)
    threads = torch.get_num_threads()
    try:
        with pytest.raises(TrainingError, match="nothing to resume"):
            train(settings, resume=True)
        straight = train(settings, params=PARAMS, log_model=False)

        env = {**os.environ, "RANKOPS_HOME": str(home), "RANKOPS_ENV": "local"}
        proc = subprocess.run([sys.executable, "-c", KILLER, json.dumps(PARAMS)], env=env, cwd=os.getcwd(),
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
        last = json.loads((home / "checkpoints" / "training" / "_last.json").read_text())
        killed_run = last["run_id"]
        steps = sorted(p.name for p in (home / "checkpoints" / "training" / killed_run).glob("step-*"))
        assert steps == ["step-00000010", "step-00000020"]  # keep_checkpoints=2, nothing after the kill

        resumed = train(settings, resume=True, log_model=False)
    finally:
        torch.set_num_threads(threads)
    assert resumed.run_id == killed_run != straight.run_id
    assert resumed.steps == straight.steps == 40
    a, b = straight.scorer.model.state_dict(), resumed.scorer.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    assert resumed.metrics == straight.metrics
    assert not (home / "checkpoints" / "training" / killed_run).exists()  # finished: nothing left to resume
    with pytest.raises(TrainingError, match="nothing to resume"):
        train(settings, resume=True)
    run = MlflowClient(settings.tracking_uri).get_run(killed_run)
    assert run.info.status == "FINISHED" and run.data.tags["rankops.resumed"] == "true"
    assert sorted({m.step for m in MlflowClient(settings.tracking_uri).get_metric_history(killed_run, "train_loss")}) \
        == list(range(1, 41))
