"""A real ranker process (uvicorn) closes its impression file on time while idle, and at SIGINT."""

from __future__ import annotations

import json
import signal
import time

import httpx
import pytest

from components.common.config import load_settings
from components.common.net import free_port
from tests.support import serving_data as sample
from tests.support import simulated_users as su

pytestmark = pytest.mark.slow


def wait_ready(url: str, proc, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"server exited with {proc.returncode}"
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("ranker never became ready")


def test_idle_rotation_and_shutdown_close_every_file(tmp_path):
    from tests.support.reference_model import log_reference_model

    home = tmp_path / "home"
    folder = home / "spool" / "replica-0"
    environ = {"RANKOPS_SERVING__IMPRESSION_LOG_DIR": str(folder), "RANKOPS_SERVING__IMPRESSION_ROTATE_S": "2",
               "RANKOPS_SERVING__RELOAD_INTERVAL_S": "0"}
    settings = load_settings("local", environ={"RANKOPS_HOME": str(home), **environ})
    log_reference_model(settings, sample.FEATURES)
    tables = sample.make_tables(n_queries=4, n_videos=30, seed=1)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = su.start_server(home, su.save_tables(tables, tmp_path / "tables"), port, environ)
    ids = tables["videos"]["video_id"].tolist()[:5]
    try:
        wait_ready(url, proc)
        for i in range(3):
            assert httpx.post(f"{url}/rerank", json={"query": "q", "candidates": ids},
                              headers={"x-request-id": f"first-{i}"}, timeout=30).status_code == 200
        time.sleep(5.0)  # rotate_s 2 s, ticked every second: the idle replica's file is closed by now
        [closed] = folder.glob("impressions-*.jsonl")
        assert [json.loads(x)["request_id"] for x in closed.read_text().splitlines()] == [
            "first-0", "first-1", "first-2"]
        assert list(folder.glob("*.open")) == []
        assert httpx.post(f"{url}/rerank", json={"query": "q", "candidates": ids},
                          headers={"x-request-id": "last"}, timeout=30).status_code == 200
        assert len(list(folder.glob("impressions-*.jsonl.open"))) == 1
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    files = sorted(folder.glob("impressions-*.jsonl"))
    assert [f.read_text().count("\n") for f in files] == [3, 1]
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(".jsonl")) == []  # nothing left open
