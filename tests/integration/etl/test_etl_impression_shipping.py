"""Impressions from two ranker replicas reach the lakehouse exactly once.

Two real ranker apps (create_app on a real MLflow registry) play two replicas, each logging into its own
folder of one spool (as each pod's subPathExpr folder of the lakehouse PVC), rotating after every line.
The collector lands only the closed files; the real ETL (Spark) ingests them; after the replicas stop
(their last files close) a second collect + ETL run adds exactly the rest: no line twice, none lost.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from components.common.config import load_settings
from components.common.snapshots import SnapshotStore
from components.etl.collect import collect_impressions
from components.etl.run import run_etl
from components.inference.server import create_app
from components.inference.state import ModelHolder
from tests.support import serving_data as sample

pytestmark = pytest.mark.slow
URI = "models:/rankops-ranker@champion"
SENT = {"replica-a": 4, "replica-b": 3}


def replica(home: Path, name: str, tables):
    """A ranker app whose impression log is `<spool>/<name>` and closes a file before every next line."""
    settings = load_settings("local", environ={
        "RANKOPS_HOME": str(home), "RANKOPS_SERVING__IMPRESSION_LOG_DIR": str(home / "serving/impressions" / name),
        "RANKOPS_SERVING__IMPRESSION_ROTATE_BYTES": "1"})
    return create_app(settings, ModelHolder(settings, URI), sample.frame_source(tables), poll_interval_s=0,
                      freeze_gc=False)


def silver_ids(store: SnapshotStore) -> list[str]:
    return sorted(store.read_pandas(store.latest("silver/impressions"))["request_id"])


def test_two_replicas_rotated_files_are_collected_and_ingested_exactly_once(tmp_path, spark):
    from components.datagen.generate import generate_dataset
    from tests.support.reference_model import log_reference_model

    home = tmp_path / "home"
    settings = load_settings("local", environ={"RANKOPS_HOME": str(home)})
    landing, spool = tmp_path / "landing", Path(settings.resolve(settings.serving.impression_log_dir))
    generate_dataset(landing, impressions=200, days=1, seed=3, dirty_share=0.0)  # the search contract's other kinds
    tables = sample.make_tables(n_queries=6, n_videos=40, seed=2)
    log_reference_model(settings, sample.FEATURES)
    ids = tables["videos"]["video_id"].tolist()[:8]
    sent: dict[str, list[str]] = {}
    with TestClient(replica(home, "replica-a", tables)) as a, TestClient(replica(home, "replica-b", tables)) as b:
        for name, client in (("replica-a", a), ("replica-b", b)):
            sent[name] = []
            for i in range(SENT[name]):
                resp = client.post("/rerank", json={"query": f"q {i}", "candidates": ids},
                                   headers={"x-request-id": f"{name}-{i}"})
                assert resp.status_code == 200, resp.text
                sent[name].append(resp.headers["x-request-id"])
        # each replica: one closed file per line but the last, which is still open
        for name, n in SENT.items():
            assert len(list((spool / name).glob("impressions-*.jsonl"))) == n - 1
            assert len(list((spool / name).glob("impressions-*.jsonl.open"))) == 1
        first = collect_impressions(spool, landing, stale_s=settings.serving.impression_stale_s, batch="ranker-1")
        assert (len(first["moved"]), first["lines"], first["open"]) == (5, 5, 2)
        landed = sorted(json.loads(line)["request_id"] for f in (landing / "ranker-1/impressions").iterdir()
                        for line in f.read_text().splitlines())
        assert landed == sorted(rid for name, rids in sent.items() for rid in rids[:-1])  # never an open file
        summary = run_etl(settings, landing, spark)
    store = SnapshotStore(settings.lakehouse)
    k = summary["by_kind"]["impressions"]
    assert (k["bronze"], k["silver"], k["quarantined"], k["duplicates"]) == (5, 5, 0, 0)
    assert silver_ids(store) == landed

    # the replicas stopped: their last files closed; the next collect lands only those, the ETL adds only them
    second = collect_impressions(spool, landing, stale_s=settings.serving.impression_stale_s, batch="ranker-1")
    assert (len(second["moved"]), second["lines"], second["open"]) == (2, 2, 0)
    assert sorted(p.name for p in spool.rglob("*") if p.is_file()) == []  # nothing left behind, nothing open
    again = run_etl(settings, landing, spark)
    k = again["by_kind"]["impressions"]
    assert (k["bronze"], k["silver"], k["quarantined"], k["duplicates"]) == (7, 7, 0, 0)
    assert len(again["files_already_ingested"]) == len(summary["files_ingested"])  # the first 5 are known
    assert silver_ids(store) == sorted(rid for rids in sent.values() for rid in rids)
