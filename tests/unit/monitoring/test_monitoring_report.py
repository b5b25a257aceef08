"""The HTML report's Evidently flags say what the verdict says: same per-entity frames, same rules."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.common.snapshots import SnapshotStore
from components.monitoring.drift import entity_frame, psi
from components.monitoring.run import run_monitor
from tests.support import serving_data as sample

EXTRA = {"features": sample.FEATURES, "text_columns": ["query_text", "title", "description"]}


def test_entity_frame_holds_each_entitys_values_once():
    df = pd.DataFrame({"query_id": ["a", "a", "a", "b"], "video_id": ["v", "w", "v", "v"],
                       "query_ctr": [0.1, 0.1, 0.3, 0.2], "video_ctr": [0.5, 0.6, 0.5, 0.5], "score": [1, 2, 3, 4]})
    frame = entity_frame(df, ["query_ctr", "video_ctr", "score"])
    assert len(frame) == 4 and frame["query_ctr"].isna().sum() == 1 and frame["video_ctr"].isna().sum() == 2
    assert frame["query_ctr"].dropna().tolist() == [0.1, 0.3, 0.2]  # query a twice (point in time), b once
    assert frame["video_ctr"].dropna().tolist() == [0.5, 0.6]  # videos v and w
    assert frame["score"].tolist() == [1, 2, 3, 4]  # a score belongs to its row


def test_evidently_flags_equal_the_verdict_where_per_row_tests_would_not(settings, tmp_path):
    tables = sample.make_tables(n_queries=150, n_videos=300, seed=1)
    ref = tables["training_set"]
    ref["score"] = ref["label"] + np.random.default_rng(1).normal(0, 0.3, len(ref))
    # current: the same rows, but every high-CTR query's rows come eight times (a traffic shift, not drift),
    # and the catalogue really changed: video CTR, duration and titles
    busy = ref["query_ctr"] > ref["query_ctr"].median()
    cur = pd.concat([ref] + [ref[busy]] * 7, ignore_index=True)
    cur["video_ctr"] = cur["video_ctr"] + 0.3
    cur["duration_s"] = cur["duration_s"] * 3
    cur["title"] = cur["title"] + " and many more words in every title"
    lake = SnapshotStore(settings.lakehouse)
    ref_ref = lake.write("inference/scored", ref, extra=EXTRA).ref
    cur_ref = lake.write("inference/scored", cur, extra=EXTRA).ref

    # per candidate row, query CTR looks drifted: a dashboard on rows would have flagged it
    assert psi(ref["query_ctr"], cur["query_ctr"]) > 0.2
    result = run_monitor(settings, reference=ref_ref, current=cur_ref, report_dir=str(tmp_path / "r"))
    drifted = sorted(d["column"] for d in result["drift"]["per_column"] if d["drifted"])
    assert drifted == ["duration_s", "title_len", "title_tokens", "video_ctr"]
    assert result["evidently"] == {"drifted": drifted, "share": result["drift"]["share"],
                                   "score_drifted": result["score_drift"]["drifted"]}
    assert result["drift"]["share"] == round(4 / 11, 4)
    assert [b["check"] for b in result["breaches"]][0] == "feature_drift"
    page = (tmp_path / "r" / "report.html").read_text()
    assert "rankops monitoring: BREACH" in page and "drift detection method is PSI, drifted when also KS p < 0.01" in page
