"""The experiment report on hand-made logs: exact counts, intervals and p-values computed by hand."""

from __future__ import annotations

import json
import math

import pytest
from scipy.stats import norm
from scipy.stats import t as student_t

from components.experiments.report import ExperimentReportError, build_report, read_rows
from components.inference.impressions import IMPRESSION_FIELDS

C, CH = "champion", "challenger"


def imp(rid: str, mode: str, *, arm=None, teams=None, experiment="e1", fallback=False, ts="2026-11-30T10:00:00Z"):
    row = dict.fromkeys(IMPRESSION_FIELDS)
    row.update(request_id=rid, ts=ts, session_id=f"s-{rid}", query="q", experiment=experiment, mode=mode, arm=arm,
               champion_version="1", challenger_version="2", video_ids=["a", "b", "c"], teams=teams,
               latency_ms=1.0, fallback=fallback, fallback_reason="error: x" if fallback else None)
    return row


def click(rid: str, pos: int) -> dict:
    return {"request_id": rid, "video_id": "abc"[pos - 1], "position": pos, "ts": "2026-11-30T10:00:01Z"}


def test_interleaving_credit_sign_test_and_queries_to_verdict():
    rows = [imp(f"r{i}", "interleave", teams=[C, CH, C], ts=f"2026-11-30T10:00:{i:02d}Z") for i in range(12)]
    rows[10]["teams"] = None
    rows[10]["fallback"] = True
    clicks = [click(f"r{i}", 2) for i in range(10)] + [click("r11", 1), click("r11", 2), click("nobody", 1)]
    report = build_report("e1", rows, clicks, [], alpha=0.05)
    d = report["detail"]
    # 10 challenger wins, r11 a tie (one click each), r10 a fallback without teams
    assert (d["wins"], d["ties"], d["losses"], d["queries"], d["fallbacks"]) == (10, 1, 0, 11, 1)
    assert report["p_value"] == pytest.approx(2 * 0.5**10)  # two-sided sign test, 10 of 10
    assert report["verdict"] == "challenger_better" and report["queries"] == 11
    assert d["queries_to_verdict"] == 6  # 2 * 0.5**6 = 0.031 < 0.05, 2 * 0.5**5 = 0.0625 is not
    assert (report["clicks"], report["unmatched_clicks"], report["fallbacks"]) == (12, 1, 1)
    assert set(report) >= {"experiment", "mode", "verdict", "p_value", "queries", "generated_at"}
    assert (report["experiment"], report["mode"]) == ("e1", "interleave")


def wilson(hits: int, n: int, z: float = norm.ppf(0.975)) -> list[float]:
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [centre - half, centre + half]


def test_ab_ctr_intervals_and_z_test_by_hand():
    rows = [imp(f"c{i}", "ab", arm=C) for i in range(4)] + [imp(f"h{i}", "ab", arm=CH) for i in range(4)]
    clicks = [click("c0", 1), click("c1", 3)] + [click("h0", 1), click("h0", 2), click("h1", 2), click("h2", 1)]
    report = build_report("e1", rows, clicks, [], alpha=0.05, k=2)
    champ, chall = report["detail"]["arms"][C], report["detail"]["arms"][CH]
    # CTR@2: champion 1 of 4 (c1's click is at position 3), challenger 3 of 4
    assert (champ["ctr@2"], chall["ctr@2"]) == (0.25, 0.75)
    assert champ["ctr@2_ci"] == pytest.approx(wilson(1, 4)) and chall["ctr@2_ci"] == pytest.approx(wilson(3, 4))
    # clicks per query: champion [1, 1, 0, 0] mean 0.5 sd 0.57735; t(3) interval
    half = student_t.ppf(0.975, 3) * math.sqrt(1 / 3) / 2
    assert champ["clicks_per_query"] == 0.5 and champ["clicks_per_query_ci"] == pytest.approx([0.5 - half, 0.5 + half])
    assert chall["clicks_per_query"] == 1.0
    # pooled z-test: p = 0.5, se = sqrt(0.25 * (1/4 + 1/4)), z = 0.5 / se = 1.41421
    assert report["p_value"] == pytest.approx(2 * norm.sf(0.5 / math.sqrt(0.125)))
    assert report["verdict"] == "no_difference" and report["queries"] == 8


def test_shadow_correlation_and_overlap():
    rows = [imp("r1", "shadow", arm=C), imp("r2", "shadow", arm=C)]
    shadow = [{"request_id": "r1", "champion_scores": [3, 2, 1], "challenger_scores": [1, 2, 3]},
              {"request_id": "r2", "champion_scores": [1, 2, 3], "challenger_scores": [10, 20, 30]},
              {"request_id": "other", "champion_scores": [1, 2], "challenger_scores": [2, 1]}]
    report = build_report("e1", rows, [], shadow, k=2)
    d = report["detail"]
    assert d["spearman_mean"] == pytest.approx(0.0) and d["top2_overlap_mean"] == pytest.approx(0.75)
    assert (report["verdict"], report["p_value"], report["queries"]) == ("no_difference", None, 2)


def test_bad_logs_fail_naming_file_and_line(tmp_path):
    good = json.dumps(imp("r1", "ab", arm=C))
    f = tmp_path / "impressions-2026-11-30.jsonl"
    f.write_text(good + "\n{broken\n")
    with pytest.raises(ExperimentReportError, match=rf"{f}:2: not JSON"):
        read_rows([f], IMPRESSION_FIELDS)
    f.write_text(good + "\n" + json.dumps({"request_id": "x"}) + "\n")
    with pytest.raises(ExperimentReportError, match=rf"{f}:2: missing field\(s\) ts, session_id"):
        read_rows([f], IMPRESSION_FIELDS)
    with pytest.raises(ExperimentReportError, match="no impressions of experiment 'e9'"):
        build_report("e9", [imp("r1", "ab", arm=C)], [], [])
    with pytest.raises(ExperimentReportError, match=r"modes \['ab', 'interleave'\]"):
        build_report("e1", [imp("r1", "ab", arm=C), imp("r2", "interleave", teams=[C])], [], [])


def test_cli_writes_json_and_html(tmp_path, rankops_home):
    from typer.testing import CliRunner

    from pipelines.cli import build_app

    logs = tmp_path / "logs"
    logs.mkdir()
    rows = [imp(f"r{i}", "interleave", experiment="exp-cli", teams=[CH, C, C]) for i in range(7)]
    (logs / "impressions-2026-11-30.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (logs / "clicks-2026-11-30.jsonl").write_text("".join(json.dumps(click(f"r{i}", 1)) + "\n" for i in range(7)))
    out = tmp_path / "report"
    result = CliRunner().invoke(build_app(), ["experiment", "report", "exp-cli", "--report", str(out),
                                              "--impressions", str(logs)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert {k: report[k] for k in ("experiment", "mode", "verdict", "queries")} == {
        "experiment": "exp-cli", "mode": "interleave", "verdict": "challenger_better", "queries": 7}
    assert report["p_value"] == pytest.approx(2 * 0.5**7)
    # the versions are numbers of the registry the profile's ranker reads (local: its SQLite store)
    assert report["registry"] == f"sqlite:///{rankops_home}/mlflow/mlflow.db"
    page = (out / "report.html").read_text()
    assert "<title>Experiment exp-cli (interleave)</title>" in page and page.count("<table>") == 2
    assert f"Version numbers of the registry sqlite:///{rankops_home}/mlflow/mlflow.db" in page
    bad = CliRunner().invoke(build_app(), ["experiment", "report", "nope", "--report", str(out),
                                           "--impressions", str(logs)])
    assert bad.exit_code == 1 and "no impressions of experiment 'nope'" in bad.output


def test_report_reads_every_replica_folder_and_skips_open_files(tmp_path):
    """The cluster's spool: one folder per ranker pod; a file still `.open` is not read yet."""
    from components.experiments.report import run_report

    spool = tmp_path / "impressions"
    for pod, rids in (("ranker-a", ["r1", "r2"]), ("ranker-b", ["r3"])):
        (spool / pod).mkdir(parents=True)
        (spool / pod / "impressions-20261130T100000000000.jsonl").write_text(
            "".join(json.dumps(imp(r, "shadow", arm=C)) + "\n" for r in rids))
        (spool / pod / "shadow-20261130T100000000000.jsonl").write_text("".join(
            json.dumps({"request_id": r, "champion_scores": [3, 2, 1], "challenger_scores": [1, 2, 3]}) + "\n"
            for r in rids))
    (spool / "ranker-b" / "impressions-20261130T110000000000.jsonl.open").write_text(
        json.dumps(imp("r4", "shadow", arm=C)) + "\n")
    report = run_report("e1", tmp_path / "report", spool, k=2)
    # three requests from two pods, each with reversed scores: Spearman -1, top-2 overlap 1/2
    assert report["queries"] == 3
    assert report["detail"]["spearman_mean"] == pytest.approx(-1.0)
    assert report["detail"]["top2_overlap_mean"] == pytest.approx(0.5)
