"""The KFP wrappers on the real local runner: batch_score_op -> monitor_op (HTML + Metrics + breach)."""

import json
from pathlib import Path

import pytest
from kfp import dsl

from components.inference import sample
from components.inference.component import batch_score_op
from components.monitoring.component import monitor_op

pytestmark = pytest.mark.slow


@dsl.pipeline(name="serving-ops-test")
def score_then_monitor(env: str = "local", reference: str = ""):
    scored = batch_score_op(env=env)
    monitor_op(env=env, current_data=scored.outputs["scored"], reference=reference, trigger=False)


def test_batch_score_and_monitor_ops_on_local_runner(settings):
    from components.common.snapshots import SnapshotStore
    from components.inference.reference_model import log_reference_model
    from pipelines.local import run_local

    train = sample.write_training_set(settings, sample.make_tables(n_queries=30, n_videos=200, seed=4))
    log_reference_model(settings, sample.FEATURES)
    run = run_local("serving-ops-test", settings, {"reference": train.ref}, pipeline_func=score_then_monitor)
    scored = SnapshotStore(settings.lakehouse).latest("inference/scored")
    assert scored.row_count == train.row_count and scored.manifest["extra"]["model_version"] == "1"
    root = Path(run["pipeline_root"])
    html = list(root.glob("**/monitor-op/report"))
    assert len(html) == 1 and "rankops monitoring: OK" in html[0].read_text()
    out = json.loads(next(root.glob("**/monitor-op/executor_output.json")).read_text())
    assert out["parameterValues"] == {"breach": False}
    metrics = out["artifacts"]["metrics"]["artifacts"][0]["metadata"]
    assert metrics["breach"] == 0.0 and metrics["drifted_columns"] == 0.0 and 0 < metrics["ndcg_current"] <= 1
    report = out["artifacts"]["report"]["artifacts"][0]["metadata"]
    assert report["reference"] == train.ref and report["current"] == scored.ref
