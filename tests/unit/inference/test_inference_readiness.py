"""The ranker on a fresh cluster: no model yet, or a registry out of reach, means "up, not ready,
and here is why", never a crash loop; the model is picked up when it appears, without a restart."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient

from components.common.config import load_settings
from components.inference.server import bound_registry_calls, create_app
from components.inference.state import ModelHolder
from tests.support import serving_data as sample

URI = "models:/rankops-ranker@champion"


def wait_for(predicate, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout_s} s")


def test_no_model_in_the_registry_is_not_ready_with_the_reason_until_one_is_registered(tmp_path):
    from tests.support.reference_model import log_reference_model

    settings = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path)})
    tables = sample.make_tables(n_queries=4, n_videos=20, seed=2)
    app = create_app(settings, ModelHolder(settings, URI), sample.frame_source(tables), poll_interval_s=0.2,
                     freeze_gc=False)
    ids = tables["videos"]["video_id"].tolist()[:5]
    with TestClient(app) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["checks"] == {"model": False, "feature_store": True} and body["model_version"] is None
        assert body["error"].startswith(f"model: {URI}: not in the registry at {settings.tracking_uri}")
        assert c.post("/rerank", json={"query": "cat", "candidates": ids}).status_code == 503
        # the first model is registered (a promotion sets the alias): the poll picks it up, no restart
        log_reference_model(settings, sample.FEATURES, weights=[0.5, 2.0, 3.0, 0.001, 1.5])
        ready = wait_for(lambda: (r := c.get("/readyz")).status_code == 200 and r)
        assert ready.json()["model_version"] == "1" and ready.json()["error"] is None
        resp = c.post("/rerank", json={"query": "cat", "candidates": ids})
        assert resp.status_code == 200 and resp.json()["model_version"] == "1"


@pytest.fixture
def silent_registry():
    """A TCP server that accepts connections and never answers (a registry behind a dropped route)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_registry_that_never_answers_leaves_the_ranker_up_and_says_why(tmp_path, silent_registry, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    settings = load_settings("dev", environ={"RANKOPS_HOME": str(tmp_path),
                                             "RANKOPS_MLFLOW__TRACKING_URI": silent_registry,
                                             "RANKOPS_SERVING__STARTUP_WAIT_S": "0.2"})
    tables = sample.make_tables(n_queries=4, n_videos=20, seed=2)
    app = create_app(settings, ModelHolder(settings, URI), sample.frame_source(tables), poll_interval_s=0,
                     freeze_gc=False)
    with TestClient(app) as c:
        # start-up did not wait for the hanging registry: liveness answers while the load is still pending
        assert c.get("/healthz").status_code == 200
        first = c.get("/readyz")
        assert first.status_code == 503 and first.json()["error"].startswith(f"model: loading {URI} (for ")
        failed = wait_for(lambda: "timed out" in ((r := c.get("/readyz").json())["error"] or "") and r)
        assert failed["checks"] == {"model": False, "feature_store": True}
        assert failed["error"].startswith(f"model: {URI}: not in the registry at {silent_registry}")
        assert c.get("/healthz").status_code == 200


def test_registry_calls_of_the_ranker_are_bounded_unless_set_explicitly(rankops_home):
    limits = load_settings("dev").serving
    environ: dict[str, str] = {}
    bound_registry_calls(limits, environ)
    assert environ == {"MLFLOW_HTTP_REQUEST_TIMEOUT": "10", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2"}
    explicit = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "60"}
    bound_registry_calls(limits, explicit)
    assert explicit == {"MLFLOW_HTTP_REQUEST_TIMEOUT": "60", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2"}
