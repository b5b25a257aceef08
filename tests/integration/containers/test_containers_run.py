"""The cluster path for real: the image built here (cached), the end_to_end pipeline with every step
in it under pod security against the dev profile's services, then the ranker from the image.

One pipeline run (the image build is cached across runs); then two short runs for the faults: a
step that fails in its container, and Ctrl-C in the middle of a step. Each run must leave no
container, no listening service and nothing lost under RANKOPS_HOME.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from components.common.image import GPU_IMAGE, IMAGE
from pipelines.containers.run import cpu_training_params
from tests.support import small_run
from tests.support.containers import podman

pytestmark = [pytest.mark.slow, pytest.mark.services]

REPO = Path(__file__).resolve().parents[3]
RANKOPS = str(Path(sys.executable).with_name("rankops"))
STEPS = {"generate-data-op", "etl-op", "features-apply-op", "materialize-op", "training-set-op", "train-op",
         "validate-model-op", "evaluate-op", "register-op", "compare-op", "promotion-request-op"}


def small_params() -> tuple[str, ...]:
    """The local end-to-end test's run (tests/support/small_run.py) on the local profile's tiny CPU
    model: the same verdict for a fraction of make run's work, as each step here also pays its
    container's start-up and imports."""
    params = json.loads(cpu_training_params()) | small_run.STEPS
    return *small_run.DATA, "-p", f"params_json={json.dumps(params, sort_keys=True)}"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO).stdout.strip()


def source_branch() -> str:
    """Where local mode writes the registered version back: the branch the image was built from
    (a dirty tree records 'unknown', and the write-back then takes the GitOps remote's main)."""
    return git("rev-parse", "--abbrev-ref", "HEAD") if git("status", "--porcelain") == "" else "main"


def test_the_image_records_the_commit_it_was_built_from(image_id):
    """The lineage a model trained in the image records; a cached rebuild must not keep an older sha."""
    expected = git("rev-parse", "HEAD") if git("status", "--porcelain") == "" else "unknown"
    env = dict(e.split("=", 1) for e in json.loads(podman("image", "inspect", "--format", "{{json .Config.Env}}",
                                                               image_id)))
    label = podman("image", "inspect", "--format", '{{index .Labels "org.opencontainers.image.revision"}}', image_id)
    assert (env["RANKOPS_GIT_SHA"], env["RANKOPS_IMAGE_TAG"], label) == (expected, expected, expected)


def run_cli(home: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RANKOPS_")}
    env.update(RANKOPS_HOME=str(home), COLUMNS="200")
    return subprocess.run([RANKOPS, "containers", "run", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=timeout)


def assert_torn_down(summary: dict) -> None:
    """No container of the run is left, and nothing listens on the run's service address any more."""
    assert podman("ps", "-a", "--filter", f"label=rankops.run={summary['run_id']}", "--format", "{{.ID}}") == ""
    for port in (5432, 6379, 5000, 9000, 9418, 8080):
        with pytest.raises(OSError):
            socket.create_connection((summary["services"]["address"], port), timeout=1).close()


def user_files(home: Path) -> Path:
    """Something of the user's under RANKOPS_HOME that a containerised run must leave alone."""
    mine = home / "lakehouse" / "mine.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("keep me\n")
    return mine


@pytest.fixture(scope="module")
def pipeline_run(image_id, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    mine = user_files(home)
    started = time.monotonic()
    proc = run_cli(home, *small_params(), "--summary", str(home / "summary.json"))
    print(f"containerised run: {time.monotonic() - started:.0f} s")
    assert proc.returncode == 0, (proc.stdout[-4000:], proc.stderr[-4000:])
    return json.loads((home / "summary.json").read_text()), proc.stdout, home, mine


def test_every_step_ran_in_the_built_image_as_uid_10001_on_a_read_only_root(pipeline_run, image_id):
    summary, _, _, _ = pipeline_run
    steps = {s["name"]: s for s in summary["steps"]}
    assert set(steps) == STEPS
    for name, step in steps.items():
        assert (step["image_id"], step["uid"], step["read_only_root"], step["exit_code"], step["cap_drop"]) == (
            image_id, 10001, True, 0, ["ALL"]), name
        # the lakehouse everywhere; train-op also gets the models PVC (staging/prod's pretrained checkpoint)
        assert step["volumes"] == {"/mnt/lakehouse": "rankops-lakehouse", **(
            {"/mnt/models": "rankops-models"} if name == "train-op" else {})}, name
    # the GPU step names the CUDA image; with no GPU here it runs the CPU build of the same code
    assert (steps["train-op"]["spec_image"], steps["train-op"]["image"]) == (GPU_IMAGE, IMAGE)
    # each step got the Secrets its compiled spec asks for, and no others
    assert steps["etl-op"]["secrets"] == []
    assert {"rankops-postgres", "rankops-redis"} <= set(steps["materialize-op"]["secrets"])


def test_it_ends_like_make_run_with_a_version_a_verdict_and_a_request(pipeline_run):
    summary, stdout, home, _ = pipeline_run
    assert (summary["version"], summary["verdict"]) == ("1", "promote")
    assert summary["request_id"] and summary["request_id"] in stdout
    assert "registered:    rankops-ranker version 1 (alias challenger)" in stdout
    assert "comparison:    promote" in stdout
    # what the steps wrote is on the host: the lakehouse volume and the steps' outputs
    run_dir = Path(summary["run_dir"])
    assert run_dir.is_relative_to(home / "containers") and (run_dir / "register-op" / "executor_output.json").exists()
    assert (Path(summary["lakehouse"]) / "gold" / "labels" / "_latest.json").is_file()
    # the registry write-back and the promotion request reached the GitOps remote from inside their containers
    pushed = summary["gitops"]
    record = json.loads(pushed[source_branch()]["files"]["models/rankops-ranker.json"])
    assert (record["name"], record["version"], record["model_uri"]) == ("rankops-ranker", "1", "models:/rankops-ranker/1")
    request = pushed[f"promote/{summary['request_id']}"]["files"]  # cut from main: main's files plus the pin
    assert request.pop("manifests/overlays/prod/model.env") == "MODEL_NAME=rankops-ranker\nMODEL_VERSION=1\n"
    assert set(request) == ({"models/rankops-ranker.json"} if source_branch() == "main" else set())


def test_the_ranker_is_not_ready_until_the_approval_then_serves_the_approved_version(pipeline_run):
    summary, _, _, _ = pipeline_run
    ranker = summary["ranker"]
    before = ranker["before_approval"]
    assert (before["ready"], before["checks"], before["model_version"]) == (
        False, {"model": False, "feature_store": True}, None)
    assert before["error"].startswith("model: models:/rankops-ranker@champion: not in the registry at "
                                      "http://mlflow.rankops-dev.svc.cluster.local:5000")
    # /admin/reload (or the 30 s poll, whichever came first) swapped in the approved version
    assert ranker["reload"]["version"] == "1" and "error" not in ranker["reload"]
    after = ranker["after_approval"]
    assert (after["ready"], after["checks"], after["model_version"], after["error"]) == (
        True, {"model": True, "feature_store": True}, "1", None)
    assert (ranker["rerank"]["model_version"], ranker["rerank"]["unknown_candidate_status"]) == ("1", 404)
    assert ranker["rerank"]["candidates"] >= 2
    assert (ranker["uid"], ranker["configured_user"], ranker["read_only_root"]) == (10001, "10001:10001", True)
    # the approval merged the pin into main of the GitOps remote: what Argo CD would roll out to prod
    main = summary["gitops"]["main"]["files"]
    assert main.pop("manifests/overlays/prod/model.env") == "MODEL_NAME=rankops-ranker\nMODEL_VERSION=1\n"
    assert set(main) == ({"models/rankops-ranker.json"} if source_branch() == "main" else set())
    assert summary["gitops"]["main"]["subject"].startswith(f"approve {summary['request_id']}: ")


def test_services_are_torn_down_and_nothing_of_the_user_is_lost(pipeline_run):
    summary, _, home, mine = pipeline_run
    assert_torn_down(summary)
    assert mine.read_text() == "keep me\n"
    assert json.loads((Path(summary["state_dir"]) / "summary.json").read_text())["run_id"] == summary["run_id"]
    text = json.dumps(summary)
    assert "pg-" not in text and "rk-" not in text  # the run's credentials never reach the summary


def test_a_failing_step_shows_its_exit_code_and_log_tail(image_id, tmp_path):
    mine = user_files(tmp_path)
    proc = run_cli(tmp_path, "--no-ranker", "-p", "days=0", timeout=1200)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "step generate-data-op failed in its container with exit code 1" in proc.stderr
    tail = proc.stderr.split("lines of the log of generate-data-op:")[1]
    assert "ValueError" in tail and "days=0" in tail  # the step's own error, from its container
    summary = json.loads(next((tmp_path / "containers").glob("*/summary.json")).read_text())
    assert [(s["name"], s["exit_code"]) for s in summary["steps"]] == [("generate-data-op", 1)]
    assert_torn_down(summary)
    assert mine.read_text() == "keep me\n"


def test_ctrl_c_in_the_middle_of_a_step_tears_everything_down(image_id, tmp_path):
    mine = user_files(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RANKOPS_")}
    env.update(RANKOPS_HOME=str(tmp_path), COLUMNS="200")
    proc = subprocess.Popen([RANKOPS, "containers", "run", "--no-ranker"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    seen, errors, etl_started = [], [], threading.Event()

    def drain(stream, lines: list[str]) -> None:  # as a terminal would: the run never blocks on a full pipe
        for line in stream:
            lines.append(line)
            if "Executing task" in line and "etl-op" in line:
                etl_started.set()

    readers = [threading.Thread(target=drain, args=pair, daemon=True)
               for pair in ((proc.stdout, seen), (proc.stderr, errors))]
    for reader in readers:
        reader.start()
    assert etl_started.wait(timeout=1200), "".join(seen)[-2000:]
    time.sleep(5)  # the ETL's Spark is up inside its container
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=300)
    finally:
        proc.kill()
    for reader in readers:
        reader.join(timeout=30)
    err = "".join(errors)
    assert proc.returncode == 130, (err[-2000:], "".join(seen)[-2000:])
    assert "interrupted: services and containers stopped" in err
    summary = json.loads(next((tmp_path / "containers").glob("*/summary.json")).read_text())
    assert [s["name"] for s in summary["steps"]] == ["generate-data-op"]  # stopped in the ETL, nothing after it
    assert_torn_down(summary)
    assert mine.read_text() == "keep me\n"
