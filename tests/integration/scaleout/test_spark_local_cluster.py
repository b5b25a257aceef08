"""The ETL and batch scoring give identical snapshots on one JVM and on a multi-executor Spark.

Which multi-node Spark: `local-cluster[2,1,1024]` -- a real standalone master and worker inside
the driver's JVM that launch two separate executor JVMs (1 core, 1 GiB each), so shuffles and
Python workers cross process boundaries as they do between executor pods. The issue's first
choice, a standalone master and two workers in podman containers from the project image, is not
what this test uses: the image is built on another branch (docker/), and a 4 GB image build per
CI run does not fit the 2-core budget.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]
MULTI = "local-cluster[2,1,1024]"


def run_job(home: Path, master: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not (k.startswith("RANKOPS_") and "__" in k)}
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    proc = subprocess.run([sys.executable, "-m", "tests.support.spark_job", str(home), master], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict]:
    return {master: run_job(tmp_path_factory.mktemp("spark-" + master[:5]), master)
            for master in ("local[*]", MULTI)}


def test_the_cluster_run_really_had_two_executor_jvms(runs):
    assert (runs[MULTI]["master"], runs[MULTI]["executors"]) == (MULTI, 2)
    assert (runs["local[*]"]["master"], runs["local[*]"]["executors"]) == ("local[*]", 0)


def test_gold_is_identical_row_for_row(runs):
    single, multi = runs["local[*]"]["gold"], runs[MULTI]["gold"]
    assert sorted(single) == sorted(multi) and all(rows > 0 for rows, _ in single.values())
    assert multi == single


def test_batch_scores_are_identical(runs):
    from tests.support import serving_data as sample

    pairs = len(sample.make_tables(n_queries=8, n_videos=60, seed=3)["training_set"])  # what the job scored
    assert runs["local[*]"]["scored"][0] == pairs
    assert runs[MULTI]["scored"] == runs["local[*]"]["scored"]
