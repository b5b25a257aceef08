from pathlib import Path

import pytest

from components.common.config import ConfigError, load_settings


def test_local_profile_roots_paths_in_rankops_home(tmp_path: Path) -> None:
    s = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path)})
    assert s.env == "local"
    assert s.lakehouse == str(tmp_path / "lakehouse")
    assert s.tracking_uri == f"sqlite:///{tmp_path}/mlflow/mlflow.db"
    assert s.features.online_store_type == "sqlite"


def test_env_var_overrides_nested_key_with_typed_value(tmp_path: Path) -> None:
    environ = {"RANKOPS_HOME": str(tmp_path), "RANKOPS_SPARK__SHUFFLE_PARTITIONS": "3", "RANKOPS_ETL__MAX_QUARANTINE_SHARE": "0.5"}
    s = load_settings("local", environ=environ)
    assert s.spark.shuffle_partitions == 3
    assert s.etl.max_quarantine_share == 0.5


def test_env_var_keys_inside_a_mapping_keep_their_case(tmp_path: Path) -> None:
    environ = {"RANKOPS_HOME": str(tmp_path), "RANKOPS_SPARK__CONF__spark.sql.adaptive.coalescePartitions.enabled": "false",
               "RANKOPS_TRAINING__MODEL__HIDDEN_SIZE": "32"}
    s = load_settings("local", environ=environ)
    assert s.spark.conf == {"spark.sql.adaptive.coalescePartitions.enabled": "false"}  # Spark keys are case-sensitive
    assert s.training.model.hidden_size == 32


def test_rankops_env_selects_profile(tmp_path: Path) -> None:
    s = load_settings(environ={"RANKOPS_HOME": str(tmp_path), "RANKOPS_ENV": "prod"})
    assert s.env == "prod"
    assert s.kfp.namespace == "rankops-prod"
    assert s.features.online_store_type == "redis"
    assert s.lakehouse == "/mnt/lakehouse"


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_cluster_profiles_validate(env: str, tmp_path: Path) -> None:
    s = load_settings(env, environ={"RANKOPS_HOME": str(tmp_path)})
    assert s.mlflow.tracking_uri == f"http://mlflow.rankops-{env}.svc.cluster.local:5000"


def test_unknown_env_var_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"spark\.shufle_partitions.*RANKOPS_SPARK__SHUFLE_PARTITIONS"):
        load_settings("local", environ={"RANKOPS_SPARK__SHUFLE_PARTITIONS": "2"})


def test_wrong_value_type_is_named() -> None:
    with pytest.raises(ConfigError, match=r"spark\.shuffle_partitions: .*RANKOPS_SPARK__SHUFFLE_PARTITIONS"):
        load_settings("local", environ={"RANKOPS_SPARK__SHUFFLE_PARTITIONS": "many"})


def test_unknown_profile_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown environment 'qa'"):
        load_settings("qa", environ={})


def test_bad_key_in_profile_file_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import components.common.config as config

    (tmp_path / "local.yaml").write_text("spark:\n  masterr: local[1]\n")
    monkeypatch.setattr(config, "PROFILES_DIR", tmp_path)
    with pytest.raises(ConfigError, match=r"spark\.masterr: Extra inputs are not permitted \(from .*local\.yaml\)"):
        load_settings("local", environ={})
