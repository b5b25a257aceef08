"""`rankops new project`: the repository's second project is exactly what the template writes, and the
template gives a working project under any free name."""

from __future__ import annotations

import importlib
import json
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from components.common import plugins
from components.common.config import load_settings
from pipelines.cli import build_app
from pipelines.scaffold import ScaffoldError, new_project, render_project

CLICKS = Path(__file__).resolve().parents[3] / "projects" / "clicks"
GENERATED = {"compiled", "__pycache__", ".pytest_cache"}  # written by tools after the template, not by it


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*"))
            if p.is_file() and not GENERATED & set(p.relative_to(root).parts) and ".egg-info" not in str(p)}


def test_the_clicks_project_is_the_template_rendered(tmp_path: Path) -> None:
    render_project("clicks", tmp_path / "clicks")  # `new project` minus the name check (clicks is installed)
    assert tree(tmp_path / "clicks") == tree(CLICKS)


def test_new_project_command_writes_the_folder_and_says_what_next(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_app(), ["new", "project", "shop_ctr", "--dir", str(tmp_path), "--summary",
                                              str(tmp_path / "s.json")], env={"RANKOPS_PROJECT": ""})
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["package"] == "rankops_shop_ctr" and len(summary["files"]) == len(tree(CLICKS))
    assert (tmp_path / "shop_ctr" / "rankops_shop_ctr" / "profiles" / "local.yaml").read_text().startswith(
        "# Profile `local` of the shop_ctr project")
    assert summary["next"][-1] == "rankops --project shop_ctr pipeline run shop_ctr_end_to_end --local"


@pytest.mark.parametrize(("name", "message"), [
    ("Clicks", "project name 'Clicks': use 2-31 lower-case letters"),
    ("9lives", "project name '9lives': use 2-31 lower-case letters"),
    ("etl", "project name 'etl' is already a settings section of this installation"),
    ("spark", "project name 'spark' is already a settings section of this installation"),
    ("search", "project name 'search' is already a data contract of this installation"),
    ("ranking", "project name 'ranking' is already an evaluation task of this installation"),
    ("clicks", "project name 'clicks' is already a settings section of this installation"),
])
def test_a_taken_or_malformed_name_writes_nothing(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(ScaffoldError, match=message):
        new_project(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "notes.txt").write_text("mine")
    with pytest.raises(ScaffoldError, match=r"demo already exists: choose another name or folder"):
        new_project("demo", tmp_path)
    assert [p.name for p in (tmp_path / "demo").iterdir()] == ["notes.txt"]


@pytest.fixture
def demo(tmp_path: Path):
    """A fresh project 'demo' from the template, its extensions registered in this process (as
    `pip install -e` would through its entry points)."""
    new_project("demo", tmp_path)
    root = tmp_path / "demo"
    before = set(sys.modules)
    sys.path.insert(0, str(root))
    groups = {plugins.PROJECTS: ("demo", "project:PROJECT"), plugins.SETTINGS: ("demo", "settings:ProjectSettings"),
              plugins.CONTRACTS: ("demo", "contract:CONTRACT"), plugins.FAMILIES: ("demo_gbdt", "model:FAMILY"),
              plugins.TASKS: ("demo", "evaluation:TASK")}
    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]["entry-points"]
    for group, (name, ref) in groups.items():
        assert declared[group][name] == f"rankops_demo.{ref}"  # what its pyproject declares
        module, attr = ref.split(":")
        plugins.register_plugin(group, name, getattr(importlib.import_module(f"rankops_demo.{module}"), attr))
    yield root
    for group, (name, _) in groups.items():
        plugins.unregister_plugin(group, name)
    sys.path.remove(str(root))
    # the demo's modules, and platform pipeline modules first imported under RANKOPS_PROJECT=demo (a
    # @dsl.pipeline is built at import, so theirs would carry the project into later compilations)
    for module in [m for m in sys.modules if m == "rankops_demo" or m.startswith("rankops_demo.")
                   or (m.startswith("pipelines.") and m not in before)]:
        del sys.modules[module]


def test_a_new_project_loads_and_its_pipeline_compiles(demo: Path, tmp_path: Path, monkeypatch) -> None:
    from pipelines.catalogue import compiled_path, pipeline_names
    from pipelines.compile import compile_pipeline

    settings = load_settings("dev", environ={"RANKOPS_HOME": str(tmp_path), "RANKOPS_PROJECT": "demo"})
    assert (settings.etl.contract, settings.training.model.family, settings.evaluation.task) == (
        "demo", "demo_gbdt", "demo")
    assert settings.features.repo_path == str(demo / "rankops_demo" / "feature_repo")
    assert (settings.registry.model_name, settings.features.default_service) == ("demo-model", "demo_v1")
    assert settings.demo.position_slices == [1, 2, 4]
    monkeypatch.setenv("RANKOPS_PROJECT", "demo")
    assert pipeline_names() == ["demo_end_to_end"]
    assert compiled_path("demo_end_to_end") == demo / "rankops_demo" / "compiled" / "demo_end_to_end.yaml"
    spec = next(yaml.safe_load_all(compile_pipeline("demo_end_to_end", tmp_path / "out").read_text()))
    assert spec["pipelineInfo"]["name"] == "demo-end-to-end"
    executors = spec["deploymentSpec"]["executors"]
    assert len(executors) == 11
    assert all({"name": "RANKOPS_PROJECT", "value": "demo"} in e["container"]["env"] for e in executors.values())
