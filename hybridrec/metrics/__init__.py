"""Ranking metrics with lightfm.evaluation's signatures and semantics."""

from .ranking import auc_score, precision_at_k, recall_at_k, reciprocal_rank

__all__ = ["auc_score", "precision_at_k", "recall_at_k", "reciprocal_rank"]
