"""Evaluation metrics: lightfm.evaluation's four, more ranking metrics, rating errors."""

from .ranking import (
    auc_score,
    coverage_at_k,
    evaluate,
    hit_rate_at_k,
    item_popularity,
    map_at_k,
    ndcg_at_k,
    popularity_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
)
from .rating import mae, rmse

__all__ = [
    "auc_score", "coverage_at_k", "evaluate", "hit_rate_at_k", "item_popularity", "map_at_k",
    "mae",
    "ndcg_at_k", "popularity_at_k", "precision_at_k", "recall_at_k", "reciprocal_rank",
    "rmse",
]
