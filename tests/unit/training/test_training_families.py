"""Model families: the registry, per-family parameters, and the LambdaMART pieces on tiny hand data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from components.common import plugins
from components.common.config import ConfigError, load_settings
from components.common.projects import Project
from components.training.api import TrainingError, merge_params, train
from components.training.boosting import TreeFeatures, TreeScorer, check_booster
from components.training.families import family_names, get_family
from components.training.lambdamart import LambdaMartParams
from components.training.settings import ElectraParams, TrainingSettings


def test_both_families_are_registered_and_an_unknown_one_lists_them() -> None:
    assert family_names()[:2] == ["electra", "lambdamart"]
    assert get_family("lambdamart").params is LambdaMartParams
    with pytest.raises(ValueError, match=r"unknown model family 'xgb'; registered: electra, lambdamart"):
        get_family("xgb")


def test_switching_family_by_variable_starts_from_that_familys_defaults(tmp_path: Path) -> None:
    s = load_settings("dev", environ={"RANKOPS_HOME": str(tmp_path), "RANKOPS_TRAINING__MODEL__FAMILY": "lambdamart",
                                      "RANKOPS_TRAINING__MODEL__NUM_LEAVES": "15"})
    assert s.training.model.model_dump() == {
        "family": "lambdamart", "n_estimators": 300, "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 20,
        "feature_fraction": 1.0, "lambda_l2": 0.0, "truncation_level": 10, "eval_every": 10, "lexical_features": True}
    dev = load_settings("dev", environ={"RANKOPS_HOME": str(tmp_path)})
    assert (dev.training.model.family, dev.training.model.hidden_size) == ("electra", 256)


def test_a_key_of_another_family_or_an_unknown_family_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"training\.model\.hidden_size: Extra inputs are not permitted \(from "
                                          r"environment variable RANKOPS_TRAINING__MODEL__HIDDEN_SIZE\)"):
        load_settings("local", environ={"RANKOPS_HOME": str(tmp_path), "RANKOPS_TRAINING__MODEL__FAMILY": "lambdamart",
                                        "RANKOPS_TRAINING__MODEL__HIDDEN_SIZE": "32"})
    with pytest.raises(ConfigError, match=r"training\.model: Value error, unknown model family 'xgb'; registered: "
                                          r"electra, lambdamart"):
        load_settings("local", environ={"RANKOPS_HOME": str(tmp_path), "RANKOPS_TRAINING__MODEL__FAMILY": "xgb"})


def test_a_projects_family_replaces_the_platform_profiles_model(tmp_path: Path) -> None:
    root = tmp_path / "team"
    (root / "profiles").mkdir(parents=True)
    (root / "profiles" / "dev.yaml").write_text("training:\n  model: {family: lambdamart, num_leaves: 7}\n")
    plugins.register_plugin(plugins.PROJECTS, "team", Project(name="team", root=root))
    try:
        s = load_settings("dev", environ={"RANKOPS_HOME": str(tmp_path), "RANKOPS_PROJECT": "team"})
    finally:
        plugins.unregister_plugin(plugins.PROJECTS, "team")
    assert s.training.model == LambdaMartParams(num_leaves=7)  # dev.yaml's ELECTRA sizes are not mixed in


def test_params_switching_family_reset_the_model_section_and_keep_the_loop() -> None:
    base = TrainingSettings(max_steps=7)
    cfg = merge_params(base, {"model.family": "lambdamart", "model.num_leaves": 5})
    assert cfg.model == LambdaMartParams(num_leaves=5) and cfg.max_steps == 7
    nested = merge_params(base, {"model": {"family": "lambdamart", "learning_rate": 0.2}})
    assert nested.model == LambdaMartParams(learning_rate=0.2)
    same = merge_params(base, {"model.hidden_size": 32})
    assert same.model == ElectraParams(hidden_size=32)
    with pytest.raises(TrainingError, match="num_leaves"):
        merge_params(base, {"model.num_leaves": 5})  # an ELECTRA model has no leaves


@pytest.mark.parametrize("family", ["electra", "lambdamart"])
def test_every_search_space_gives_params_the_family_accepts(family: str) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    params = get_family(family).call("search_space", study.ask())
    cfg = merge_params(TrainingSettings(), {"model.family": family, **params})
    for key, value in params.items():
        node = cfg
        for part in key.split("."):
            node = getattr(node, part)
        assert node == value


def test_resume_of_a_one_pass_family_is_refused(tmp_path: Path) -> None:
    settings = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path), "RANKOPS_TRAINING__MODEL__FAMILY": "lambdamart"})
    with pytest.raises(TrainingError, match="lambdamart family trains in one pass and keeps no checkpoints"):
        train(settings, resume=True)


FRAME = pd.DataFrame({
    "query_text": ["red guitar", "red guitar", "jazz", None],
    "title": ["Red Guitar lesson", "blue piano", "jazz night", "x"],
    "description": ["learn the guitar", "", "live jazz jazz", None],
    "video_id": ["a", "b", "c", "d"],
    "ctr": [0.5, None, 0.25, 0.0],
    "n": [3.0, 4.0, None, 1.0],
})


def test_tree_features_are_raw_numerics_with_defaults_then_bm25_and_coverage() -> None:
    from rank_bm25 import BM25Okapi

    spec = TreeFeatures.fit(FRAME, ["ctr", "n"], {"ctr": 0.1, "n": 9.0}, lexical=True)
    x = spec.matrix(FRAME)
    assert spec.names == ["ctr", "n", "lex_bm25", "lex_title_coverage", "lex_description_coverage"]
    assert x[:, :2].tolist() == [[0.5, 3.0], [0.1, 4.0], [0.25, 9.0], [0.0, 1.0]]  # nulls -> the defaults
    corpus = [["red", "guitar", "lesson", "learn", "the", "guitar"], ["blue", "piano"], ["jazz", "night", "live", "jazz", "jazz"],
              ["x"]]
    bm25 = BM25Okapi(corpus)  # the independent library, on the same (title + description) documents
    expected = [bm25.get_scores(["red", "guitar"])[0], bm25.get_scores(["red", "guitar"])[1],
                bm25.get_scores(["jazz"])[2], 0.0]
    assert np.allclose(x[:, 2], expected)
    assert x[:, 3].tolist() == [1.0, 0.0, 1.0, 0.0]  # share of query terms in the title
    assert x[:, 4].tolist() == [0.5, 0.0, 1.0, 0.0]  # ... and in the description
    with pytest.raises(KeyError, match="no numeric feature column 'n'"):
        spec.matrix(FRAME.drop(columns=["n"]))


def _ranking_data(n_queries: int, seed: int) -> pd.DataFrame:
    """`signal` lies in [label, label + 0.5): thresholds on it rank every query perfectly."""
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(n_queries):
        for c in range(8):
            label = int(rng.integers(0, 4))
            rows.append({"query_id": f"q{q:03d}", "video_id": f"v{c}", "signal": label + 0.5 * float(rng.random()),
                         "noise": float(rng.random()), "label": label, "query_text": "", "title": "", "description": ""})
    return pd.DataFrame(rows)


def _lambdarank(frame: pd.DataFrame, seed: int = 3):
    import lightgbm as lgb

    from components.training.lambdamart import lgb_params

    spec = TreeFeatures.fit(frame, ["signal", "noise"], {}, lexical=False)
    data = lgb.Dataset(spec.matrix(frame), label=frame["label"], group=frame.groupby("query_id", sort=False).size())
    params = {**lgb_params(LambdaMartParams(min_data_in_leaf=5)), "seed": seed, "deterministic": True,
              "force_row_wise": True, "num_threads": 1, "verbose": -1}
    return lgb.train(params, data, num_boost_round=30), spec


def test_lambdarank_learns_the_order_deterministically_and_round_trips(tmp_path: Path) -> None:
    from components.common.ranking import per_query

    booster, spec = _lambdarank(_ranking_data(30, 0))
    again, _ = _lambdarank(_ranking_data(30, 0))
    assert booster.model_to_string() == again.model_to_string()
    test = _ranking_data(10, 1)
    scorer = TreeScorer(booster, spec, {"family": "lambdamart"})
    ndcg = per_query(test["query_id"], test["video_id"], test["label"], scorer.score(test), "ndcg", 10)
    assert ndcg.min() == pytest.approx(1.0)  # every test query ordered like its labels
    loaded = TreeScorer.load(scorer.save(tmp_path / "m"))
    assert np.array_equal(loaded.score(test), scorer.score(test))
    assert loaded.meta["family"] == "lambdamart" and loaded.spec == spec
    assert check_booster(str(tmp_path / "m")) == (True, "30 trees, every leaf value finite")


def test_a_non_finite_leaf_or_no_booster_fails_the_artifact_check(tmp_path: Path) -> None:
    booster, spec = _lambdarank(_ranking_data(20, 0))
    path = TreeScorer(booster, spec).save(tmp_path / "m") / "model.txt"
    text = path.read_text()
    start = text.index("Tree=4\n")
    leaf = text.index("leaf_value=", start)
    end = text.index("\n", leaf)
    path.write_text(text[:leaf] + "leaf_value=nan " + text[leaf + len("leaf_value="):end].split(" ", 1)[1] + text[end:])
    # (LightGBM loads such a file without complaint: only this check notices)
    assert check_booster(str(tmp_path / "m")) == (False, "non-finite leaf values in ['tree 4']")
    assert check_booster(str(tmp_path / "empty")) == (False, "no LightGBM model.txt in the model artifact")


@pytest.mark.parametrize("code", [
    "import components.training.pyfunc_model as m; m.RankerModel()",
    # the test stand-ins too: their warning fills every test run's summary
    "import tests.support.reference_model, tests.support.simulated_users, tests.support.experiment_models, "
    "tests.support.evaluation_data",
], ids=["packaged", "test-stand-ins"])
def test_pythonmodel_classes_pass_mlflows_predict_check_without_a_warning(code: str) -> None:
    """MLflow checks a PythonModel's `predict` when the class is defined (make run's train step printed
    its "Add type hints" warning); a DataFrame hint leaves validation to the logged signature, and
    MLflow must be able to resolve it (pandas imported at run time, not under TYPE_CHECKING)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[3], check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "type hint" not in proc.stderr.lower(), proc.stderr[-2000:]
