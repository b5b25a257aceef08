"""The ranker's HTTP contract on a real registry: ordering, bad requests, metrics, hot reload."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from components.inference.model import load_ranker
from components.inference.server import create_app
from components.inference.state import ModelHolder
from tests.support import serving_data as sample

URI = "models:/rankops-ranker@champion"


@pytest.fixture(scope="module")
def client(serving_env):
    settings, tables, _ = serving_env
    app = create_app(settings, ModelHolder(settings, URI), sample.frame_source(tables), poll_interval_s=0,
                     freeze_gc=False)
    with TestClient(app) as c:
        yield c


def test_rerank_orders_by_the_packaged_model_score(serving_env, client):
    settings, tables, _ = serving_env
    ids = tables["videos"]["video_id"].tolist()[:50]
    sent = time.perf_counter()
    resp = client.post("/rerank", json={"query": "cat piano", "candidates": ids})
    round_trip_ms = (time.perf_counter() - sent) * 1e3
    assert resp.status_code == 200
    timing = dict(entry.split(";dur=") for entry in resp.headers["server-timing"].split(", "))
    assert list(timing) == ["app", "wait", "lookup", "score", "log"]  # the server's share, then its stages
    assert 0 < float(timing["app"]) <= round_trip_ms
    assert sum(float(timing[k]) for k in ("wait", "lookup", "score", "log")) <= float(timing["app"])
    body = resp.json()
    assert body["model_name"] == "rankops-ranker" and body["model_version"] == "1"
    expected = load_ranker(settings, URI).predict(sample.frame_source(tables).lookup("cat piano", ids))
    order = np.argsort(-expected, kind="stable")
    assert [r["video_id"] for r in body["results"]] == [ids[i] for i in order]
    assert [r["rank"] for r in body["results"]] == list(range(1, 51))
    assert np.allclose([r["score"] for r in body["results"]], expected[order], atol=1e-9)


def _post(client, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/rerank", content=data, headers={"content-type": content_type})


def test_bad_request_matrix_gets_exact_4xx(serving_env, client):
    settings, tables, _ = serving_env
    vid = tables["videos"]["video_id"].iloc[0]
    limits = settings.serving
    cases = [
        (b"{not json", "application/json", 400),
        (b"", "application/json", 400),
        ({"query": "cat", "candidates": [vid]}, "text/plain", 415),
        ({"query": "cat", "candidates": [vid]}, "application/x-www-form-urlencoded", 415),
        ({"query": 3, "candidates": [vid]}, "application/json", 422),
        ({"query": "cat"}, "application/json", 422),
        ({"query": "cat", "candidates": vid}, "application/json", 422),
        ({"query": "cat", "candidates": [1, 2]}, "application/json", 422),
        ({"query": "cat", "candidates": [vid], "extra": 1}, "application/json", 422),
        ([1, 2, 3], "application/json", 422),
        ({"query": "   ", "candidates": [vid]}, "application/json", 422),
        ({"query": "x" * (limits.max_query_chars + 1), "candidates": [vid]}, "application/json", 422),
        ({"query": "cat", "candidates": []}, "application/json", 422),
        ({"query": "cat", "candidates": [f"v{i}" for i in range(limits.max_candidates + 1)]}, "application/json", 422),
        ({"query": "cat", "candidates": [vid, vid]}, "application/json", 422),
        ({"query": "cat", "candidates": [""]}, "application/json", 422),
        ({"query": "cat", "candidates": ["a\nb"]}, "application/json", 422),
        ({"query": "cat", "candidates": [vid, "ffffffffffffffff"]}, "application/json", 404),
        (b'{"query": "' + b"x" * limits.max_body_bytes + b'", "candidates": []}', "application/json", 413),
    ]
    for body, ctype, status in cases:
        resp = _post(client, body, ctype)
        assert resp.status_code == status, (body if isinstance(body, dict) else body[:60], resp.text)
        assert resp.json()["error"], resp.text
    unknown = _post(client, {"query": "cat", "candidates": [vid, "ffffffffffffffff"]})
    assert unknown.json()["detail"] == {"unknown": ["ffffffffffffffff"]}
    assert client.get("/rerank").status_code == 405
    assert client.get("/nope").status_code == 404


@pytest.mark.parametrize(("field", "value", "error"), [
    ("query", "jazz\ndrums", "query contains the control character U+000A"),
    ("query", "jazz\x7f", "query contains the control character U+007F"),
    ("session_id", "   ", "session_id is blank"),
    ("session_id", "u\x001", "session_id contains the control character U+0000"),
    ("query_id", "", "query_id is blank"),
])
def test_what_the_impression_log_would_quarantine_is_a_422_naming_the_field(serving_env, client, field, value, error):
    """The oracle is the ETL's own check of the impression line the ranker would have written."""
    from components.etl.parse import LineChecker, Reject
    from tests.unit.etl.test_etl_impression_rules import GOOD

    vid = serving_env[1]["videos"]["video_id"].iloc[0]
    logged = json.dumps({**GOOD, "mode": "champion", "arm": "champion", "teams": None, field: value}).encode()
    with pytest.raises(Reject):
        LineChecker("impressions", 1000).check(logged)
    body = {"query": "cat", "candidates": [vid], field: value}
    resp = _post(client, body)
    assert (resp.status_code, resp.json()["error"]) == (422, error)
    tab = {"query": "jazz\tdrums", "candidates": [vid], "session_id": "u 1"}  # TAB and inner spaces: the log takes them
    LineChecker("impressions", 1000).check(json.dumps({**GOOD, "mode": "champion", "arm": "champion", "teams": None,
                                                       "query": tab["query"], "session_id": tab["session_id"]}).encode())
    assert _post(client, tab).status_code == 200


def test_seeded_fuzz_never_gets_a_5xx(serving_env, client):
    from tests.support.fuzz import malformed_requests

    _, tables, _ = serving_env
    ids = tables["videos"]["video_id"].tolist()
    statuses = {}
    for body, ctype in malformed_requests(400, ids, seed=3):
        code = client.post("/rerank", content=body, headers={"content-type": ctype}).status_code
        statuses[code] = statuses.get(code, 0) + 1
    assert not [c for c in statuses if c >= 500], statuses
    assert sum(statuses.values()) == 400 and len(statuses) >= 4


def test_health_ready_and_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"model": True, "feature_store": True}
    text = client.get("/metrics").text
    assert 'rankops_model_info{name="rankops-ranker",version="1"} 1.0' in text
    assert 'rankops_requests_total{endpoint="rerank",status="200"}' in text
    assert "rankops_request_latency_seconds_bucket" in text


def test_not_ready_without_model(serving_env, tmp_path):
    from components.common.config import load_settings

    settings = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path)})
    app = create_app(settings, ModelHolder(settings, "models:/missing@champion"),
                     sample.frame_source(serving_env[1]), poll_interval_s=0, freeze_gc=False)
    with TestClient(app) as c:
        ready = c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["model"] is False
        assert "missing" in ready.json()["error"]
        assert c.post("/rerank", json={"query": "a", "candidates": ["b"]}).status_code == 503


def test_alias_move_reloads_without_failed_requests(serving_env):
    from mlflow import MlflowClient

    from tests.support.reference_model import log_reference_model

    settings, tables, _ = serving_env
    holder = ModelHolder(settings, URI)
    app = create_app(settings, holder, sample.frame_source(tables), poll_interval_s=0.2, freeze_gc=False)
    ids = tables["videos"]["video_id"].tolist()[:20]
    seen, codes, stop = [], [], threading.Event()
    with TestClient(app) as c:
        def hammer():
            while not stop.is_set():
                r = c.post("/rerank", json={"query": "dog", "candidates": ids})
                codes.append(r.status_code)
                seen.append(r.json().get("model_version"))

        worker = threading.Thread(target=hammer)
        worker.start()
        try:
            v2 = log_reference_model(settings, sample.FEATURES, weights=[-1.0, 0, 0, 0, 0], alias=None)
            MlflowClient(settings.tracking_uri, settings.tracking_uri).set_registered_model_alias(
                "rankops-ranker", "champion", v2["version"])
            deadline = time.time() + 20
            while time.time() < deadline and (not seen or seen[-1] != v2["version"]):
                time.sleep(0.05)
            time.sleep(0.1)
        finally:
            stop.set()
            worker.join()
        assert set(codes) == {200}
        assert seen[0] == "1" and seen[-1] == v2["version"]
        # the poll picked up that move; stop it so the next one is /admin/reload's alone (else they race)
        poll = holder._thread
        holder.stop()
        assert not poll.is_alive()
        assert c.post("/admin/reload").json() == {"changed": False, "version": v2["version"]}
        MlflowClient(settings.tracking_uri, settings.tracking_uri).set_registered_model_alias(
            "rankops-ranker", "champion", "1")
        assert c.post("/admin/reload").json() == {"changed": True, "version": "1", "previous": v2["version"]}
        metrics = c.get("/metrics").text
        assert 'rankops_model_info{name="rankops-ranker",version="1"} 1.0' in metrics
        assert f'rankops_model_info{{name="rankops-ranker",version="{v2["version"]}"}} 0.0' in metrics  # replaced


def test_serve_command_pins_version_from_configmap_env(monkeypatch, rankops_home):
    from typer.testing import CliRunner

    import components.inference.server as server
    from pipelines.cli import build_app

    seen = {}
    monkeypatch.setattr(server, "run_server", lambda settings, **kw: seen.update(kw, host_cfg=settings.serving.host))
    runner = CliRunner()
    pinned = runner.invoke(build_app(), ["serve", "--port", "9001"], env={"MODEL_NAME": "rankops-ranker",
                                                                          "MODEL_VERSION": "4"})
    assert pinned.exit_code == 0, pinned.output
    assert seen == {"port": 9001, "host": None, "model_uri": "models:/rankops-ranker/4", "host_cfg": "127.0.0.1"}
    aliased = runner.invoke(build_app(), ["serve", "--alias", "challenger"], env={"MODEL_VERSION": ""})
    assert aliased.exit_code == 0 and seen["model_uri"] == "models:/rankops-ranker@challenger"


def test_feature_store_outage_is_503_not_a_crash(serving_env):
    settings, tables, _ = serving_env

    class Down:
        def lookup(self, query, ids):
            raise ConnectionError("redis: connection refused")

        def ping(self):
            raise ConnectionError("redis: connection refused")

    app = create_app(settings, ModelHolder(settings, URI), Down(), poll_interval_s=0, freeze_gc=False)
    with TestClient(app) as c:
        resp = c.post("/rerank", json={"query": "cat", "candidates": ["a"]})
        assert resp.status_code == 503 and "connection refused" in resp.json()["error"]
        ready = c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"] == {"model": True, "feature_store": False}
        assert 'rankops_errors_total{kind="feature_store"} 1.0' in c.get("/metrics").text
        assert c.get("/healthz").status_code == 200


class CountingSource:
    """The real frame source, counting how many lookups run at once (a slow store widens the window)."""

    def __init__(self, inner):
        self.inner, self.now, self.most, self.lock = inner, 0, 0, threading.Lock()

    def lookup(self, query, video_ids):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.3)
            return self.inner.lookup(query, video_ids)
        finally:
            with self.lock:
                self.now -= 1

    def ping(self):
        return None


@pytest.mark.parametrize("concurrency", [1, 4])
def test_concurrency_bounds_the_requests_scored_at_once(serving_env, concurrency):
    settings, tables, _ = serving_env
    settings = settings.model_copy(update={"serving": settings.serving.model_copy(update={"concurrency": concurrency})})
    source = CountingSource(sample.frame_source(tables))
    ids = tables["videos"]["video_id"].tolist()[:5]
    app = create_app(settings, ModelHolder(settings, URI), source, poll_interval_s=0, freeze_gc=False)
    with TestClient(app) as c:
        codes: list[int] = []
        barrier = threading.Barrier(4)

        def send() -> None:
            barrier.wait()
            codes.append(c.post("/rerank", json={"query": "cat piano", "candidates": ids}).status_code)

        workers = [threading.Thread(target=send) for _ in range(4)]
        [w.start() for w in workers]
        [w.join() for w in workers]
    assert codes == [200] * 4
    if concurrency == 1:
        assert source.most == 1  # queued in front of the model, one at a time
    else:
        assert 1 < source.most <= concurrency  # lookups overlapped: the bound is what serialised them


def test_unknown_ids_are_the_candidates_without_a_title():
    from components.inference.features import unknown_ids

    frame = pd.DataFrame({"video_id": ["a", "b", "c", "d", "e", "f"],
                          "title": ["cat piano", None, float("nan"), "", "   ", pd.NA]})
    assert unknown_ids(frame) == ["b", "c", "d", "e", "f"]
    assert unknown_ids(frame.drop(columns="title")) == []  # a source without text cannot tell
