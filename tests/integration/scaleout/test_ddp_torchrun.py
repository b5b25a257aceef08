"""Two gloo ranks under torchrun reach the weights of one process with the same global batch.

The production loop (components/training/engine.py `fit`) runs in both layouts: one process with
micro-batches of 8 and gradient accumulation 2, and two ranks with micro-batches of 8 each, whose
gradients DDP averages. Same global batch of 16, same optimiser steps, so the final weights must
agree. Tolerance: 1e-6 absolute on every parameter (measured here: 0.0, bitwise equal, since the
mean of two fp32 gradients is the same sum in both layouts); a different global batch moves them
by orders of magnitude more, which the last test checks so the tolerance means something.

Where podman is here (required in .ci/run), the two ranks also run as two nodes: two containers
of the project image (built from this tree once per session), each `torchrun --nnodes 2
--nproc-per-node 1`, meeting through c10d rendezvous on 127.0.0.1 (host network) and training
with gloo, under the cluster's pod security. Same job, same tolerance.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.containers import containers_or_skip

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]
TOLERANCE = 1e-6


def train(out: Path, batch: int, accumulation: int, ranks: int = 1) -> dict:
    import torch

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks)] \
        if ranks > 1 else [sys.executable]  # torchrun; --standalone picks a free rendezvous port
    proc = subprocess.run([*launcher, "-m", "tests.support.ddp_job", str(out), str(batch), str(accumulation)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return torch.load(out)


def train_in_two_containers(out_dir: Path, image: str, batch: int) -> dict:
    """Two nodes of one rank each, a container per node; what rank 0 saved."""
    import torch
    from docker.types import Mount

    from components.common.net import free_port
    from pipelines.containers.engine import open_engine, pod_security
    from pipelines.containers.run import writable_dir
    from pipelines.containers.spark_cluster import log_tail, worker_address

    (out_dir / "empty").mkdir(parents=True)
    args = pod_security(out_dir / "empty")
    args["mounts"] += [Mount("/mnt/out", str(writable_dir(out_dir / "out")), type="bind"),
                       Mount("/app/tests", str(REPO / "tests"), type="bind", read_only=True)]  # the job script
    port, run = free_port(), f"ddp-test-{os.getpid()}"
    engine = open_engine()
    containers = []
    try:
        # Node 0 hosts the rendezvous store. Each node has its own address, as a pod has its own IP:
        # torchrun names a node by address and pid, and on one address the two containers' torchruns
        # (pid 2 under tini in both) were one node to the rendezvous, which then timed out.
        for node in range(2):
            containers.append(engine.client.containers.run(
                image, entrypoint=["tini", "--"], detach=True, network_mode="host", labels={"rankops.run": run},
                name=f"rankops-ddp-node{node}-{run}", environment={"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"},
                command=["torchrun", "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d",
                         "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", run, "--local-addr", worker_address(node),
                         "--rdzv-conf", f"is_host={str(node == 0).lower()},join_timeout=120",
                         "-m", "tests.support.ddp_job", "/mnt/out/two.pt", str(batch), "1"], **args))
        codes = [c.wait(timeout=600)["StatusCode"] for c in containers]
        assert codes == [0, 0], [log_tail(c, 30) for c in containers]
        return torch.load(out_dir / "out" / "two.pt")
    finally:
        for container in containers:
            container.remove(force=True)
        engine.close()


def max_difference(a: dict, b: dict) -> float:
    assert sorted(a) == sorted(b)
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("ddp")
    return {"one": train(tmp / "one.pt", 8, 2), "two": train(tmp / "two.pt", 8, 1, ranks=2),
            "smaller_batch": train(tmp / "small.pt", 8, 1)}


def test_two_ranks_take_the_same_steps_as_one_process(runs):
    rows = runs["one"]["rows"]
    assert rows % 16 == 0 and runs["two"]["rows"] == rows
    assert runs["one"]["steps"] == runs["two"]["steps"] == 2 * rows // 16  # two epochs of global batches of 16


def test_two_ranks_reach_the_weights_of_one_process(runs):
    assert max_difference(runs["one"]["state"], runs["two"]["state"]) <= TOLERANCE


def test_another_global_batch_ends_elsewhere(runs):
    """Guards the tolerance: half the global batch (twice the steps) is far outside it."""
    assert runs["smaller_batch"]["steps"] == 2 * runs["one"]["steps"]
    assert max_difference(runs["one"]["state"], runs["smaller_batch"]["state"]) > 1000 * TOLERANCE


@pytest.fixture(scope="module")
def container_run(request, tmp_path_factory) -> dict:
    containers_or_skip()
    return train_in_two_containers(tmp_path_factory.mktemp("ddp-containers"), request.getfixturevalue("image_id"), 8)


def test_two_containers_as_two_nodes_reach_the_weights_of_one_process(runs, container_run):
    assert (container_run["world"], container_run["local_world"]) == (2, 1)  # two nodes of one rank each
    assert (container_run["rows"], container_run["steps"]) == (runs["one"]["rows"], runs["one"]["steps"])
    assert max_difference(runs["one"]["state"], container_run["state"]) <= TOLERANCE
