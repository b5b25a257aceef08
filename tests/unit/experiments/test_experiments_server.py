"""Experiments in the ranker app on a real registry: routing, the impression log, fallback, stop on reload."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from components.common.config import load_settings
from components.etl.parse import LineChecker
from components.inference.experiments import assign_arm, team_draft
from components.inference.impressions import IMPRESSION_FIELDS
from components.inference.model import load_ranker
from components.inference.server import create_app
from components.inference.state import ModelHolder
from tests.support import serving_data as sample

URI = "models:/rankops-ranker@champion"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Champion v1 and challenger v2 (reference rankers with other weights), v3 misbehaving."""
    from tests.support.experiment_models import log_misbehaving_model
    from tests.support.reference_model import log_reference_model

    home = tmp_path_factory.mktemp("experiment-home")
    environ = {"RANKOPS_HOME": str(home), "RANKOPS_SERVING__EXPERIMENT_FILE": str(home / "experiment.yaml"),
               "RANKOPS_SERVING__EXPERIMENT_CHECK_S": "0"}
    settings = load_settings("local", environ=environ)
    tables = sample.make_tables(n_queries=12, n_videos=60, seed=3)
    log_reference_model(settings, sample.FEATURES, weights=[0.5, 2.0, 3.0, 0.001, 1.5])
    log_reference_model(settings, sample.FEATURES, weights=[-1.0, 0.1, -3.0, 0.002, 4.0], alias=None)
    assert log_misbehaving_model(settings, sample.FEATURES) == "3"
    return settings, tables, home


def pin(home: Path, text: str) -> None:
    path = home / "experiment.yaml"
    path.write_text(text)


def wait_live(client, active: bool = True, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.post("/admin/reload")  # re-reads the file at once
        status = client.get("/experiment").json()
        if status["active"] is active:
            return status
        time.sleep(0.2)
    raise AssertionError(f"experiment never became active={active}: {status}")


def log_rows(home: Path, kind: str = "impressions") -> list[dict]:
    # the running app's file is still open (`.jsonl.open`); closed ones are `.jsonl`
    return [json.loads(line) for f in sorted((home / "serving" / "impressions").glob(f"{kind}-*.jsonl*"))
            for line in f.read_text().splitlines()]


def order_by(settings, version: str, tables, query: str, ids: list[str]) -> list[str]:
    scores = load_ranker(settings, f"models:/rankops-ranker/{version}").predict(
        sample.frame_source(tables).lookup(query, ids))
    return [ids[i] for i in np.argsort(-scores, kind="stable")]


@pytest.fixture
def client(env):
    settings, tables, home = env
    pin(home, "")
    for f in (home / "serving" / "impressions").glob("*.jsonl*"):
        f.unlink()
    app = create_app(settings, ModelHolder(settings, URI), sample.frame_source(tables), poll_interval_s=0,
                     freeze_gc=False)
    with TestClient(app) as c:
        yield c


def test_interleave_serves_the_team_draft_and_logs_exact_fields(env, client):
    settings, tables, home = env
    pin(home, "name: exp-int\nmode: interleave\nchampion: 1\nchallenger: 2\nlatency_budget_ms: 5000\n")
    wait_live(client)
    ids = tables["videos"]["video_id"].tolist()[:20]
    resp = client.post("/rerank", json={"query": "cat piano", "candidates": ids, "session_id": "s1",
                                        "query_id": "q-cat"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    rid = body["request_id"]
    assert resp.headers["x-request-id"] == rid
    expected, teams = team_draft(order_by(settings, "1", tables, "cat piano", ids),
                                 order_by(settings, "2", tables, "cat piano", ids), random.Random(rid))
    assert [r["video_id"] for r in body["results"]] == expected
    [row] = log_rows(home)
    assert tuple(row) == IMPRESSION_FIELDS
    assert row["ts"].endswith("Z") and row["ts"][:10] == time.strftime("%Y-%m-%d", time.gmtime())
    assert {k: row[k] for k in IMPRESSION_FIELDS if k not in ("ts", "latency_ms")} == {
        "request_id": rid, "session_id": "s1", "query_id": "q-cat", "query": "cat piano", "experiment": "exp-int",
        "mode": "interleave", "arm": None, "champion_version": "1", "challenger_version": "2",
        "video_ids": expected, "teams": teams, "fallback": False, "fallback_reason": None}
    assert 0 < row["latency_ms"] < 5000


def test_ab_assigns_by_session_and_serves_that_arms_ranking(env, client):
    settings, tables, home = env
    pin(home, "name: exp-ab\nmode: ab\nchampion: '1'\nchallenger: '2'\nshare: 0.5\nlatency_budget_ms: 5000\n")
    wait_live(client)
    ids = tables["videos"]["video_id"].tolist()[:15]
    sessions = [f"user-{i}" for i in range(8)]
    for s in sessions:
        assert client.post("/rerank", json={"query": "dog", "candidates": ids, "session_id": s}).status_code == 200
    rows = log_rows(home)
    arms = {"champion": order_by(settings, "1", tables, "dog", ids),
            "challenger": order_by(settings, "2", tables, "dog", ids)}
    assert arms["champion"] != arms["challenger"]
    assert [r["arm"] for r in rows] == [assign_arm("exp-ab", s, 0.5) for s in sessions]
    assert {r["arm"] for r in rows} == {"champion", "challenger"}
    for row in rows:
        assert row["mode"] == "ab" and row["teams"] is None and row["video_ids"] == arms[row["arm"]]


def test_shadow_serves_the_champion_and_logs_challenger_scores(env, client):
    settings, tables, home = env
    pin(home, "name: exp-sh\nmode: shadow\nchampion: 1\nchallenger: 2\nlatency_budget_ms: 5000\n")
    wait_live(client)
    ids = tables["videos"]["video_id"].tolist()[:10]
    body = client.post("/rerank", json={"query": "jazz drums", "candidates": ids}).json()
    assert [r["video_id"] for r in body["results"]] == order_by(settings, "1", tables, "jazz drums", ids)
    [row] = log_rows(home)
    assert (row["mode"], row["arm"], row["session_id"]) == ("shadow", "champion", body["request_id"])
    [shadow] = log_rows(home, "shadow")
    frame = sample.frame_source(tables).lookup("jazz drums", ids)
    assert shadow["candidates"] == ids and shadow["request_id"] == body["request_id"]
    assert np.allclose(shadow["challenger_scores"], load_ranker(settings, "models:/rankops-ranker/2").predict(frame))
    assert np.allclose(shadow["champion_scores"], load_ranker(settings, URI).predict(frame))


def test_failing_or_slow_challenger_falls_back_and_is_counted(env, client):
    settings, tables, home = env
    pin(home, "name: exp-bad\nmode: interleave\nchampion: 1\nchallenger: 3\nlatency_budget_ms: 150\n")
    wait_live(client)
    ids = tables["videos"]["video_id"].tolist()[:10]
    champion = order_by(settings, "1", tables, "boom cat", ids)
    for query in ("boom cat", "sloth cat", "cat", "nan cat"):
        assert client.post("/rerank", json={"query": query, "candidates": ids}).status_code == 200
    rows = log_rows(home)
    assert [(r["fallback"], (r["fallback_reason"] or "").split(":")[0]) for r in rows] == [
        (True, "error"), (True, "latency"), (False, ""), (True, "error")]
    assert rows[3]["fallback_reason"] == "error: challenger returned 10 non-finite score(s)"
    assert rows[0]["fallback_reason"] == "error: RuntimeError: challenger exploded"
    assert rows[0]["video_ids"] == champion and rows[0]["teams"] is None
    assert rows[1]["latency_ms"] < 450  # answered at the budget, not after the challenger's 500 ms
    assert rows[2]["teams"] is not None
    checker = LineChecker("impressions", 1000)  # the ETL ingests fallbacks too: counted, never quarantined
    assert [checker.check(json.dumps(r).encode())["fallback"] for r in rows] == [True, True, False, True]
    metrics = client.get("/metrics").text
    assert 'rankops_experiment_fallbacks_total{experiment="exp-bad",reason="error"} 2.0' in metrics
    assert 'rankops_experiment_fallbacks_total{experiment="exp-bad",reason="latency"} 1.0' in metrics
    # A/B: a session on the challenger arm gets the champion's list, and stays in its arm (intention to treat)
    pin(home, "name: exp-bad-ab\nmode: ab\nchampion: 1\nchallenger: 3\nlatency_budget_ms: 150\n")
    wait_live(client)
    session = next(f"u{i}" for i in range(100) if assign_arm("exp-bad-ab", f"u{i}", 0.5) == "challenger")
    client.post("/rerank", json={"query": "boom cat", "candidates": ids, "session_id": session})
    last = log_rows(home)[-1]
    assert (last["mode"], last["arm"], last["fallback"], last["video_ids"]) == ("ab", "challenger", True, champion)


def test_experiment_stops_on_file_change_and_a_bad_file_says_why(env, client):
    settings, tables, home = env
    pin(home, "name: exp-stop\nmode: interleave\nchampion: 1\nchallenger: 2\n")
    wait_live(client)
    ids = tables["videos"]["video_id"].tolist()[:10]
    client.post("/rerank", json={"query": "cat", "candidates": ids})
    pin(home, "")  # the ConfigMap emptied: the next request is champion-only, no restart
    client.post("/rerank", json={"query": "cat", "candidates": ids})
    pin(home, "name: exp-stop\nmode: sideways\nchampion: 1\nchallenger: 2\n")
    client.post("/rerank", json={"query": "cat", "candidates": ids})
    rows = log_rows(home)
    assert [(r["mode"], r["experiment"]) for r in rows] == [("interleave", "exp-stop"), ("champion", None),
                                                            ("champion", None)]
    assert rows[1]["video_ids"] == order_by(settings, "1", tables, "cat", ids)
    status = client.get("/experiment").json()
    assert status["active"] is False and status["error"].startswith(f"{home / 'experiment.yaml'}: mode: ")


def test_experiment_naming_another_champion_stays_idle(env, client):
    _, tables, home = env
    pin(home, "name: exp-old\nmode: ab\nchampion: 7\nchallenger: 2\n")
    client.post("/admin/reload")
    deadline = time.monotonic() + 30
    while client.get("/experiment").json()["challenger_version"] is None and time.monotonic() < deadline:
        time.sleep(0.2)
    status = client.get("/experiment").json()
    assert status["active"] is False and status["error"] == "champion is version 1, the experiment names 7"


def test_experiment_pinned_in_the_profile_without_a_file(env):
    from components.inference.experiments import ExperimentState
    from components.inference.settings import ExperimentSettings

    settings = env[0].model_copy(deep=True)
    settings.serving.experiment_file = None
    settings.serving.experiment = ExperimentSettings(name="prof", mode="shadow", champion=1, challenger=2)
    state = ExperimentState(settings, None)
    deadline = time.monotonic() + 30
    while state.challenger is None and time.monotonic() < deadline:
        time.sleep(0.1)
    exp, challenger = state.active("1")
    assert (exp.name, exp.champion, challenger.version, challenger.name) == ("prof", "1", "2", "rankops-ranker")
    assert state.active("2") == (None, None)  # the ranker serves another champion: idle
    state.refresh(force=True)  # no file: nothing to re-read, the profile's experiment stays
    assert state.active("1")[0] is exp
    state.close()
