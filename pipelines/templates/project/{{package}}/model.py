"""The click model: gradient-boosted trees (LightGBM, binary log-loss) giving P(click).

Inputs: the position the video was shown at (the contract's context feature; serving scores at
position 1), the feature service's query and video statistics, and the platform's lexical-match
features of query vs title and description. It trains, tracks, packages (the platform's pyfunc),
validates and tunes through `components.training.boosting`, like the platform's LambdaMART;
the validation metric is `neg_log_loss` (profile `training.metric`).
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import Field

from components.training.boosting import Boosting, TreeScorer, check_booster, train_boosted
from components.training.families import Family, FamilyParams

from . import NAME

EPS = 1e-7


class ClickParams(FamilyParams):
    """LightGBM binary-objective parameters (LightGBM's own names)."""

    family: Literal["{{name}}_gbdt"] = "{{name}}_gbdt"
    n_estimators: int = Field(200, gt=0, description="Boosting rounds (training.max_steps caps them when set).")
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(15, ge=2)
    min_data_in_leaf: int = Field(50, ge=1)
    feature_fraction: float = Field(1.0, gt=0, le=1)
    lambda_l2: float = Field(1.0, ge=0)
    eval_every: int = Field(10, gt=0, description="Rounds between validation passes.")
    lexical_features: bool = Field(True, description="Add BM25 and query-term coverage of title/description.")


def lgb_params(m: ClickParams) -> dict[str, Any]:
    return {"objective": "binary", "metric": "none", "learning_rate": m.learning_rate, "num_leaves": m.num_leaves,
            "min_data_in_leaf": m.min_data_in_leaf, "feature_fraction": m.feature_fraction, "lambda_l2": m.lambda_l2}


def probability_metrics(labels, probabilities) -> dict[str, float]:
    """log-loss (and its negation, higher-is-better), Brier score and ROC AUC (scikit-learn)."""
    import numpy as np
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    y = np.asarray(labels, dtype=int)
    p = np.clip(np.asarray(probabilities, dtype=float), EPS, 1 - EPS)
    loss = float(log_loss(y, p, labels=[0, 1]))
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
    return {"neg_log_loss": -loss, "log_loss": loss, "brier": float(brier_score_loss(y, p)), "auc": auc}


def validation_metrics(frame, scores, cfg) -> dict[str, float]:
    return probability_metrics(frame["label"], scores)


def search_space(trial) -> dict[str, Any]:
    return {
        "model.learning_rate": trial.suggest_float("model.learning_rate", 0.02, 0.2, log=True),
        "model.num_leaves": trial.suggest_categorical("model.num_leaves", [7, 15, 31]),
        "model.min_data_in_leaf": trial.suggest_int("model.min_data_in_leaf", 20, 200, log=True),
        "model.lambda_l2": trial.suggest_float("model.lambda_l2", 0.0, 10.0),
    }


BOOSTING = Boosting(family=f"{NAME}_gbdt", model_kind="click-gbdt", lgb_params=lgb_params,
                    validation_metrics=validation_metrics, grouped=False)

FAMILY = Family(
    name=f"{NAME}_gbdt",
    params=ClickParams,
    train=functools.partial(train_boosted, BOOSTING),
    load_scorer=TreeScorer.load,
    check_artifact=check_booster,
    search_space=search_space,
    model_kind="click-gbdt",
    description="LightGBM P(click | position, query and video statistics, lexical match).",
)
