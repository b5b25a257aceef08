"""The retraining trigger fires once, and only on a breach the monitor raises again on the same input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from components.common.config import load_settings
from components.common.snapshots import SnapshotStore
from components.monitoring.alerts import act_on_event, act_on_pending, list_events
from components.monitoring.run import run_monitor
from tests.support import serving_data as sample

EXTRA = {"features": sample.FEATURES, "text_columns": ["query_text", "title", "description"]}


def scored(seed: int, flip: bool = False) -> pd.DataFrame:
    df = sample.make_tables(n_queries=150, n_videos=300, seed=seed)["training_set"]
    df["score"] = df["label"] + np.random.default_rng(seed).normal(0, 0.3, len(df))
    if flip:  # fresh judgements disagree with the model: an NDCG breach
        df["label"] = 3 - df["label"]
    return df


def publish(settings, df: pd.DataFrame) -> str:
    return SnapshotStore(settings.lakehouse).write("inference/scored", df, extra=EXTRA, publish=True).ref


class Recorder:
    def __init__(self):
        self.fired: list[str] = []

    def __call__(self, event):
        self.fired.append(event["breach_id"])
        return {"mode": "test", "run_id": f"run-{len(self.fired)}"}


def test_replayed_batch_gets_no_second_event(settings, tmp_path):
    ref = publish(settings, scored(1))
    batch = scored(2, flip=True)
    first_dir, replay_dir = tmp_path / "batch", tmp_path / "replayed"
    first_dir.mkdir()
    replay_dir.mkdir()
    batch.to_parquet(first_dir / "part-0.parquet", index=False)
    first = run_monitor(settings, reference=ref, current=str(first_dir), html=False)
    assert [b["check"] for b in first["breaches"]] == ["ndcg_drop"] and first["event"]["created"] is True
    trigger = Recorder()
    assert act_on_pending(settings, trigger)[0]["fired"] is True

    # the same rows again: another folder, another row order, two files instead of one
    shuffled = batch.sample(frac=1.0, random_state=3).reset_index(drop=True)
    shuffled.iloc[:100].to_parquet(replay_dir / "part-0.parquet", index=False)
    shuffled.iloc[100:].to_parquet(replay_dir / "part-1.parquet", index=False)
    again = run_monitor(settings, reference=ref, current=str(replay_dir), html=False)
    assert again["current"] != first["current"]  # named differently...
    assert again["event"] == {**first["event"], "created": False}  # ...but the same input: the same event
    assert act_on_pending(settings, trigger) == [] and trigger.fired == [first["event"]["breach_id"]]
    assert [e["status"] for e in list_events(settings)] == ["triggered"]


def test_breach_that_no_longer_reproduces_is_closed_without_training(settings, monkeypatch):
    ref = publish(settings, scored(1))
    result = run_monitor(settings, reference=ref, current=publish(settings, scored(2, flip=True)), html=False)
    bid = result["event"]["breach_id"]
    monkeypatch.setenv("RANKOPS_MONITORING__MAX_NDCG_DROP", "0.99")  # the operator judged the alarm false
    relaxed = load_settings("local")
    trigger = Recorder()
    acted = act_on_event(relaxed, bid, trigger)
    assert acted == {"breach_id": bid, "fired": False, "reason": "not reproduced on the same input (now: no breach)"}
    assert trigger.fired == []
    event = list_events(relaxed)[0]
    assert event["status"] == "not_reproduced" and event["trigger"]["recheck"] == {"breach_id": None, "checks": []}
    assert act_on_pending(relaxed, trigger) == [] and trigger.fired == []
    # asked for by id under the original profile, it reproduces and fires, once
    assert act_on_event(settings, bid, trigger)["fired"] is True and trigger.fired == [bid]
    assert act_on_event(settings, bid, trigger)["reason"] == "already triggered" and trigger.fired == [bid]


def test_rewritten_folder_is_not_the_same_input(settings, tmp_path):
    ref = publish(settings, scored(1))
    folder = tmp_path / "batch"
    folder.mkdir()
    scored(2, flip=True).to_parquet(folder / "part-0.parquet", index=False)
    bid = run_monitor(settings, reference=ref, current=str(folder), html=False)["event"]["breach_id"]
    scored(2).to_parquet(folder / "part-0.parquet", index=False)  # fixed in place before anyone acted
    trigger = Recorder()
    assert act_on_event(settings, bid, trigger)["fired"] is False and trigger.fired == []
    assert list_events(settings)[0]["status"] == "not_reproduced"


def test_a_gold_breach_is_one_event_across_batches(settings):
    from components.common.contract import GOLD_VIDEO
    from tests.support.feature_data import make_gold, publish_gold

    gold = make_gold(n_queries=5, n_videos=10, per_query=2, days=1)
    gold[GOLD_VIDEO].loc[0, "video_ctr"] = 1.5
    snap = publish_gold(settings, gold)[GOLD_VIDEO]
    ref = publish(settings, scored(1))
    one = run_monitor(settings, reference=ref, current=publish(settings, scored(2)), html=False)
    two = run_monitor(settings, reference=ref, current=publish(settings, scored(3)), html=False)
    assert [b["check"] for b in one["breaches"]] == [f"quality:gold:{snap.ref}:in_range(0.0, 1.0)(video_ctr)"]
    assert one["breaches"][0]["inputs"] == [snap.ref]
    assert one["current"] != two["current"] and two["event"] == {**one["event"], "created": False}
    trigger = Recorder()
    assert [a["fired"] for a in act_on_pending(settings, trigger)] == [True]
    event = json.loads(open(one["event"]["path"]).read())
    assert event["inputs"]["gold"][1] == snap.ref and event["status"] == "triggered"
