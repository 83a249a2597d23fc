"""Numba kernels for per-user ranking metrics (one prange iteration per user, each
writing only its own output row)."""

import numpy as np
from numba import prange

from ..kernels import _jit as jit


@jit.parallel
def user_metrics(users, rank_indptr, ranks, n_train, n_items, ks, precision, recall, ndcg,
                 average_precision, hit_rate, auc, reciprocal_rank):
    """Metrics of every user in ``users`` from the ranks of its test items.

    Parameters
    ----------
    users : int32[m]
        Rows of the rank CSR to evaluate (each with at least one test entry).
    rank_indptr : int32[n_users + 1]
    ranks : float32[nnz]
        Pessimistic ranks (0 = top) of the test entries, train items excluded.
    n_train : int64[n_users]
        Number of train items per user (they are neither positives nor negatives).
    n_items : int
    ks : int64[nk]
        Cut-offs.
    precision, recall, ndcg, average_precision, hit_rate : float64[m, nk]
    auc, reciprocal_rank : float64[m]
        Outputs. AUC follows LightFM (1 - rank among negatives / #negatives, averaged over
        positives; 0.5 without negatives), with one fix: a positive's rank is reduced by
        all other positives ranked at or above it (LightFM: by its sorted index, which
        goes wrong for tied positives).
    """
    nk = ks.shape[0]
    for e in prange(users.shape[0]):
        user = users[e]
        start = rank_indptr[user]
        stop = rank_indptr[user + 1]
        n_positive = stop - start
        ordered = np.sort(ranks[start:stop])
        n_negative = n_items - (n_positive + n_train[user])
        if n_negative > 0:
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
        reciprocal_rank[e] = 1.0 / (ordered[0] + 1.0)
        for j in range(nk):
            k = ks[j]
            hits = 0
            dcg = 0.0
            precision_sum = 0.0
            for i in range(n_positive):
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
