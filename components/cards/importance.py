"""Permutation importance of the scorer's numeric and lexical features on the validation split.

scikit-learn's `permutation_importance` shuffles one feature column at a time (seeded); our
scoring callable re-scores the candidates and measures the ranking metric per query, so the
importance is the drop of e.g. NDCG@10 when the feature carries no information any more.
The packaged ELECTRA ranker is permuted after its feature preprocessing (texts encoded once,
the lexical features included); any other pyfunc is permuted on its numeric input columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class FeatureInput:
    """A feature matrix (rows x names) and the function that scores the candidates from it."""

    names: list[str]
    kinds: list[str]
    matrix: np.ndarray
    score: Callable[[np.ndarray], np.ndarray]


def pyfunc_input(model: Any, inputs: pd.DataFrame, features: list[str]) -> FeatureInput:
    """The model's own feature matrix when it is our packaged ranker, else its numeric input columns."""
    unwrap = getattr(model, "unwrap_python_model", None)
    scorer = getattr(unwrap(), "scorer", None) if unwrap else None
    spec = getattr(scorer, "spec", None)
    if spec is not None and hasattr(scorer, "tokenizer"):
        import torch

        from components.training.model import cls_states, encode_frame

        ids, types = encode_frame(scorer.tokenizer, inputs)
        device = next(scorer.model.parameters()).device
        lexical = set(spec.names) - set(spec.features)
        # the features join after the encoder, so one encoder pass serves every permutation
        states = cls_states(scorer.model, ids, types, device=device, pad_id=scorer.pad_id)

        @torch.inference_mode()
        def score_features(matrix: np.ndarray) -> np.ndarray:
            feats = torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32)).to(device)
            return scorer.model.score_states(states, feats).cpu().numpy()

        return FeatureInput(list(spec.names), ["lexical" if n in lexical else "numeric" for n in spec.names],
                            spec.transform(inputs), score_features)

    def score_columns(matrix: np.ndarray) -> np.ndarray:
        frame = inputs.copy()
        frame[features] = matrix
        return np.asarray(model.predict(frame), dtype=float).reshape(-1)

    return FeatureInput(list(features), ["numeric"] * len(features), inputs[features].to_numpy(dtype=float),
                        score_columns)


def permutation_importance(frame: pd.DataFrame, features: FeatureInput, metric: str, *, relevant_label: int = 1,
                           repeats: int = 5, seed: int = 0) -> dict[str, Any]:
    """{metric, baseline, queries, repeats, features: [{feature, kind, importance, std}]}, most important first.

    `frame` holds the candidates (query_id, video_id, label) in the rows of `features.matrix`.
    """
    from sklearn.inspection import permutation_importance as sk_permutation_importance

    from components.evaluation.metrics import evaluate_ranking

    def ranking_metric(_estimator: Any, matrix: np.ndarray, _y: Any) -> float:
        return evaluate_ranking(frame, features.score(matrix), [metric], relevant_label).mean[metric]

    baseline = ranking_metric(None, features.matrix, None)
    result = sk_permutation_importance(_Fixed(), features.matrix, np.zeros(len(frame)), scoring=ranking_metric,
                                       n_repeats=repeats, random_state=seed, n_jobs=1)
    rows = [{"feature": n, "kind": k, "importance": float(m), "std": float(s)}
            for n, k, m, s in zip(features.names, features.kinds, result.importances_mean, result.importances_std,
                                  strict=True)]
    rows.sort(key=lambda r: (-r["importance"], r["feature"]))
    queries = int(frame.loc[frame["label"].astype(float) >= relevant_label, "query_id"].nunique())
    return {"metric": metric, "baseline": baseline, "queries": queries, "repeats": repeats, "seed": seed,
            "features": rows}


class _Fixed:
    """The already-trained model as scikit-learn sees it: nothing to fit, the scoring callable does the work."""

    def fit(self, *_args: Any) -> _Fixed:
        return self
