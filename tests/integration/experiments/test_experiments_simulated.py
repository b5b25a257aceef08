"""Simulated users through a real ranker process: interleaving finds the better model, A/A finds nothing.

BM25 packaged as a model is the champion, a ranker trained on the graded labels the challenger;
`rankops experiment report`'s function reads the server's impression log and the users' clicks.
The many seeded A/A repeats run offline (tests/unit/experiments/test_experiments_aa.py); the one
here goes through the server and the experiment file's reload, lean.
"""

from __future__ import annotations

import signal
import time

import pytest

from components.common.config import load_settings
from components.experiments.report import run_report
from tests.support import simulated_users as su
from tests.support.serving_data import FEATURES

pytestmark = pytest.mark.slow
INTERLEAVED_QUERIES, AA_QUERIES = 800, 150


def test_interleaving_detects_the_trained_model_over_bm25_and_aa_does_not(tmp_path):
    home = tmp_path / "home"
    logs = home / "impressions"
    environ = {"RANKOPS_SERVING__EXPERIMENT_FILE": str(home / "experiment.yaml"),
               "RANKOPS_SERVING__EXPERIMENT_CHECK_S": "0", "RANKOPS_SERVING__IMPRESSION_LOG_DIR": str(logs),
               "RANKOPS_SERVING__RELOAD_INTERVAL_S": "0"}
    settings = load_settings("local", environ={"RANKOPS_HOME": str(home), **environ})
    world = su.make_world(n_queries=40, n_videos=200, seed=0)
    bm25 = su.register(settings, su.Bm25Ranker(), FEATURES, alias="champion")
    trained = su.register(settings, su.fit_linear_ranker(world["tables"]["training_set"], FEATURES), FEATURES,
                          alias=None)
    (home / "experiment.yaml").write_text(f"name: trained-vs-bm25\nmode: interleave\nchampion: {bm25}\n"
                                          f"challenger: {trained}\nlatency_budget_ms: 2000\n")
    port = su.free_port()
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
    better = run_report("trained-vs-bm25", tmp_path / "report", logs)
    assert (better["mode"], better["verdict"], better["queries"]) == ("interleave", "challenger_better",
                                                                      INTERLEAVED_QUERIES)
    assert better["p_value"] < 0.01 and better["fallbacks"] == 0
    assert better["detail"]["wins"] > better["detail"]["losses"]
    assert better["detail"]["queries_to_verdict"] <= INTERLEAVED_QUERIES
    same = run_report("aa", tmp_path / "report-aa", logs)
    assert (same["verdict"], same["queries"]) == ("no_difference", AA_QUERIES) and same["p_value"] >= 0.05
    print(f"interleaving: p={better['p_value']:.2g} after {better['queries']} queries "
          f"(stays < 0.05 from {better['detail']['queries_to_verdict']}); A/A p={same['p_value']:.2g}")
