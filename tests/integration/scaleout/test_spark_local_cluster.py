"""The ETL and batch scoring give identical snapshots on one JVM and on a multi-node Spark.

Which multi-node Spark:
- where podman is installed: a Spark standalone master and two workers (1 core, 1 GiB each) as
  separate containers from the project image, built from this tree once per session
  (pipelines/containers/spark_cluster.py), and the driver in a third container of the same image,
  as the pipeline step's pod is the driver in the cluster. Driver and executors then run the
  image's Python and its installed `components`; every container has the cluster's pod security.
  The `local[*]` reference runs in a driver container of the same image, so only configuration
  differs: the master URL and the executors' memory (RANKOPS_SPARK__*).
- elsewhere: `local-cluster[2,1,1024]`, a real standalone master and worker inside the driver's
  JVM that launch two executor JVMs, and the fallback says so (print, and a skip of the
  container-only test). RANKOPS_REQUIRE_CONTAINERS=1 (.ci/run) makes a missing podman a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.containers import containers_missing, containers_required, podman

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]
LOCAL_CLUSTER = "local-cluster[2,1,1024]"
CONTAINERS = "standalone-containers"
JOB_HOME = "/mnt/rankops"  # the shared volume: the same path in the driver and worker containers


def job_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.startswith("RANKOPS_") and "__" in k)}
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    return env


def run_job(home: Path, master: str) -> dict:
    """tests/support/spark_job.py in a process of its own on this machine's venv."""
    proc = subprocess.run([sys.executable, "-m", "tests.support.spark_job", str(home), master], cwd=REPO,
                          env=job_env(), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_jobs_in_containers(home: Path, image: str) -> dict[str, dict]:
    """The same job with its driver in a container of the image, twice: `local[*]` in the driver, then
    against a master and two workers in containers. Both drivers run the image's libraries, so only
    the master differs (the host venv differs: this machine sets OPENBLAS_CORETYPE=Haswell, the image's
    OpenBLAS picks SkylakeX kernels, and 13 of 80 scores moved by one ulp)."""
    from docker.types import Mount

    from pipelines.containers.engine import open_engine
    from pipelines.containers.run import writable_dir
    from pipelines.containers.spark_cluster import standalone_cluster

    (home / "empty").mkdir(parents=True)
    mounts = [Mount(JOB_HOME, str(writable_dir(home / "job")), type="bind"),
              Mount("/app/tests", str(REPO / "tests"), type="bind", read_only=True)]  # the job script
    label = {"rankops.run": f"spark-test-{os.getpid()}"}
    env = {"RANKOPS_SPARK__EXECUTOR__MEMORY": "1g", "OMP_NUM_THREADS": "1", "PYTHONPATH": "/app"}
    results = {}
    engine = open_engine()
    try:
        with standalone_cluster(engine, image, scratch=home / "empty", mounts=mounts, workers=2, cores=1,
                                memory="1g", label=label) as cluster:
            for key, master, name in (("local[*]", "local[*]", "local"), ("multi", cluster.master_url, "standalone")):
                writable_dir(home / "job" / name)  # each run's RANKOPS_HOME and working directory (./mlruns)
                stdout = cluster.run_driver(["python", "-m", "tests.support.spark_job", f"{JOB_HOME}/{name}", master],
                                            env, working_dir=f"{JOB_HOME}/{name}", name=f"spark-driver-{name}")
                results[key] = json.loads(stdout.strip().splitlines()[-1])
            results["multi"]["cluster"] = cluster.state()
    finally:
        engine.close()
    results["multi"]["left_behind"] = podman("ps", "-a", "--filter", f"label=rankops.run={label['rankops.run']}",
                                             "--format", "{{.Names}}")
    return results


@pytest.fixture(scope="module")
def layout(request) -> str:
    """Containers where podman is (or must be) here; else the in-JVM local-cluster, said out loud."""
    missing = containers_missing()
    if missing is None or containers_required():
        request.getfixturevalue("image_id")  # fails with the reason where containers are required but missing
        return CONTAINERS
    print(f"\nno containers ({missing}): falling back to {LOCAL_CLUSTER}")
    return LOCAL_CLUSTER


@pytest.fixture(scope="module")
def runs(layout, request, tmp_path_factory) -> dict[str, dict]:
    """What `local[*]` and the multi-node Spark wrote, each run in the same environment."""
    if layout == CONTAINERS:
        return run_jobs_in_containers(tmp_path_factory.mktemp("spark-standalone"), request.getfixturevalue("image_id"))
    return {"local[*]": run_job(tmp_path_factory.mktemp("spark-local"), "local[*]"),
            "multi": run_job(tmp_path_factory.mktemp("spark-local-cluster"), LOCAL_CLUSTER)}


def test_the_cluster_run_really_had_two_executor_jvms(runs, layout):
    master = runs["multi"]["master"]
    assert master.startswith("spark://127.0.0.1:") if layout == CONTAINERS else master == LOCAL_CLUSTER
    assert runs["multi"]["executors"] == 2
    assert (runs["local[*]"]["master"], runs["local[*]"]["executors"]) == ("local[*]", 0)


def test_the_executors_ran_in_two_worker_containers_on_the_images_python(runs, layout, request):
    if layout != CONTAINERS:
        pytest.skip(f"no containers ({containers_missing()}): ran on {LOCAL_CLUSTER} instead")
    image = request.getfixturevalue("image_id")
    state = runs["multi"]["cluster"]
    assert sorted((w["state"], w["cores"], w["memory"]) for w in state["workers"]) == [("ALIVE", 1, 1024)] * 2
    assert [app["name"] for app in state["completedapps"]] == ["rankops"]  # the job's session, and only it
    image_python = podman("run", "--rm", "--entrypoint", "python", image, "-c",
                          "import platform; print(platform.python_version())")
    assert runs["multi"]["python"] == {"driver": image_python, "executors": [image_python]}
    assert runs["multi"]["left_behind"] == ""  # master, workers and driver removed


def test_gold_is_identical_row_for_row(runs):
    single, multi = runs["local[*]"]["gold"], runs["multi"]["gold"]
    assert sorted(single) == sorted(multi) and all(rows > 0 for rows, _ in single.values())
    assert multi == single


def test_batch_scores_are_identical(runs):
    from tests.support import serving_data as sample

    pairs = len(sample.make_tables(n_queries=8, n_videos=60, seed=3)["training_set"])  # what the job scored
    assert runs["local[*]"]["scored"][0] == pairs
    assert runs["multi"]["scored"] == runs["local[*]"]["scored"]
