"""Numba kernels for per-user ranking metrics (each user's values depend only on its own
ranks; every output row is written by one thread)."""

import numpy as np
from numba import prange

from ..kernels import _jit as jit

#: Users per parallel block of ``user_metrics`` (one sort buffer per block).
_BLOCK = 64
#: Rank lists up to this length are sorted by insertion (no allocation, ~0.3 us for 30).
_INSERTION_SORT_MAX = 64


@jit.serial
def _sorted_below(values, start, stop, bound, buffer):
    """The values of ``values[start:stop]`` below ``bound``, sorted ascending: in
    ``buffer`` (by insertion) when at most its length, else in a new array."""
    n = 0
    for i in range(start, stop):
        n += values[i] < bound
    if n > buffer.shape[0]:
        kept = np.empty(n, dtype=values.dtype)
        n = 0
        for i in range(start, stop):
            if values[i] < bound:
                kept[n] = values[i]
                n += 1
        return np.sort(kept)
    n = 0
    for i in range(start, stop):
        value = values[i]
        if not value < bound:
            continue
        j = n
        while j > 0 and buffer[j - 1] > value:
            buffer[j] = buffer[j - 1]
            j -= 1
        buffer[j] = value
        n += 1
    return buffer[:n]


@jit.parallel
def user_metrics(users, rank_indptr, ranks, n_train, n_items, ks, with_auc, precision,
                 recall, ndcg, average_precision, hit_rate, auc, reciprocal_rank):
    """Metrics of every user in ``users`` from the ranks of its test items.

    Parameters
    ----------
    users : int32[m]
        Rows of the rank CSR to evaluate (each with at least one test entry).
    rank_indptr : int64[n_users + 1]
    ranks : float32[nnz]
        Pessimistic ranks (0 = top) of the test entries, train items excluded.
    n_train : int64[n_users]
        Number of train items per user (they are neither positives nor negatives).
    n_items : int
    ks : int64[nk]
        Cut-offs.
    with_auc : bool
        Compute AUC (it needs every rank, sorted). Without it only the ranks below
        ``max(ks)`` are sorted and ``auc`` is left as it is: enough for the ``@k``
        metrics and the reciprocal rank, whose ranks ``rank_items(exact_below=...)``
        computes exactly (the others are only known to be larger).
    precision, recall, ndcg, average_precision, hit_rate : float64[m, nk]
    auc, reciprocal_rank : float64[m]
        Outputs. AUC follows LightFM (1 - rank among negatives / #negatives, averaged over
        positives; 0.5 without negatives), with one fix: a positive's rank is reduced by
        all other positives ranked at or above it (LightFM: by its sorted index, which
        goes wrong for tied positives).
    """
    nk = ks.shape[0]
    m = users.shape[0]
    bound = np.inf
    if not with_auc:
        bound = 0.0
        for j in range(nk):
            bound = max(bound, ks[j])
    for block in prange((m + _BLOCK - 1) // _BLOCK):
        buffer = np.empty(_INSERTION_SORT_MAX, dtype=ranks.dtype)
        for e in range(block * _BLOCK, min((block + 1) * _BLOCK, m)):
            _user_row(users[e], e, rank_indptr, ranks, n_train, n_items, ks, nk, with_auc,
                      bound, buffer, precision, recall, ndcg, average_precision, hit_rate,
                      auc, reciprocal_rank)


@jit.serial
def _user_row(user, e, rank_indptr, ranks, n_train, n_items, ks, nk, with_auc, bound,
              buffer, precision, recall, ndcg, average_precision, hit_rate, auc,
              reciprocal_rank):
    """The metrics of one user (row ``e`` of the outputs); see ``user_metrics``."""
    start = rank_indptr[user]
    stop = rank_indptr[user + 1]
    n_positive = stop - start
    best = ranks[start]
    for i in range(start + 1, stop):
        best = min(best, ranks[i])
    reciprocal_rank[e] = 1.0 / (best + 1.0)
    ordered = _sorted_below(ranks, start, stop, bound, buffer)
    n_negative = n_items - (n_positive + n_train[user])
    if not with_auc:
        pass
    elif n_negative > 0:
        # A positive's rank counts the other positives scored at or above it; they
        # are not negatives. LightFM subtracts the sorted index i instead, which
        # under-counts tied positives and can push AUC below 0; here every positive
        # of a tie group (equal pessimistic ranks) subtracts the whole group.
        total = 0.0
        first = 0
        while first < n_positive:
            last = first
            while last + 1 < n_positive and ordered[last + 1] == ordered[first]:
                last += 1
            adjusted = max(ordered[first] - last, 0.0)
            total += (last - first + 1) * (1.0 - adjusted / n_negative)
            first = last + 1
        auc[e] = total / n_positive
    else:
        auc[e] = 0.5
    for j in range(nk):
        k = ks[j]
        hits = 0
        dcg = 0.0
        precision_sum = 0.0
        for i in range(ordered.shape[0]):
            rank = ordered[i]
            if rank >= k:
                break
            hits += 1
            dcg += 1.0 / np.log2(rank + 2.0)
            precision_sum += hits / (rank + 1.0)
        ideal = 0.0
        for i in range(min(k, n_positive)):
            ideal += 1.0 / np.log2(i + 2.0)
        precision[e, j] = hits / k
        recall[e, j] = hits / n_positive
        ndcg[e, j] = dcg / ideal
        average_precision[e, j] = precision_sum / min(k, n_positive)
        hit_rate[e, j] = 1.0 if hits > 0 else 0.0
