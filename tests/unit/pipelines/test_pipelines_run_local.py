"""`rankops pipeline run NAME --local` on the real KFP local runner (a toy pipeline: no Spark, ~1 s)."""

import json
import sys
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))


def test_run_local_executes_every_step_and_the_gated_branch(rankops_home, monkeypatch, tmp_path):
    from pipelines import catalogue as registry
    from pipelines.cli import build_app

    monkeypatch.setitem(registry.PIPELINES, "toy", "kfp_toy_pipeline:toy")
    summary = tmp_path / "run.json"
    res = CliRunner().invoke(build_app(), ["pipeline", "run", "toy", "--local", "--summary", str(summary)])
    assert res.exit_code == 0, res.output
    result = json.loads(summary.read_text())
    assert result["env"] == "local" and result["params"] == {"env": "local"}
    tasks = result["tasks"]
    assert tasks["prepare-op"]["parameters"] == {"Output": "prepared-local"}
    assert tasks["fit-op"]["parameters"] == {"Output": "promote"}
    assert tasks["prepare-op-2"]["parameters"] == {"Output": "prepared-local"}  # dsl.If branch taken
    run_dir = Path(result["run_dir"])
    assert run_dir.parent == rankops_home / "kfp-local" and run_dir.name.startswith("toy-")
    assert "pipeline toy finished" in res.output and "(env local, 3 steps)" in res.output


def test_run_local_param_decides_the_branch(rankops_home, monkeypatch, settings):
    from kfp_toy_pipeline import toy

    from pipelines.local import run_local

    result = run_local("toy", settings, {"env": "other"}, pipeline_func=toy)
    assert result["tasks"]["prepare-op"]["parameters"] == {"Output": "prepared-other"}
    assert result["tasks"]["fit-op"]["parameters"] == {"Output": "promote"}
    assert result["params"] == {"env": "other"}


def test_failing_step_is_one_line(rankops_home, monkeypatch):
    from pipelines import catalogue as registry
    from pipelines.cli import build_app

    monkeypatch.setitem(registry.PIPELINES, "toy", "kfp_toy_pipeline:toy")
    res = CliRunner().invoke(build_app(), ["pipeline", "run", "toy", "--local", "-p", "nope=1"], env={"COLUMNS": "500"})
    assert res.exit_code == 1
    assert res.output.strip() == ('error: pipeline toy failed: toy() got an unexpected keyword argument "nope". '
                                  f"(step logs above; outputs under {rankops_home / 'kfp-local'})")
    res = CliRunner().invoke(build_app(), ["pipeline", "run", "toy", "--local", "-p", "env=boom"])
    assert res.exit_code == 1
    assert "ValueError: cannot fit for env boom" in res.output  # the step's own log
    flat = " ".join(res.output.split())  # rich wraps the error line at the terminal width
    assert ("error: pipeline toy failed: Pipeline 'toy' finished with status FAILURE. "
            "Inner task failed: 'fit-op'.") in flat


def test_local_run_prints_progress_and_keeps_the_bookkeeping_in_its_log(rankops_home, settings, capsys):
    """kfp.local's executor JSON and artifact listings are hidden; task start/end show; the log has all."""
    import re

    from kfp_toy_pipeline import toy

    from pipelines.local import run_local

    result = run_local("toy", settings, pipeline_func=toy)
    shown = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)
    lines = [line for line in shown.splitlines() if line.strip()]
    assert [line.split(" - ", 2)[2] for line in lines] == [
        "Running pipeline: 'toy'",
        "Executing task 'prepare-op'", "Task 'prepare-op' finished with status SUCCESS",
        "Executing task 'fit-op'", "Task 'fit-op' finished with status SUCCESS",
        "Executing task 'prepare-op-2'", "Task 'prepare-op-2' finished with status SUCCESS",
        "Pipeline 'toy' finished with status SUCCESS",
    ]
    log = Path(result["log"])
    assert log.parent == rankops_home / "kfp-local" / "logs"
    full = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text())
    assert full.count("Got executor_input:") == 3 and full.count("Wrote executor output file") == 3
    assert "Task 'fit-op' outputs:" in full and "Executing task 'fit-op'" in full


def test_a_parallel_for_leaves_the_root_logger_as_it_was(rankops_home, settings):
    """kfp.local runs ParallelFor iterations in threads, each swapping the root logger's handlers: a handler on
    the run's stream outlived the run, and py4j logged through it at exit ("--- Logging error ---")."""
    import logging

    from kfp_toy_pipeline import fan_out

    from pipelines.local import run_local

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    for _ in range(3):  # the race does not lose every time
        result = run_local("toy-fan-out", settings, pipeline_func=fan_out)
        assert (root.handlers, root.level) == (handlers, level)
    outputs = {json.loads(path.read_text())["parameterValues"]["Output"]
               for path in Path(result["run_dir"]).glob("for-loop-*-iteration-*/echo-op/executor_output.json")}
    assert outputs == {1, 2, 3, 4, 5, 6}  # every iteration ran
    # the summary lists each iteration's task by its folder (the six items in order)
    assert {key: task["parameters"] for key, task in result["tasks"].items()} == {
        f"for-loop-2-iteration-{i}/echo-op": {"Output": i + 1} for i in range(6)}
