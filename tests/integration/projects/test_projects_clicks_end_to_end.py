"""The second project (projects/clicks) end to end: its one command runs the platform's components on the
KFP local runner with its own contract, Feast repository, model family and evaluation task; then its
model is promoted through the platform's GitOps flow and served by the platform's online server.

Every expected value is recomputed here from the raw files, the silver table or the packaged model
with pandas, scikit-learn and scipy, never read back from the code under test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from components.common.config import load_settings
from components.common.snapshots import SnapshotStore

pytestmark = pytest.mark.slow
PARAMS = {"impressions": 4000, "days": 2, "seed": 11}
STEPS = {"generate-data-op", "etl-op", "features-apply-op", "materialize-op", "training-set-op", "train-op",
         "validate-model-op", "evaluate-op", "register-op", "compare-op"}
PROJECT_ROOT = "projects/clicks/manifests"


REPO = Path(__file__).resolve().parents[3]


def make_gitops_repo(path: Path) -> Path:
    """A real git repo on `main` holding the platform's and the project's manifests: the registry
    write-back and the promotion branches land here, never in the checkout running the tests."""
    shutil.copytree(REPO / "manifests", path / "manifests")
    shutil.copytree(REPO / PROJECT_ROOT, path / PROJECT_ROOT)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", "-C", str(path)]
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "manifests"], check=True)
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The project's one command, as its README gives it, on small data."""
    from typer.testing import CliRunner

    from pipelines.cli import build_app

    home = tmp_path_factory.mktemp("clicks")
    repo = make_gitops_repo(home / "gitops-repo")
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("RANKOPS_") and "__" in n]:
            mp.delenv(name)
        mp.setenv("RANKOPS_HOME", str(home))
        mp.setenv("RANKOPS_ENV", "local")
        mp.setenv("RANKOPS_PROJECT", "")  # `--project clicks` sets it for the steps; restored afterwards
        for section in ("REGISTRY", "PROMOTION"):
            mp.setenv(f"RANKOPS_{section}__GIT_REPO", str(repo))
        for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
            mp.setenv(var, "test")
        for var in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
            mp.setenv(var, "test@example.org")
        summary = home / "run.json"
        args = ["--project", "clicks", "pipeline", "run", "clicks_end_to_end", "--local", "--summary", str(summary)]
        for key, value in PARAMS.items():
            args += ["-p", f"{key}={value}"]
        res = CliRunner().invoke(build_app(), args)
        assert res.exit_code == 0, res.output[-3000:]
        settings = load_settings("local")
        assert settings.project == "clicks"
        yield settings, json.loads(summary.read_text())


def artifact(result, task: str, name: str) -> dict:
    return result["tasks"][task]["artifacts"][name]


def silver(settings, kind: str) -> pd.DataFrame:
    store = SnapshotStore(settings.lakehouse)
    return store.read_pandas(store.latest(f"silver/{kind}"))


def test_one_command_runs_every_stage_with_the_projects_settings(run):
    settings, result = run
    decision = artifact(result, "compare-op", "decision")["metadata"]
    assert set(result["tasks"]) == STEPS | ({"promotion-request-op"} if decision["promote"] else set())
    assert settings.lakehouse == str(settings.home / "clicks" / "lakehouse")
    assert sorted(SnapshotStore(settings.lakehouse).tables()) == sorted([
        "bronze/search_log", "bronze/videos", "silver/search_log", "silver/videos", "silver/quarantine",
        "gold/clicks_queries", "gold/clicks_videos", "gold/clicks_pairs", "gold/clicks_impressions",
        "features/training_set_clicks_v1"])


def test_etl_accounts_for_every_line_of_the_kinds_its_contract_reads(run):
    settings, result = run
    raw = Path(artifact(result, "generate-data-op", "raw")["uri"])
    gold = artifact(result, "etl-op", "gold")["metadata"]
    store = SnapshotStore(settings.lakehouse)
    outcomes = store.latest("silver/quarantine").manifest["extra"]["outcomes"]
    for kind in ("search_log", "videos"):
        ingested = [f["source_file"] for f in store.latest(f"bronze/{kind}").manifest["extra"]["files"]]
        lines = sum(len((raw / f).read_bytes().splitlines()) for f in ingested)  # counted on disk, not by Spark
        o = outcomes[kind]
        assert lines == o["silver"] + o["quarantine"] + o["duplicate"]
        assert store.latest(f"silver/{kind}").row_count == o["silver"]
    judgements = sorted(str(p.relative_to(raw)) for p in raw.glob("*/judgements/*"))
    assert judgements and set(judgements) <= set(gold["ignored_files"])  # not a kind of this contract
    log = silver(settings, "search_log")
    assert "dwell_ms" not in log.columns and log["position"].between(1, 50).all()
    impressions = store.read_pandas(store.latest("gold/clicks_impressions"))
    assert len(impressions) == len(log) and impressions["label"].sum() == log["clicked"].sum()


def test_training_set_features_are_point_in_time(run):
    settings, _ = run
    store = SnapshotStore(settings.lakehouse)
    snap = store.latest("features/training_set_clicks_v1")
    assert snap.manifest["extra"]["features"][0] == "position"
    assert snap.manifest["extra"]["defaults"]["position"] == 1.0
    frame = store.read_pandas(snap)
    log = silver(settings, "search_log").assign(day=lambda d: pd.to_datetime(d["ts"], utc=True).dt.floor("D"))
    day = pd.to_datetime(frame["event_timestamp"], utc=True).dt.floor("D")
    # everything known at the end of the previous active days, nothing of the impression's own day
    per_query = log.groupby(["query_id", "day"]).size()
    per_pair = log.groupby(["query_id", "video_id", "day"]).size()
    expected_q = [int(per_query.loc[q][per_query.loc[q].index < d].sum()) for q, d in zip(frame["query_id"], day,
                                                                                           strict=True)]
    pair_days = {k: v for k, v in per_pair.groupby(level=[0, 1])}
    expected_p = [int(s[s.index.get_level_values(2) < d].sum()) for s, d in
                  zip((pair_days[(q, v)] for q, v in zip(frame["query_id"], frame["video_id"], strict=True)), day,
                      strict=True)]
    assert frame["query_impressions"].astype(int).tolist() == expected_q
    assert frame["pair_impressions"].astype(int).tolist() == expected_p
    assert (day == day.min()).any() and frame.loc[day == day.min(), "query_impressions"].eq(0).all()


def _test_predictions(settings, result):
    store = SnapshotStore(settings.lakehouse)
    frame = store.read_pandas(store.latest("features/training_set_clicks_v1"))
    frame = frame.sort_values(["query_id", "video_id", "event_timestamp"], kind="stable").reset_index(drop=True)
    uri = artifact(result, "train-op", "model")["metadata"]["model_uri"]
    model = mlflow.pyfunc.load_model(uri)
    features = model.metadata.metadata["features"]
    test = frame[frame["split"] == "test"].reset_index(drop=True)
    inputs = test[["query_text", "title", "description"]].join(test[features].astype("float64"))  # the signature's types
    return frame, test, np.asarray(model.predict(inputs))


def _position_prior(frame, rows, smoothing=20.0):
    train = frame[frame["split"] == "train"]
    overall = train["label"].mean()
    stats = train.groupby("position")["label"].agg(["sum", "count"])
    ctr = (stats["sum"] + smoothing * overall) / (stats["count"] + smoothing)
    return rows["position"].map(ctr).fillna(overall).to_numpy(float)


def test_evaluation_reports_log_loss_calibration_and_f1_as_scikit_learn_computes_them(run):
    from sklearn.metrics import brier_score_loss, f1_score, log_loss, roc_auc_score

    settings, result = run
    mlflow.set_tracking_uri(settings.tracking_uri)
    metrics = artifact(result, "evaluate-op", "metrics")["metadata"]["metrics_json"]
    frame, test, p = _test_predictions(settings, result)
    y = test["label"].to_numpy(int)
    model = metrics["model"]
    assert model["candidates"] == len(test) and model["queries"] == test["query_id"].nunique()
    assert model["log_loss"] == pytest.approx(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)), abs=1e-9)
    assert model["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-9)
    assert model["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-9)
    assert model["f1"] == pytest.approx(f1_score(y, p >= model["threshold"]), abs=1e-12)
    bins = np.minimum((p * 10).astype(int), 9)  # equal-width bins of width 0.1
    ece = sum(np.mean(bins == b) * abs(y[bins == b].mean() - p[bins == b].mean()) for b in np.unique(bins))
    assert model["ece"] == pytest.approx(ece, abs=1e-9)
    prior = _position_prior(frame, test)
    assert metrics["position_prior"]["log_loss"] == pytest.approx(log_loss(y, prior), abs=1e-9)


def test_comparison_is_the_platforms_paired_test_over_queries(run):
    from scipy.stats import ttest_rel
    from sklearn.metrics import log_loss

    settings, result = run
    mlflow.set_tracking_uri(settings.tracking_uri)
    decision = json.loads(Path(artifact(result, "compare-op", "decision")["uri"]).read_text())
    frame, test, p = _test_predictions(settings, result)
    prior = _position_prior(frame, test)
    per_query = test.assign(p=np.clip(p, 1e-7, 1 - 1e-7), prior=prior).groupby("query_id")
    ch = np.array([-log_loss(g["label"], g["p"], labels=[0, 1]) for _, g in per_query])
    ref = np.array([-log_loss(g["label"], g["prior"], labels=[0, 1]) for _, g in per_query])
    assert (decision["reference"], decision["metric"], decision["queries"]) == ("position_prior", "neg_log_loss",
                                                                                len(ch))
    assert decision["delta"] == pytest.approx(float(np.mean(ch - ref)), abs=1e-9)
    assert decision["p_value"] == pytest.approx(float(ttest_rel(ref, ch).pvalue), rel=1e-9)


def test_the_model_is_promoted_through_gitops_and_served_online(run):
    from fastapi.testclient import TestClient

    from components.inference.features import FeastOnlineFeatures
    from components.inference.server import create_app
    from components.inference.state import ModelHolder
    from components.promotion.decisions import approve_request
    from components.promotion.request import request_promotion
    from components.registry.gitops import Repo
    from components.registry.lookup import alias_version, use_mlflow

    settings, result = run
    decision = artifact(result, "compare-op", "decision")["metadata"]
    request = request_promotion(settings, "1", force=not decision["promote"], by="tester")
    repo = Repo(settings.promotion.git_repo)
    pin = repo.git("show", f"{request['branch']}:{PROJECT_ROOT}/overlays/prod/model.env")
    assert pin.splitlines() == ["MODEL_NAME=clicks-model", "MODEL_VERSION=1"]
    approve_request(settings, request["request_id"], by="data-expert")
    assert alias_version(use_mlflow(settings), "clicks-model", "champion") == "1"

    log = silver(settings, "search_log")
    query = log["query"].iloc[0]
    candidates = sorted(log.loc[log["query_id"] == log["query_id"].iloc[0], "video_id"].unique())[:20]
    features = FeastOnlineFeatures(settings, "clicks_v1")
    app = create_app(settings, ModelHolder(settings, "models:/clicks-model@champion"), features, poll_interval_s=0,
                     freeze_gc=False)
    with TestClient(app) as client:
        body = client.post("/rerank", json={"query": query, "candidates": candidates}).json()
    assert body["model_name"] == "clicks-model" and body["model_version"] == "1"
    online = features.lookup(query, candidates)
    assert "position" not in online.columns  # a request-time feature: served as if shown first
    model = mlflow.pyfunc.load_model("models:/clicks-model/1")
    names = model.metadata.metadata["features"]
    inputs = online.assign(position=1.0)
    expected = np.asarray(model.predict(inputs[["query_text", "title", "description"]].join(
        inputs[names].astype("float64"))))  # the signature's types
    order = np.argsort(-expected, kind="stable")
    assert [r["video_id"] for r in body["results"]] == [candidates[i] for i in order]
    scores = np.array([r["score"] for r in body["results"]])
    assert np.allclose(scores, expected[order], atol=1e-12) and ((scores > 0) & (scores < 1)).all()
