"""train_op -> validate_model_op on the real KFP local runner, fed by an imported training-set Dataset."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from kfp import dsl, local
from mlflow.tracking import MlflowClient

from components.training.component import train_op, validate_model_op
from tests.support.training_data import TINY_PARAMS, write_sample_training_set

pytestmark = pytest.mark.slow


def test_train_and_validate_ops_run_locally_and_fill_their_artifacts(tmp_path: Path, rankops_home: Path, settings):
    snap = write_sample_training_set(settings, n_queries=24)
    params = json.dumps({**TINY_PARAMS, "max_steps": 10, "eval_every": 10})

    @dsl.pipeline(name="train-toy")
    def toy():
        data = dsl.importer(artifact_uri=snap.path, artifact_class=dsl.Dataset, reimport=False,
                            metadata={"ref": snap.ref, "table": snap.table, "snapshot_id": snap.snapshot_id})
        trained = train_op(training_set=data.output, env="local", params_json=params)
        validate_model_op(model=trained.outputs["model"], env="local")

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"),
               raise_on_error=True, enable_caching=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        toy()  # raise_on_error: a failed step raises here
    root = tmp_path / "root"
    executor_outputs = [json.loads(p.read_text()) for p in root.rglob("executor_output.json")]
    models = [a for out in executor_outputs for name, arts in out.get("artifacts", {}).items() if name == "model"
              for a in arts["artifacts"]]
    assert len(models) == 1
    meta = models[0]["metadata"]
    assert meta["training_set"] == snap.ref and meta["model_uri"].startswith("models:/") and meta["steps"] == 10
    run_info = MlflowClient(settings.tracking_uri).get_run(meta["run_id"])
    assert run_info.data.tags["rankops.training_set"] == snap.ref
    assert run_info.data.params["max_steps"] == "10"
    reports = list(root.rglob("report"))
    assert len(reports) == 1 and "**PASSED**" in reports[0].read_text()
