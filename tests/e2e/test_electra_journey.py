"""The real trained ELECTRA cross-encoder through what a release ships: promotion, serving, skew guard.

This is the local half of `.github/workflows/release.yml` (`pytest tests/integration tests/e2e`
before the staging run): `rankops promote request/approve` (local profile) against a real GitOps
repo in a temp dir, a real `rankops serve` process answering HTTP, hot reload after a promotion, and
`rankops monitor skew` — all with the packaged ELECTRA pyfunc, not a linear stand-in.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from components.common.net import free_port
from components.common.snapshots import SnapshotStore

pytestmark = pytest.mark.slow
RANKOPS = str(Path(sys.executable).parent / "rankops")
PIN = "manifests/overlays/prod/model.env"


def cli(world, *args: str) -> dict:
    """Run `rankops ARGS --summary FILE` in this process; return the summary (exit code 0 required)."""
    from pipelines.cli import build_app

    summary = world.home / "summaries" / f"{args[0]}-{args[1]}-{time.monotonic_ns()}.json"
    res = CliRunner().invoke(build_app(), [*args, "--summary", str(summary)], env=world.env())
    assert res.exit_code == 0, res.output
    return json.loads(summary.read_text())


def expected_ranking(world, version: str, query_id: str) -> tuple[list[str], dict[str, float]]:
    """A query's candidates ordered by the registered model's own scores on the training-set rows."""
    from components.inference.model import load_ranker

    rows = SnapshotStore.read_pandas(world.training_set)
    rows = rows[rows["query_id"] == query_id].reset_index(drop=True)
    scores = load_ranker(world.settings, f"models:/rankops-ranker/{version}").predict(rows)
    by_id = dict(zip(rows["video_id"], map(float, scores), strict=True))
    order = [rows["video_id"][i] for i in np.argsort(-np.asarray(scores), kind="stable")]
    return order, by_id


@pytest.fixture(scope="module")
def registered(electra_world):
    """v1 (two steps of training) and v2 (trained) registered through the real validity gate."""
    from components.registry.register import register_model

    v1 = register_model(electra_world.settings, electra_world.untrained_uri)["version"]
    v2 = register_model(electra_world.settings, electra_world.trained_uri)["version"]
    assert (v1, v2) == ("1", "2")
    return electra_world


@pytest.fixture
def server(registered):
    """A real `rankops serve` process on a free loopback port (stopped at the end); yields its base URL."""
    port = free_port()
    log = registered.home / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([RANKOPS, "serve", "--port", str(port), "--host", "127.0.0.1"], env=registered.env(),
                                stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # torch + MLflow + Feast imports and the model load, on busy cores
        while True:
            assert proc.poll() is None, f"rankops serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"rankops serve not ready in 240 s:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def v1_champion(registered):
    """The nearly untrained v1 made champion: a request (forced: its margin over BM25 is no concern here), approved."""
    req = cli(registered, "promote", "request", "1", "--force", "--by", "alice")
    assert (req["decision"]["reference"], req["champion_seen"], req["staging"]["passed"]) == ("bm25", None, True)
    approved = cli(registered, "promote", "approve", req["request_id"], "--by", "bob", "--note", "baseline")
    assert (approved["from_version"], approved["to_version"]) == (None, "1")
    return registered


def test_serve_reranks_with_electra_and_reloads_after_a_promotion(v1_champion, server):
    world = v1_champion
    rows = SnapshotStore.read_pandas(world.training_set)
    query_id = sorted(rows.loc[rows["split"] == "test", "query_id"].unique())[0]
    query = rows.loc[rows["query_id"] == query_id, "query_text"].iloc[0]
    order, by_id = expected_ranking(world, "1", query_id)
    candidates = sorted(order)  # the request's own order is not the answer

    first = httpx.post(f"{server}/rerank", json={"query": f"  {query.upper()} ", "candidates": candidates}, timeout=60)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["model_name"], body["model_version"]) == ("rankops-ranker", "1")
    assert [r["video_id"] for r in body["results"]] == order
    assert max(abs(r["score"] - by_id[r["video_id"]]) for r in body["results"]) <= 1e-5

    # v2 against the champion v1: the real comparison says promote; a data expert approves
    req = cli(world, "promote", "request", "2", "--by", "alice")
    assert (req["decision"]["promote"], req["decision"]["reference"], req["champion_seen"]) == (True, "champion v1", "1")
    assert req["decision"]["p_value"] < world.settings.evaluation.alpha and req["decision"]["delta"] > 0
    assert req["staging"]["passed"] is True
    approved = cli(world, "promote", "approve", req["request_id"], "--by", "bob")
    assert (approved["from_version"], approved["to_version"]) == ("1", "2")
    gitops = Path(world.settings.promotion.git_repo)  # main of the GitOps repo now pins v2
    pin = subprocess.run(["git", "show", f"main:{PIN}"], cwd=gitops, capture_output=True, text=True, check=True)
    assert pin.stdout.endswith("MODEL_VERSION=2\n")

    reload = httpx.post(f"{server}/admin/reload", timeout=120)
    assert reload.json() == {"changed": True, "version": "2", "previous": "1"}
    order2, by_id2 = expected_ranking(world, "2", query_id)
    second = httpx.post(f"{server}/rerank", json={"query": query, "candidates": candidates}, timeout=60).json()
    assert second["model_version"] == "2"
    assert [r["video_id"] for r in second["results"]] == order2
    assert max(abs(r["score"] - by_id2[r["video_id"]]) for r in second["results"]) <= 1e-5
    metrics = httpx.get(f"{server}/metrics", timeout=10).text
    served = [line for line in metrics.splitlines() if line.startswith("rankops_model_info{")]
    assert sorted(served) == ['rankops_model_info{name="rankops-ranker",version="1"} 0.0',  # replaced
                              'rankops_model_info{name="rankops-ranker",version="2"} 1.0']


def test_monitor_skew_with_the_electra_model(registered, tmp_path):
    from pipelines.cli import build_app

    world = registered
    ok = cli(world, "monitor", "skew", "--model", "models:/rankops-ranker/2", "--sample", "40")
    assert (ok["passed"], ok["pairs"], ok["feature_mismatch_count"]) == (True, 40, 0)
    assert ok["score_max_abs_diff"] <= 1e-5

    # a training set whose video_ctr no longer matches the online store: exit 3, the column named
    lake = SnapshotStore(world.settings.lakehouse)
    rows = SnapshotStore.read_pandas(world.training_set)
    rows["video_ctr"] = rows["video_ctr"] + 0.25
    tampered = lake.write("features/training_set_tampered", rows, extra=world.training_set.manifest["extra"])
    summary = tmp_path / "skew.json"
    res = CliRunner().invoke(build_app(), ["monitor", "skew", "--model", "models:/rankops-ranker/2", "--training-set",
                                           tampered.ref, "--sample", "40", "--summary", str(summary)], env=world.env())
    assert res.exit_code == 3, res.output
    bad = json.loads(summary.read_text())
    assert (bad["passed"], bad["feature_mismatch_count"]) == (False, 40)
    assert {m["column"] for m in bad["feature_mismatches"]} == {"video_ctr"}
