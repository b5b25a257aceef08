"""Monitoring verdicts on constructed windows: drift, no drift, label flip, quality, exactly-once trigger."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.common.snapshots import SnapshotStore
from components.monitoring.alerts import act_on_event, act_on_pending, kfp_trigger, list_events
from components.monitoring.drift import psi
from components.monitoring.performance import ctr_at_k, ndcg_at_k
from components.monitoring.run import MonitorInputError, run_monitor
from tests.support import serving_data as sample

EXTRA = {"features": sample.FEATURES, "text_columns": ["query_text", "title", "description"]}


def scored(seed: int, n_queries: int = 150) -> pd.DataFrame:
    """A scored window: a decent model (score follows the label) over fresh pairs."""
    df = sample.make_tables(n_queries=n_queries, n_videos=300, seed=seed)["training_set"]
    rng = np.random.default_rng(seed)
    df["score"] = df["label"] + rng.normal(0, 0.3, len(df))
    df["qv_impressions"] = 10
    df["qv_clicks"] = (df["label"] * 2).astype(int)
    return df


def publish(settings, table: str, df: pd.DataFrame) -> str:
    return SnapshotStore(settings.lakehouse).write(table, df, extra=EXTRA, publish=True).ref


def test_psi_gives_a_heavy_value_its_own_bin():
    """96 % zeros (a pair CTR in a training set): the reference deciles were [0, 1], one bin spanning
    everything, so PSI was 0 whatever the current window held. Zero is now a bin of its own:
    p = (0.96, 0.04), q = (0.5, 0.5), PSI = 0.46 ln(0.5/0.04) - 0.46 ln(0.5/0.96) = 0.46 ln 24."""
    ref = np.array([0.0] * 96 + [1.0] * 4)
    assert psi(ref, np.array([0.0] * 50 + [1.0] * 50)) == pytest.approx(0.46 * np.log(24))
    assert psi(ref, ref[::-1]) == 0.0
    # a constant reference: the share equal to it, and the rest (floored at 1e-4)
    assert psi([2.0] * 10, [2.0] * 5 + [3.0] * 5) == pytest.approx(0.5 * np.log(2) + (0.5 - 1e-4) * np.log(0.5 / 1e-4))
    # no heavy value: the plain decile PSI, computed here from np.percentile edges
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=4000), rng.normal(0.3, 1.0, size=3000)
    edges = np.percentile(a, np.arange(10, 100, 10))
    pa = np.bincount(np.searchsorted(edges, a, side="right"), minlength=10) / len(a)
    pb = np.bincount(np.searchsorted(edges, b, side="right"), minlength=10) / len(b)
    assert psi(a, b) == pytest.approx(float(np.sum((pb - pa) * np.log(pb / pa))))


def test_psi_and_metric_helpers_exact():
    rng = np.random.default_rng(0)
    a = rng.normal(size=5000)
    assert psi(a, a) == 0.0
    assert psi(a, a + 1.0) > 0.5
    df = pd.DataFrame({"query_id": ["a"] * 3 + ["b"] * 3, "video_id": ["x", "y", "z"] * 2,
                       "score": [3, 2, 1, 1, 2, 3], "label": [3, 2, 0, 3, 2, 0],
                       "qv_clicks": [5, 1, 0, 5, 1, 0], "qv_impressions": [10] * 6})
    value, n = ndcg_at_k(df, 10)
    assert n == 2 and value == pytest.approx((1.0 + (2 / np.log2(3) + 3 / np.log2(4)) / (3 + 2 / np.log2(3))) / 2)
    assert ctr_at_k(df, 1) == pytest.approx((5 + 0) / 20)
    rates = df.drop(columns="qv_clicks").assign(qv_ctr=[0.5, 0.1, 0, 0.5, 0.1, 0], qv_impressions=[10, 10, 10, 30, 10, 10])
    assert ctr_at_k(rates, 1) == pytest.approx((0.5 * 10 + 0 * 10) / 20)
    # a tie at the cut-off: the lower video id is in the top-1 whatever the rows' order (x: 4/10, y: 1/10)
    tied = pd.DataFrame({"query_id": ["a", "a"], "video_id": ["y", "x"], "score": [2.0, 2.0],
                         "qv_clicks": [1, 4], "qv_impressions": [10, 10]})
    assert ctr_at_k(tied, 1) == ctr_at_k(tied.iloc[::-1], 1) == pytest.approx(4 / 10)


def test_same_distribution_is_not_a_breach(settings):
    ref = publish(settings, "inference/scored", scored(1))
    cur = publish(settings, "inference/scored", scored(2))
    result = run_monitor(settings, reference=ref, current=cur, html=False)
    assert result["breaches"] == [] and result["breach"] is False and result["event"] is None
    assert result["drift"]["drifted"] == 0 and result["drift"]["columns"] == len(sample.FEATURES) + 6
    judged = int((scored(2).groupby("query_id")["label"].max() > 0).sum())  # queries with a relevant candidate
    assert result["performance"]["ndcg_current"] > 0.9 and result["performance"]["queries_current"] == judged
    assert json.loads(open(result["report"]["json"]).read())["breach"] is False


def test_shifted_batch_drifts_and_records_one_event(settings):
    ref = publish(settings, "inference/scored", scored(1))
    shifted = scored(2)
    shifted["video_ctr"] = shifted["video_ctr"] + 0.4
    shifted["duration_s"] = shifted["duration_s"] * 3
    shifted["title"] = shifted["title"] + " extra words in every title now"
    shifted["score"] = shifted["score"] + 2.0
    cur = publish(settings, "inference/scored", shifted)
    result = run_monitor(settings, reference=ref, current=cur, html=False)
    drifted = [d["column"] for d in result["drift"]["per_column"] if d["drifted"]]
    assert drifted == ["video_ctr", "duration_s", "title_len", "title_tokens"]
    assert [b["check"] for b in result["breaches"]] == ["feature_drift", "score_drift"]
    feature, score = result["breaches"]
    assert feature["message"].startswith("4 of 11 columns drifted, share 0.364 >= 0.3: video_ctr (PSI ")
    assert "title_tokens (chi-square p " in feature["message"] and ", per video)" in feature["message"]
    assert feature["source"].startswith("profile local: monitoring.drift_share_threshold; per column PSI > 0.2 "
                                        "(profile local: monitoring.psi_threshold) and KS p < 0.01")
    assert score["message"].startswith(f"score PSI {score['value']:.3f} > 0.2 and KS p ")
    assert score["message"].endswith(f"over {len(shifted)} rows (profile local: monitoring.score_psi_threshold, "
                                     "profile local: monitoring.ks_pvalue_threshold)")
    assert result["event"]["created"] is True
    again = run_monitor(settings, reference=ref, current=cur, html=False)
    assert again["event"] == {**result["event"], "created": False}
    assert [e["breach_id"] for e in list_events(settings)] == [result["event"]["breach_id"]]


def test_label_flip_is_a_performance_breach(settings):
    ref = publish(settings, "inference/scored", scored(1))
    flipped = scored(2)
    flipped["label"] = 3 - flipped["label"]
    cur = publish(settings, "inference/scored", flipped)
    result = run_monitor(settings, reference=ref, current=cur, html=False)
    assert [b["check"] for b in result["breaches"]] == ["ndcg_drop"]
    perf = result["performance"]
    # expected from scikit-learn (no score ties here; every query has 10 candidates and a relevant one)
    from sklearn.metrics import ndcg_score

    by_query = [ndcg_score([g["label"].to_numpy()], [g["score"].to_numpy()], k=10)
                for _, g in flipped.groupby("query_id") if g["label"].max() > 0]
    assert (perf["ndcg_current"], perf["queries_current"]) == (pytest.approx(np.mean(by_query)), len(by_query))
    assert perf["ndcg_reference"] > 0.95 and perf["ndcg_current"] < perf["ndcg_reference"] - 0.1
    before, now = perf["ndcg_reference"], perf["ndcg_current"]
    assert result["breaches"][0]["message"] == (
        f"NDCG@10 fell from {before:.4f} (reference) to {now:.4f} on {perf['queries_current']} queries: "
        f"drop {before - now:.4f} > 0.1 (profile local: monitoring.max_ndcg_drop)")


def test_click_collapse_is_a_ctr_breach(settings):
    ref = publish(settings, "inference/scored", scored(1))
    quiet = scored(2)
    quiet["qv_clicks"] = (quiet["label"] == 3).astype(int)
    result = run_monitor(settings, reference=ref, current=publish(settings, "inference/scored", quiet), html=False)
    assert [b["check"] for b in result["breaches"]] == ["ctr_drop"]
    top = quiet.sort_values(["query_id", "score"], ascending=[True, False]).groupby("query_id").head(3)
    assert result["performance"]["ctr_current"] == pytest.approx(top["qv_clicks"].sum() / (10 * len(top)))


def test_quality_breaches_on_nulls_and_tiny_batch(settings):
    ref = publish(settings, "inference/scored", scored(1))
    bad = scored(2).head(30).copy()
    bad.loc[:9, "qv_ctr"] = None
    cur = publish(settings, "inference/scored", bad)
    checks = [b["check"] for b in run_monitor(settings, reference=ref, current=cur, html=False)["breaches"]]
    assert checks[:2] == ["quality:row_count", "quality:null_share"]


def test_window_specs_and_bad_refs(settings):
    a = publish(settings, "inference/scored", scored(1, n_queries=10))
    b = publish(settings, "inference/scored", scored(2, n_queries=10))
    result = run_monitor(settings, reference=a, current="inference/scored@last:2", html=False)
    assert result["current"] == f"{a},{b}"
    with pytest.raises(MonitorInputError, match=re.escape(
            f"inference/nope: table 'inference/nope' has no published snapshot under {settings.lakehouse} "
            "(run `rankops score` first?)")):
        run_monitor(settings, reference=a, current="inference/nope", html=False)


def test_trigger_fires_exactly_once_per_breach(settings):
    ref = publish(settings, "inference/scored", scored(1))
    flipped = scored(2)
    flipped["label"] = 3 - flipped["label"]
    cur = publish(settings, "inference/scored", flipped)
    bid = run_monitor(settings, reference=ref, current=cur, html=False)["event"]["breach_id"]
    fired: list[str] = []
    lock = threading.Lock()

    def trigger(event):
        with lock:
            fired.append(event["breach_id"])
        return {"mode": "test", "run_id": f"run-{len(fired)}"}

    threads = [threading.Thread(target=lambda: act_on_pending(settings, trigger)) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert fired == [bid]
    assert act_on_event(settings, bid, trigger) == {"breach_id": bid, "fired": False, "reason": "already triggered"}
    run_monitor(settings, reference=ref, current=cur, html=False)  # the same breach again: no new event
    assert act_on_pending(settings, trigger) == [] and fired == [bid]
    event = list_events(settings)[0]
    assert event["status"] == "triggered" and event["trigger"]["run_id"] == "run-1"


def test_failed_trigger_can_be_retried(settings):
    ref = publish(settings, "inference/scored", scored(1))
    flipped = scored(2)
    flipped["label"] = 3 - flipped["label"]
    bid = run_monitor(settings, reference=ref, current=publish(settings, "inference/scored", flipped),
                      html=False)["event"]["breach_id"]

    def broken(event):
        raise ConnectionError("KFP API down")

    with pytest.raises(ConnectionError):
        act_on_event(settings, bid, broken)
    assert list_events(settings)[0]["status"] == "trigger_failed"
    assert act_on_pending(settings, lambda e: {"run_id": "ok"})[0]["fired"] is True


class RecordingClient:
    """Stands in for kfp.Client (no KFP API server here): records what would be submitted."""

    calls: list[dict] = []

    def __init__(self, host, namespace):
        self.host, self.namespace = host, namespace

    def create_run_from_pipeline_package(self, **kwargs):
        RecordingClient.calls.append({"host": self.host, **kwargs})
        return type("Run", (), {"run_id": "kfp-run-1"})()


def test_kfp_trigger_submits_training_pipeline_once(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("RANKOPS_KFP__HOST", "http://kfp.example:8888")
    from components.common.config import load_settings

    cluster = load_settings("local")
    package = tmp_path / "training.yaml"
    package.write_text("pipelineSpec: {}\n")
    ref = publish(cluster, "inference/scored", scored(1))
    flipped = scored(2)
    flipped["label"] = 3 - flipped["label"]
    bid = run_monitor(cluster, reference=ref, current=publish(cluster, "inference/scored", flipped),
                      html=False)["event"]["breach_id"]
    RecordingClient.calls = []
    trig = kfp_trigger(cluster, client_factory=RecordingClient, package=str(package))
    assert act_on_pending(cluster, trig)[0]["run_id"] == "kfp-run-1"
    assert act_on_pending(cluster, trig) == []
    # the spec is submitted prepared for the environment (a temp copy: env default, images)
    assert Path(RecordingClient.calls[0].pop("pipeline_file")).name == "training.yaml"
    assert RecordingClient.calls == [{
        "host": "http://kfp.example:8888", "arguments": {"env": "local"},
        "run_name": f"retrain-{bid}", "experiment_name": "rankops-local-retrain", "namespace": "rankops-dev",
        "enable_caching": False, "service_account": "rankops-pipeline-runner"}]


def test_gold_batch_is_checked_with_the_etl_gate_expectations(settings):
    from components.common.contract import GOLD_VIDEO
    from tests.support.feature_data import make_gold, publish_gold

    gold = make_gold(n_queries=5, n_videos=10, per_query=2, days=1)
    publish_gold(settings, gold)
    ref = publish(settings, "inference/scored", scored(1))
    cur = publish(settings, "inference/scored", scored(2))
    assert run_monitor(settings, reference=ref, current=cur, html=False)["breaches"] == []
    gold[GOLD_VIDEO].loc[0, "video_ctr"] = 1.5
    snap = publish_gold(settings, {GOLD_VIDEO: gold[GOLD_VIDEO]})[GOLD_VIDEO]
    breaches = run_monitor(settings, reference=ref, current=cur, html=False)["breaches"]
    assert [b["check"] for b in breaches] == [f"quality:gold:{snap.ref}:in_range(0.0, 1.0)(video_ctr)"]
    assert "[1.5]" in breaches[0]["message"]
