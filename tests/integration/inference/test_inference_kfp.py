"""The KFP wrappers: monitor_op on the real local runner (HTML + Metrics + breach output), and
batch_score_op's I/O function with real artifacts on the shared Spark session (no second JVM)."""

import json
from pathlib import Path

import numpy as np
import pytest
from kfp import dsl

from components.common.snapshots import SnapshotStore
from components.monitoring.component import monitor_op
from tests.support import serving_data as sample

pytestmark = pytest.mark.slow


@dsl.pipeline(name="monitor-op-test")
def monitor_only(env: str = "local", reference: str = "", current: str = ""):
    monitor_op(env=env, reference=reference, current=current, trigger=False)


def test_batch_score_op_io_fills_dataset_and_metrics(settings, spark):
    from kfp.dsl import Dataset, Metrics

    from components.inference.kfp_io import run_batch_score_op
    from tests.support.reference_model import log_reference_model

    train = sample.write_training_set(settings, sample.make_tables(n_queries=10, n_videos=60, seed=4))
    log_reference_model(settings, sample.FEATURES)
    source = Dataset(name="input", uri="", metadata={"ref": train.ref})
    scored, metrics = Dataset(name="scored", uri=""), Metrics(name="metrics", uri="")
    run_batch_score_op(source, scored, metrics, env="local")
    snap = SnapshotStore(settings.lakehouse).latest("inference/scored")
    assert scored.metadata["ref"] == snap.ref and scored.uri == snap.path
    assert scored.metadata["model_uri"] == "models:/rankops-ranker/1" and scored.metadata["rows"] == train.row_count
    assert metrics.metadata["rows"] == float(train.row_count)


def test_monitor_op_on_local_runner_reports_a_breach(settings):
    from pipelines.local import run_local

    rng = np.random.default_rng(0)
    frames = []
    for seed, shift in ((1, 0.0), (2, 3.0)):
        df = sample.make_tables(n_queries=60, n_videos=200, seed=seed)["training_set"]
        df["score"] = df["label"] + rng.normal(0, 0.3, len(df)) + shift
        frames.append(df)
    lake = SnapshotStore(settings.lakehouse)
    extra = {"features": sample.FEATURES}
    ref, cur = (lake.write("inference/scored", df, extra=extra).ref for df in frames)
    run = run_local("monitor-op-test", settings, {"reference": ref, "current": cur}, pipeline_func=monitor_only)
    root = Path(run["pipeline_root"])
    out = json.loads(next(root.glob("**/monitor-op/executor_output.json")).read_text())
    assert out["parameterValues"] == {"breach": True}
    metrics = out["artifacts"]["metrics"]["artifacts"][0]["metadata"]
    assert metrics["breach"] == 1.0 and metrics["score_psi"] > settings.monitoring.score_psi_threshold
    report = out["artifacts"]["report"]["artifacts"][0]
    assert report["metadata"]["reference"] == ref and report["metadata"]["current"] == cur
    assert "rankops monitoring: BREACH" in Path(report["uri"]).read_text()
    events = list((Path(settings.reports_dir) / "monitoring" / "events").glob("*.json"))
    assert len(events) == 1 and json.loads(events[0].read_text())["status"] == "pending"  # trigger=False
