"""Evaluation and comparison section of the configuration."""

from typing import Literal

from pydantic import Field

from components.common.model import StrictModel


class EvaluationSettings(StrictModel):
    """Ranking cut-offs, slices and the champion/challenger decision rule."""

    task: str = Field("ranking", description="Evaluation task (components/evaluation/tasks.py): the metrics, "
                      "baseline and report; `ranking` is NDCG/MRR/MAP vs BM25.")
    primary_metric: str = Field("ndcg@10", description="ranx metric the decision is taken on.")
    metrics: list[str] = Field(
        default_factory=lambda: ["ndcg@5", "ndcg@10", "mrr@10", "map", "recall@5", "recall@10"],
        description="ranx metrics reported for the model, the baseline and every slice.",
    )
    min_delta: float = Field(0.0, ge=0, description="Smallest improvement of the primary metric that counts.")
    alpha: float = Field(0.05, gt=0, lt=1, description="Significance level of the paired test over queries.")
    stat_test: Literal["student", "fisher"] = Field("student", description="Paired test over queries (scipy): t-test or seeded randomisation.")
    n_permutations: int = Field(1000, gt=0, description="Random sign flips of the fisher test (exact when 2**queries is fewer).")
    seed: int = 42
    relevant_label: int = Field(1, ge=1, description="Graded label from which a candidate counts as relevant.")
    head_share: float = Field(0.2, gt=0, lt=1, description="Share of the most searched queries that form the head slice.")
    popularity_column: str | None = Field(
        "query_impressions", description="Query traffic feature ranking head vs tail; absent = rows per query.")
    query_length_buckets: list[int] = Field(
        default_factory=lambda: [1, 2, 3], description="Lower token counts of the query-length buckets; the last is open-ended."
    )
    guarded_slices: dict[str, float] = Field(
        default_factory=lambda: {"queries:tail": 0.02, "videos:new": 0.02},
        description="Slice -> largest tolerated drop of the primary metric vs the reference.",
    )
