"""Every registered version gets a model card in MLflow; compare adds the champion; promotion carries it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from components.backtest.run import summarize
from components.evaluation.compare_run import run_compare
from components.promotion.request import request_promotion
from components.registry.lookup import use_mlflow
from components.registry.register import register_model
from pipelines.cli import build_app
from tests.support.evaluation_data import log_scorer, make_training_frame, write_training_set


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def sklearn_ndcg_at_10(split: str, weights: dict[str, float]) -> float:
    """Mean NDCG@10 of score = weights · features over the split's queries with a relevant video (scikit-learn)."""
    from sklearn.metrics import ndcg_score

    frame = make_training_frame().query("split == @split")
    values = []
    for _, g in frame.groupby("query_id"):
        if g["label"].max() >= 1:
            score = sum(w * g[c].to_numpy() for c, w in weights.items())
            values.append(ndcg_score([g["label"].where(g["label"] >= 1, 0)], [score], k=10))
    return float(np.mean(values))


@pytest.fixture
def gitops(tmp_path: Path, settings):
    repo = tmp_path / "gitops"
    (repo / "manifests/overlays/prod").mkdir(parents=True)
    (repo / "manifests/overlays/prod/model.env").write_text("MODEL_NAME=rankops-ranker\nMODEL_VERSION=0\n")
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    settings.promotion.git_repo = str(repo)
    settings.registry.write_back = False
    return repo


def test_registration_writes_the_card_compare_adds_the_champion_and_promotion_links_it(settings, gitops, tmp_path):
    snap = write_training_set(settings)
    rows = [{"window": {"index": i, "cutoff": "c", "end": "e"}, "train_rows": 1, "test_rows": 1,
             "model": {"ndcg@10": m}, "bm25": {"ndcg@10": 0.5}, "delta": m - 0.5, "p_value": 0.1, "stat_test": "student",
             "effect_size": 0.0} for i, m in enumerate((0.9, 0.6))]
    backtest = summarize(settings, snap.ref, rows, tmp_path / "bt")  # a backtest of the same training set
    uri = log_scorer(settings, {"signal": 1.0, "noise": 0.0}, snapshot=snap, params={"lr": 0.01})
    out = register_model(settings, uri)
    client = use_mlflow(settings)
    card = out["model_card"]
    run_id = out["run_id"]
    assert sorted(a.path for a in client.list_artifacts(run_id, "model_card")) == [
        "model_card/card.json", "model_card/model_card.html", "model_card/model_card.md"]
    assert client.get_model_version("rankops-ranker", "1").tags["rankops.model_card"] == card["artifact_uri"]
    assert card["artifact_uri"].endswith(f"{run_id}/artifacts/model_card/model_card.md")

    facts = json.loads(Path(card["json"]).read_text())
    # LinearScorer logs one tensor of its weights: signal, noise, overlap
    assert (facts["architecture"]["parameters"], facts["architecture"]["tensors"]) == (3, 1)
    assert facts["architecture"]["features"] == ["signal", "noise"] and facts["architecture"]["lexical"] == []
    frame = make_training_frame()
    assert facts["training_data"]["splits"] == {
        s: {"rows": int((frame["split"] == s).sum()), "queries": int(frame.loc[frame["split"] == s, "query_id"].nunique())}
        for s in ("test", "train", "validation")}
    assert facts["training_data"]["time_range"] == [str(frame["event_timestamp"].min()),
                                                    str(frame["event_timestamp"].max())]
    assert facts["training_data"]["snapshots"] == [
        {"table": "features/training_set_ranker_v1", "snapshot_id": snap.snapshot_id, "rows": len(frame)}]
    assert facts["params"]["lr"] == "0.01" and facts["params"]["w_signal"] == "1.0"
    assert facts["evaluation"]["model"]["ndcg@10"] == pytest.approx(sklearn_ndcg_at_10("test", {"signal": 1.0}))
    imp = {f["feature"]: f for f in facts["importance"]["features"]}
    assert imp["noise"]["importance"] == 0.0 and imp["noise"]["std"] == 0.0  # weight 0: shuffling changes nothing
    assert facts["importance"]["features"][0]["feature"] == "signal" and imp["signal"]["importance"] > 0
    assert facts["importance"]["baseline"] == pytest.approx(sklearn_ndcg_at_10("validation", {"signal": 1.0}))

    assert facts["backtest"]["run_id"] == backtest["run_id"]
    assert facts["backtest"]["stability"]["mean"] == pytest.approx(0.75)  # (0.9 + 0.6) / 2
    assert facts["backtest"]["stability"]["worst_window"] == 1.0

    # a rerun keeps the card it has
    assert register_model(settings, uri)["model_card"] == {"artifact_uri": card["artifact_uri"], "reused": "true"}

    decision = run_compare(settings, "1")
    assert decision["reference"] == "bm25"
    result = CliRunner().invoke(build_app(), ["card", "challenger"], env={"RANKOPS_REGISTRY__WRITE_BACK": "false"})
    assert result.exit_code == 0, result.output
    md = Path(result.stdout.strip().splitlines()[-1]).read_text()
    assert md.startswith("# Model card: rankops-ranker v1\n")
    assert f"Compared with **bm25** on `{snap.ref}`" in md and f"(comparison run `{decision['compare_run_id']}`)" in md

    request = request_promotion(settings, "1", decision=decision, by="alice")
    files = git(gitops, "ls-tree", "-r", "--name-only", request["branch"]).splitlines()
    card_file = f"manifests/promotions/requests/{request['request_id']}/model_card.md"
    assert card_file in files
    assert git(gitops, "show", f"{request['branch']}:{card_file}") == md.rstrip("\n")
    record = json.loads(git(gitops, "show", f"{request['branch']}:manifests/promotions/requests/"
                                            f"{request['request_id']}/request.json"))
    assert record["model_card"] == card["artifact_uri"]


def test_card_of_a_version_without_one_is_a_clear_error(settings, tmp_path):
    settings.registry.write_back = False
    settings.registry.card.enabled = False
    snap = write_training_set(settings)
    out = register_model(settings, log_scorer(settings, {"signal": 1.0}, snapshot=snap))
    assert out["model_card"] == {"skipped": "disabled in settings (registry.card.enabled)"}
    result = CliRunner().invoke(build_app(), ["card", "1"], env={"RANKOPS_REGISTRY__WRITE_BACK": "false"})
    assert result.exit_code == 1 and "rankops-ranker v1 has no model card" in result.output
