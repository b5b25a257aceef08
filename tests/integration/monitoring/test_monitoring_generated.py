"""The monitor does not cry wolf on the data the model is trained on: generate -> ETL -> Feast -> monitor.

The whole data path is real (generator, Spark ETL and its gate, Feast point-in-time training set),
as `make run` builds it; the monitor then compares the training set with itself, through the CLI.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from components.common.config import load_settings

pytestmark = pytest.mark.slow


def test_training_set_passes_every_quality_check(spark, tmp_path, monkeypatch):
    from components.common.contract import GOLD_TABLES
    from components.common.snapshots import SnapshotStore
    from components.datagen.generate import generate_dataset
    from components.etl.run import run_etl
    from components.features.apply import run_apply
    from components.features.training_set import build_training_set
    from pipelines.cli import build_app

    home = tmp_path / "home"
    monkeypatch.setenv("RANKOPS_HOME", str(home))
    monkeypatch.setenv("RANKOPS_MONITORING__TRIGGER_MODE", "none")
    settings = load_settings("local")
    generate_dataset(tmp_path / "raw", impressions=20000, days=3, seed=7, dirty_share=0.02)
    run_etl(settings, tmp_path / "raw", spark)
    run_apply(settings)
    snap = build_training_set(settings)
    df = SnapshotStore.read_pandas(snap)
    extra = snap.manifest["extra"]
    # what made name-guessed ranges fire: pairs never shown carry the fill default 0 (below the
    # contract's position >= 1), and a position-debiased CTR above 1
    assert (df["qv_mean_position"] == 0).sum() == extra["null_counts"]["qv_mean_position"] > 0
    assert (df["qv_debiased_ctr"] > 1).sum() > 0

    out = tmp_path / "monitor.json"
    run = CliRunner().invoke(build_app(), ["monitor", "--reference", snap.ref, "--current", snap.ref,
                                           "--report", str(tmp_path / "report"), "--summary", str(out)])
    assert run.exit_code == 0, run.output
    result = json.loads(out.read_text())
    lake = SnapshotStore(settings.lakehouse)
    assert [q["name"] for q in result["quality"]] == (
        ["row_count", "required_columns", "null_share"] + [f"value_range({c})" for c in extra["features"]]
        + [f"gold:{lake.latest(t).ref}:pandera" for t in GOLD_TABLES])
    assert [q["name"] for q in result["quality"] if not q["passed"]] == []
    assert result["breaches"] == [] and result["event"] is None
    assert result["drift"]["drifted"] == 0 and result["evidently"] == {"drifted": [], "share": 0.0,
                                                                        "score_drifted": False}
    position = next(q for q in result["quality"] if q["name"] == "value_range(qv_mean_position)")
    assert position["message"].startswith(f"qv_mean_position: all {len(df)} values >= 1 or the fill default 0 "
                                          "(contract: gold/query_video_features greater_than_or_equal_to(1)")
