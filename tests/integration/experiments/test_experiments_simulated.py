"""Simulated users through a real ranker process: interleaving finds the better model, A/A finds nothing.

BM25 packaged as a model is the champion, the project's ELECTRA cross-encoder trained on the world's
graded labels (local profile, real `train` and `register_model`) the challenger; `rankops experiment
report`'s function reads the server's impression log and the users' clicks. How many queries an A/B
test of CTR@10 needs for the same verdict is measured offline on the same two rankings (same click
model). The many seeded A/A repeats run offline (tests/unit/experiments/test_experiments_aa.py); the
one here goes through the server and the experiment file's reload, lean.
"""

from __future__ import annotations

import signal
import time

import pytest
from mlflow.tracking import MlflowClient

from components.common.config import load_settings
from components.common.net import free_port
from components.experiments.report import run_report
from components.experiments.stats import ab_summary
from tests.support import simulated_users as su
from tests.support.serving_data import FEATURES

pytestmark = pytest.mark.slow
INTERLEAVED_QUERIES, AA_QUERIES, AB_MAX_QUERIES = 800, 150, 20_000


def test_interleaving_detects_the_trained_electra_over_bm25_and_aa_does_not(tmp_path):
    home = tmp_path / "home"
    logs = home / "impressions"
    environ = {"RANKOPS_SERVING__EXPERIMENT_FILE": str(home / "experiment.yaml"),
               "RANKOPS_SERVING__EXPERIMENT_CHECK_S": "0", "RANKOPS_SERVING__IMPRESSION_LOG_DIR": str(logs),
               "RANKOPS_SERVING__RELOAD_INTERVAL_S": "0", "RANKOPS_REGISTRY__WRITE_BACK": "false"}
    settings = load_settings("local", environ={"RANKOPS_HOME": str(home), **environ})
    world = su.make_world(**su.WORLD)
    bm25 = su.register_pyfunc(settings, su.Bm25Ranker(), FEATURES, alias="champion")
    electra = su.train_electra(settings, world)
    trained = electra["version"]
    params = MlflowClient(settings.tracking_uri).get_run(electra["run_id"]).data.params
    profile = settings.training.model  # the local profile's model, not a test-sized one
    assert (params["model.family"], params["model.hidden_size"], params["model.num_layers"]) == (
        "electra", str(profile.hidden_size), str(profile.num_layers))
    assert params["n_model_inputs"] == str(len(FEATURES) + 3)  # numeric features + BM25 and two coverages
    (home / "experiment.yaml").write_text(f"name: trained-vs-bm25\nmode: interleave\nchampion: {bm25}\n"
                                          f"challenger: {trained}\nlatency_budget_ms: 2000\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = su.start_server(home, su.save_tables(world["tables"], tmp_path / "tables"), port, environ)
    try:
        assert su.wait_live(url, proc)["challenger_version"] == trained
        su.send_traffic(url, world["queries"], world["candidates"], world["grades"], INTERLEAVED_QUERIES, seed=1,
                        clicks_path=logs / "clicks-sim.jsonl")
        # A/A: the same version twice, switched on by editing the file under the running process
        (home / "experiment.yaml").write_text(f"name: aa\nmode: interleave\nchampion: {bm25}\nchallenger: {bm25}\n"
                                              "latency_budget_ms: 2000\n")
        time.sleep(0.05)
        assert su.wait_live(url, proc, timeout=60)["experiment"]["name"] == "aa"
        su.send_traffic(url, world["queries"], world["candidates"], world["grades"], AA_QUERIES, seed=2,
                        clicks_path=logs / "clicks-sim.jsonl")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    better = run_report("trained-vs-bm25", tmp_path / "report", logs, alpha=0.01)  # the verdict at p < 0.01
    assert (better["mode"], better["verdict"], better["queries"]) == ("interleave", "challenger_better",
                                                                      INTERLEAVED_QUERIES)
    assert better["p_value"] < 0.01 and better["fallbacks"] == 0
    assert better["detail"]["wins"] > better["detail"]["losses"]
    assert better["detail"]["queries_to_verdict"] <= INTERLEAVED_QUERIES
    same = run_report("aa", tmp_path / "report-aa", logs)
    assert (same["verdict"], same["queries"]) == ("no_difference", AA_QUERIES) and same["p_value"] >= 0.05
    # the same verdict by an A/B test of CTR@10: the same two rankings and click model, offline
    champion, challenger = (su.rankings(settings, f"models:/rankops-ranker/{v}", world) for v in (bm25, trained))
    rows = su.offline_ab(champion, challenger, world["grades"], AB_MAX_QUERIES, seed=1)
    ab = ab_summary(rows, {r["request_id"]: r["clicks"] for r in rows}, alpha=0.01)
    assert ab["verdict"] == "challenger_better"
    assert ab["queries_to_verdict"] > better["detail"]["queries_to_verdict"]
    print(f"ELECTRA ({electra['steps']} steps, validation NDCG@10 {electra['metrics']['ndcg_at_10']:.3f}) vs BM25: "
          f"interleaving p={better['p_value']:.2g} after {better['queries']} queries (stays < 0.01 from "
          f"{better['detail']['queries_to_verdict']}); A/B of CTR@10 stays < 0.01 from {ab['queries_to_verdict']} "
          f"queries (offline, one seed); A/A p={same['p_value']:.2g}")
