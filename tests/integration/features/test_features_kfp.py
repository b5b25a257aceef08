"""The feature components: their artifact I/O on real Feast, and that they compile."""

from __future__ import annotations

import pytest
import yaml

pytestmark = pytest.mark.slow


def test_ops_chain_apply_materialize_training_set_through_artifacts(tmp_path, monkeypatch, settings_at, gold_case):
    from kfp import dsl

    from components.features.kfp_io import run_apply_op, run_materialize_op, run_training_set_op
    from tests.support.feature_data import publish_gold

    cfg = settings_at(tmp_path / "home")
    snaps = publish_gold(cfg, gold_case())
    monkeypatch.setenv("RANKOPS_HOME", str(cfg.home))
    gold = dsl.Dataset(name="gold", uri=str(tmp_path / "gold"),
                       metadata={"gold_snapshots": {t: s.ref for t, s in snaps.items()}})
    registry = dsl.Artifact(name="registry", uri=str(tmp_path / "registry"), metadata={})
    run_apply_op(gold, registry, env="local")
    assert registry.metadata["gold_snapshots"] == {t: s.ref for t, s in snaps.items() if t != "gold/labels"}
    assert registry.metadata["feature_services"] == ["ctr_baseline_v1", "ranker_v1"]
    metrics = dsl.Metrics(name="metrics", uri=str(tmp_path / "metrics"), metadata={})
    run_materialize_op(metrics, env="local", full=False)
    assert metrics.metadata == {"query_features_rows": 3, "query_video_features_rows": 4, "video_catalog_rows": 3,
                                "video_engagement_rows": 3}
    ts = dsl.Dataset(name="training_set", uri=str(tmp_path / "ts"), metadata={})
    run_training_set_op(ts, env="local", service="ranker_v1")
    assert ts.metadata["ref"] == f"features/training_set_ranker_v1@{ts.metadata['snapshot_id']}"
    assert ts.metadata["rows"] == 6 and ts.metadata["uri"].endswith(f"{ts.metadata['snapshot_id']}/data")
    assert ts.metadata["parents"]["gold/labels"] == snaps["gold/labels"].snapshot_id


def test_components_compile_with_typed_artifacts(tmp_path):
    from kfp import compiler

    from components.features.component import features_apply_op, materialize_op, training_set_op

    for op in (features_apply_op, materialize_op, training_set_op):
        path = tmp_path / f"{op.name}.yaml"
        compiler.Compiler().compile(op, str(path))
        spec = yaml.safe_load(path.read_text())
        assert "executors" in spec["deploymentSpec"]
    io = yaml.safe_load((tmp_path / "training-set-op.yaml").read_text())["root"]
    assert io["outputDefinitions"]["artifacts"]["training_set"]["artifactType"]["schemaTitle"] == "system.Dataset"
    assert set(io["inputDefinitions"]["parameters"]) == {"env", "service"}
