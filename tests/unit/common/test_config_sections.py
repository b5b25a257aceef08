"""Stages register their settings sections (entry points); config.py imports none of them.

The expected messages below were produced by config.py before the inversion (when it imported
every stage's settings.py) on the same inputs: the registration keeps them identical.
"""

import ast
from pathlib import Path

import pytest
from pydantic import Field

from components.common import plugins
from components.common.config import ConfigError, load_settings, settings_model
from components.common.model import StrictModel
from components.common.projects import Project

STAGE_SECTIONS = {"etl", "features", "training", "trainjob", "evaluation", "registry", "promotion", "serving", "monitoring"}


def test_every_stage_section_is_registered_by_entry_point_and_config_imports_no_stage() -> None:
    assert set(plugins.plugin_names(plugins.SETTINGS)) >= STAGE_SECTIONS
    tree = ast.parse(Path("components/common/config.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    stages = {m for m in imported if m and m.startswith("components.") and not m.startswith("components.common")}
    assert stages == set()
    fields = list(settings_model().model_fields)
    assert fields[:7] == ["env", "home", "project", "spark", "storage", "mlflow", "kfp"]
    assert fields[7:16] == ["etl", "features", "training", "trainjob", "evaluation", "registry", "promotion", "serving",
                            "monitoring"]  # main's order


@pytest.mark.parametrize(("environ", "message"), [
    ({"RANKOPS_TRAINING__MODEL__HIDDEN_SIZE": "0", "RANKOPS_ETL__MAX_QUARANTINE_SHARE": "2"},
     "invalid configuration for profile 'local':\n"
     "  etl.max_quarantine_share: Input should be less than or equal to 1 (from environment variable "
     "RANKOPS_ETL__MAX_QUARANTINE_SHARE)\n"
     "  training.model.hidden_size: Input should be greater than 0 (from environment variable "
     "RANKOPS_TRAINING__MODEL__HIDDEN_SIZE)"),
    ({"RANKOPS_TRAINING__MODEL__HIDDN_SIZE": "3"},
     "invalid configuration for profile 'local':\n"
     "  training.model.hiddn_size: Extra inputs are not permitted (from environment variable "
     "RANKOPS_TRAINING__MODEL__HIDDN_SIZE)"),
    ({"RANKOPS_SERVING__PORT": "0", "RANKOPS_MONITORING__NOPE": "1", "RANKOPS_FEATURES__REGISTRY_TYPE": "x"},
     "invalid configuration for profile 'local':\n"
     "  features.registry_type: Input should be 'file' or 'sql' (from environment variable "
     "RANKOPS_FEATURES__REGISTRY_TYPE)\n"
     "  serving.port: Input should be greater than 0 (from environment variable RANKOPS_SERVING__PORT)\n"
     "  monitoring.nope: Extra inputs are not permitted (from environment variable RANKOPS_MONITORING__NOPE)"),
    ({"RANKOPS_NOSECTION__X": "1"},
     "invalid configuration for profile 'local':\n"
     "  nosection: Extra inputs are not permitted (from environment variable RANKOPS_NOSECTION)"),
])
def test_error_messages_are_those_of_the_importing_config(tmp_path: Path, environ, message) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings("local", environ={"RANKOPS_HOME": str(tmp_path), **environ})
    assert str(err.value) == message


class TeamSettings(StrictModel):
    """A section another package would register."""

    threshold: float = Field(0.5, ge=0, le=1)


@pytest.fixture
def team_section():
    plugins.register_plugin(plugins.SETTINGS, "team", TeamSettings)
    yield
    plugins.unregister_plugin(plugins.SETTINGS, "team")


def test_a_registered_section_is_loaded_and_strict(team_section, tmp_path: Path) -> None:
    s = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path), "RANKOPS_TEAM__THRESHOLD": "0.25"})
    assert s.team.threshold == 0.25
    assert list(type(s).model_fields)[-1] == "team"  # after the platform's sections
    with pytest.raises(ConfigError, match=r"team\.threshold: Input should be less than or equal to 1 "
                                          r"\(from environment variable RANKOPS_TEAM__THRESHOLD\)"):
        load_settings("local", environ={"RANKOPS_HOME": str(tmp_path), "RANKOPS_TEAM__THRESHOLD": "2"})


def test_a_section_may_not_shadow_a_common_one() -> None:
    plugins.register_plugin(plugins.SETTINGS, "spark", TeamSettings)
    try:
        with pytest.raises(ConfigError, match="settings section 'spark' .* would replace a common setting"):
            load_settings("local", environ={})
    finally:
        plugins.unregister_plugin(plugins.SETTINGS, "spark")


@pytest.fixture
def team_project(tmp_path: Path):
    root = tmp_path / "team"
    (root / "profiles").mkdir(parents=True)
    (root / "profiles" / "local.yaml").write_text(
        "storage:\n  lakehouse: team/lakehouse\nspark:\n  shuffle_partitions: 3\nregistry:\n  model_name: team-model\n")
    (root / "profiles" / "dev.yaml").write_text("spark:\n  shuffle_partitons: 2\n")
    plugins.register_plugin(plugins.PROJECTS, "team", Project(name="team", root=root))
    yield root
    plugins.unregister_plugin(plugins.PROJECTS, "team")


def test_project_profile_sits_between_the_platform_profile_and_env_vars(team_project, tmp_path: Path) -> None:
    base = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path)})
    s = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path), "RANKOPS_PROJECT": "team",
                                         "RANKOPS_SPARK__SHUFFLE_PARTITIONS": "5"})
    assert (base.project, s.project) == (None, "team")
    assert s.lakehouse == str(tmp_path / "team" / "lakehouse")  # the project's profile over local.yaml
    assert s.spark.master == base.spark.master == "local[*]"  # kept from the platform's local.yaml
    assert s.spark.shuffle_partitions == 5  # the variable wins over both profiles
    assert s.registry.model_name == "team-model" and base.registry.model_name == "rankops-ranker"


def test_project_profile_errors_name_the_project_file(team_project, tmp_path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings("dev", environ={"RANKOPS_HOME": str(tmp_path), "RANKOPS_PROJECT": "team"})
    assert str(err.value) == ("invalid configuration for profile 'dev':\n  spark.shuffle_partitons: Extra inputs "
                              f"are not permitted (from {team_project / 'profiles' / 'dev.yaml'})")


def test_unknown_project_lists_the_registered_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown project 'nope'; registered: .*\(entry-point group "
                                          r"rankops.projects\) \(from RANKOPS_PROJECT or --project\)"):
        load_settings("local", environ={"RANKOPS_PROJECT": "nope"})
