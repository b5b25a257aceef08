"""LambdaMART (LightGBM `lambdarank`): the learning-to-rank baseline of search teams, as a model family.

Same inputs as the cross-encoder: the feature service's numeric features plus the lexical-match
features (BM25, query-term coverage of title and description; `lexical.py`), computed from the
scoring input itself. Query groups of the train split are LambdaMART's lists; the gains are
linear (label 0-3 gains 0-3) so it optimises the NDCG that evaluation reports
(`components/common/ranking.py`). Validation uses the same ranking metrics as the neural loop,
every `model.eval_every` rounds: they choose the best round, stop early after
`training.early_stopping_patience` evaluations without gain and feed Optuna's pruner.

Reads from `training:` feature_service, seed, max_steps (caps rounds), early_stopping_patience,
metric, threads, latency_*, tune_*; the neural-loop knobs (loss, learning_rate, batch_size, ...)
do not apply.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import Field

from components.training.boosting import Boosting, TreeScorer, check_booster, train_boosted
from components.training.families import Family, FamilyParams

MODEL_KIND = "lambdamart"
LINEAR_GAINS = [0, 1, 2, 3]  # label -> gain, as the evaluation's linear-gain NDCG


class LambdaMartParams(FamilyParams):
    """LightGBM lambdarank parameters (LightGBM's own names)."""

    family: Literal["lambdamart"] = "lambdamart"
    n_estimators: int = Field(300, gt=0, description="Boosting rounds (training.max_steps caps them when set).")
    learning_rate: float = Field(0.05, gt=0, le=1, description="Shrinkage of each tree.")
    num_leaves: int = Field(31, ge=2)
    min_data_in_leaf: int = Field(20, ge=1)
    feature_fraction: float = Field(1.0, gt=0, le=1)
    lambda_l2: float = Field(0.0, ge=0)
    truncation_level: int = Field(10, gt=0, description="lambdarank_truncation_level: pairs ranked below are not swapped.")
    eval_every: int = Field(10, gt=0, description="Rounds between validation passes.")
    lexical_features: bool = Field(True, description="Add BM25 and query-term coverage of title/description.")


def lgb_params(m: LambdaMartParams) -> dict[str, Any]:
    return {"objective": "lambdarank", "metric": "none", "label_gain": LINEAR_GAINS,
            "lambdarank_truncation_level": m.truncation_level, "learning_rate": m.learning_rate,
            "num_leaves": m.num_leaves, "min_data_in_leaf": m.min_data_in_leaf,
            "feature_fraction": m.feature_fraction, "lambda_l2": m.lambda_l2}


def validation_metrics(frame, scores, cfg) -> dict[str, float]:
    """The neural loop's validation metrics (ranking.py definitions): cfg.metric, ndcg@10/@5, mrr@10."""
    from components.training.metrics import DEFAULT_METRICS, ranking_metrics

    names = tuple(dict.fromkeys([cfg.metric, *DEFAULT_METRICS]))
    return ranking_metrics(frame["query_id"], frame["video_id"], frame["label"].to_numpy(float), scores, names)


def search_space(trial) -> dict[str, Any]:
    """Tree shape and shrinkage; `rankops tune` runs it like the neural family's."""
    return {
        "model.learning_rate": trial.suggest_float("model.learning_rate", 0.02, 0.3, log=True),
        "model.num_leaves": trial.suggest_categorical("model.num_leaves", [7, 15, 31, 63]),
        "model.min_data_in_leaf": trial.suggest_int("model.min_data_in_leaf", 5, 50, log=True),
        "model.feature_fraction": trial.suggest_float("model.feature_fraction", 0.6, 1.0),
        "model.lambda_l2": trial.suggest_float("model.lambda_l2", 0.0, 10.0),
    }


BOOSTING = Boosting(family="lambdamart", model_kind=MODEL_KIND, lgb_params=lgb_params,
                    validation_metrics=validation_metrics, grouped=True)

FAMILY = Family(
    name="lambdamart",
    params=LambdaMartParams,
    train=functools.partial(train_boosted, BOOSTING),
    load_scorer=TreeScorer.load,
    check_artifact=check_booster,
    search_space=search_space,
    model_kind=MODEL_KIND,
    description="LightGBM LambdaMART over the feature service's numeric and the lexical features.",
)
