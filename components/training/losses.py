"""Ranking losses over a batch with graded labels 0-3 and query codes.

pointwise: BCE against label/3 (a calibrated 0-1 relevance); pairwise: RankNet over every
pair of the same query with different labels; listwise: ListNet softmax cross-entropy per query.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MAX_LABEL = 3.0


def pointwise_loss(scores: torch.Tensor, labels: torch.Tensor, qcodes: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(scores, labels / MAX_LABEL)


def pairwise_loss(scores: torch.Tensor, labels: torch.Tensor, qcodes: torch.Tensor) -> torch.Tensor:
    same = qcodes[:, None] == qcodes[None, :]
    better = (labels[:, None] > labels[None, :]) & same
    if not bool(better.any()):
        return scores.sum() * 0.0  # no informative pair: a zero that keeps the graph
    diff = scores[:, None] - scores[None, :]
    return F.softplus(-diff[better]).mean()


def listwise_loss(scores: torch.Tensor, labels: torch.Tensor, qcodes: torch.Tensor) -> torch.Tensor:
    same = qcodes[:, None] == qcodes[None, :]
    neg_inf = torch.finfo(scores.dtype).min
    log_norm = torch.logsumexp(torch.where(same, scores[None, :].expand_as(same), neg_inf), dim=1)
    label_norm = torch.logsumexp(torch.where(same, labels[None, :].expand_as(same), neg_inf), dim=1)
    target = torch.exp(labels - label_norm)
    n_queries = same.float().sum(dim=1).reciprocal().sum()  # each query's rows add up to one
    return -(target * (scores - log_norm)).sum() / n_queries


LOSSES = {"pointwise": pointwise_loss, "pairwise": pairwise_loss, "listwise": listwise_loss}
