"""precision@k, recall@k, AUC and reciprocal rank, as in ``lightfm.evaluation`` 1.17.

Each function ranks the test items with ``model.predict_rank`` (train items excluded)
and reduces the ranks per user with vectorised numpy over the CSR arrays. Users without
test interactions are dropped unless ``preserve_rows=True``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._threads import check_num_threads
from .._validation import check_sparse


def _ranks(model, test_interactions, train_interactions, user_features, item_features,
           num_threads, check_intersections) -> sp.csr_matrix:
    check_num_threads(num_threads)
    check_sparse(test_interactions, "test_interactions")
    return model.predict_rank(test_interactions, train_interactions=train_interactions,
                              user_features=user_features, item_features=item_features,
                              num_threads=num_threads, check_intersections=check_intersections)


def _row_sums(ranks: sp.csr_matrix, values: np.ndarray) -> np.ndarray:
    """Sum ``values`` (aligned with ``ranks.data``) within each CSR row."""
    counts = np.diff(ranks.indptr)
    rows = np.repeat(np.arange(ranks.shape[0]), counts)
    return np.bincount(rows, weights=values, minlength=ranks.shape[0])


def _select(values: np.ndarray, ranks: sp.csr_matrix, preserve_rows: bool) -> np.ndarray:
    if preserve_rows:
        return values
    return values[np.diff(ranks.indptr) > 0]


def precision_at_k(model, test_interactions, train_interactions=None, k=10,
                   user_features=None, item_features=None, preserve_rows=False,
                   num_threads=1, check_intersections=True) -> np.ndarray:
    """Fraction of the top ``k`` that are test positives, per user.

    Parameters
    ----------
    model : LightFM-like
        Anything with ``predict_rank``.
    test_interactions : scipy.sparse matrix (n_users, n_items)
    train_interactions : scipy.sparse matrix, optional
        Excluded from the ranking.
    k : int, default 10
    user_features, item_features : scipy.sparse matrix, optional
    preserve_rows : bool, default False
        Return one value per row of ``test_interactions`` (0 for users without tests).
    num_threads : int, default 1
    check_intersections : bool, default True

    Returns
    -------
    numpy.ndarray of float32
    """
    ranks = _ranks(model, test_interactions, train_interactions, user_features,
                   item_features, num_threads, check_intersections)
    hits = _row_sums(ranks, (ranks.data < k).astype(np.float64))
    return _select((hits / k).astype(np.float32), ranks, preserve_rows)


def recall_at_k(model, test_interactions, train_interactions=None, k=10,
                user_features=None, item_features=None, preserve_rows=False,
                num_threads=1, check_intersections=True) -> np.ndarray:
    """Fraction of the user's test positives found in the top ``k``.

    Parameters as ``precision_at_k``. With ``preserve_rows=True`` users without test
    interactions get 0 (LightFM 1.17 returns nan there although it documents 0).
    """
    ranks = _ranks(model, test_interactions, train_interactions, user_features,
                   item_features, num_threads, check_intersections)
    hits = _row_sums(ranks, (ranks.data < k).astype(np.float64))
    n_test = np.diff(ranks.indptr)
    recall = np.divide(hits, n_test, out=np.zeros_like(hits), where=n_test > 0)
    return _select(recall.astype(np.float32), ranks, preserve_rows)


def auc_score(model, test_interactions, train_interactions=None, user_features=None,
              item_features=None, preserve_rows=False, num_threads=1,
              check_intersections=True) -> np.ndarray:
    """Per-user ROC AUC of test positives against all non-train, non-test items.

    Parameters as ``precision_at_k`` (without ``k``). Users without test positives or
    without negatives get 0.5, as in LightFM.
    """
    ranks = _ranks(model, test_interactions, train_interactions, user_features,
                   item_features, num_threads, check_intersections)
    n_users, n_items = ranks.shape
    n_positives = np.diff(ranks.indptr)
    if train_interactions is None:
        n_train = np.zeros(n_users, dtype=np.int64)
    else:
        train = sp.csr_matrix(train_interactions)
        train.sum_duplicates()
        n_train = np.diff(train.indptr)
    n_negatives = n_items - (n_positives + n_train)
    # Sort ranks within each row; the i-th best positive has i positives above it,
    # which are not negatives and are removed from its rank.
    rows = np.repeat(np.arange(n_users), n_positives)
    order = np.lexsort((ranks.data, rows))
    sorted_ranks = ranks.data[order].astype(np.float64)
    within_row = np.arange(sorted_ranks.shape[0]) - np.repeat(ranks.indptr[:-1], n_positives)
    adjusted = np.maximum(sorted_ranks - within_row, 0.0)
    negatives_per_entry = np.repeat(n_negatives, n_positives).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_entry = 1.0 - adjusted / negatives_per_entry
    sums = np.bincount(rows, weights=per_entry, minlength=n_users)
    valid = (n_positives > 0) & (n_negatives > 0)
    auc = np.full(n_users, 0.5)
    auc[valid] = sums[valid] / n_positives[valid]
    return _select(auc.astype(np.float32), ranks, preserve_rows)


def reciprocal_rank(model, test_interactions, train_interactions=None, user_features=None,
                    item_features=None, preserve_rows=False, num_threads=1,
                    check_intersections=True) -> np.ndarray:
    """``1 / (best rank + 1)`` of the user's test positives (0 for users without tests).

    Parameters as ``auc_score``.
    """
    ranks = _ranks(model, test_interactions, train_interactions, user_features,
                   item_features, num_threads, check_intersections)
    n_users = ranks.shape[0]
    n_test = np.diff(ranks.indptr)
    best = np.full(n_users, np.inf)
    if ranks.nnz:
        rows = np.repeat(np.arange(n_users), n_test)
        np.minimum.at(best, rows, ranks.data.astype(np.float64))
    rr = np.where(n_test > 0, 1.0 / (best + 1.0), 0.0)
    return _select(rr.astype(np.float32), ranks, preserve_rows)
