"""Scores for (user, item) pairs, representation matrices and ranks of test items."""

import numpy as np
from numba import prange

from . import _jit as jit
from .representation import compute_representation, contains_sorted, dot


@jit.parallel
def predict_pairs(user_ids, item_ids,
                  user_indptr, user_indices, user_data,
                  item_indptr, item_indices, item_data,
                  user_embeddings, user_biases, item_embeddings, item_biases,
                  n_blocks, out):
    """``out[p] = user_repr . item_repr + user_bias + item_bias`` for each pair ``p``.

    Parameters
    ----------
    user_ids, item_ids : int32[m]
    user_indptr ... item_data
        Feature CSRs, or ``None`` for an identity, as in the training kernels.
    user_embeddings, item_embeddings : float32[n_features, d]
    user_biases, item_biases : float32[n_features]
    n_blocks : int
        Parallel blocks (the thread count).
    out : float32[m]
    """
    d = item_embeddings.shape[1]
    m = user_ids.shape[0]
    for block in prange(n_blocks):
        user_repr = np.empty(d, dtype=np.float32)
        item_repr = np.empty(d, dtype=np.float32)
        for p in range((block * m) // n_blocks, ((block + 1) * m) // n_blocks):
            user_bias = compute_representation(user_indptr, user_indices, user_data,
                                               user_ids[p], user_embeddings,
                                               user_biases, user_repr)
            item_bias = compute_representation(item_indptr, item_indices, item_data,
                                               item_ids[p], item_embeddings,
                                               item_biases, item_repr)
            out[p] = dot(user_repr, item_repr) + user_bias + item_bias


@jit.parallel
def representations(indptr, indices, data, n_rows, embeddings, biases,
                    out_embeddings, out_biases):
    """Representation of rows ``0 .. n_rows-1`` into ``out_embeddings`` / ``out_biases``.

    ``out_embeddings`` is float32[n_rows, d], ``out_biases`` float32[n_rows].
    """
    for row in prange(n_rows):
        out_biases[row] = compute_representation(indptr, indices, data, row,
                                                 embeddings, biases, out_embeddings[row])


@jit.serial
def _user_ranks(scores, test_indices, test_start, test_stop, train_indices, train_start,
                train_stop, n_items, ranks, work):
    """Ranks of the user's test items among the items not in its train row.

    rank(i) = #{j != i, j not in train : score_j >= score_i} (ties count against ``i``).
    """
    n_test = test_stop - test_start
    if n_test * 16 < n_items:
        # Few test items: one pass over all items per test item is cheapest.
        for t in range(test_start, test_stop):
            item = test_indices[t]
            threshold = scores[item]
            count = 0
            for j in range(n_items):
                if scores[j] >= threshold:
                    count += 1
            # Remove the item itself and train items that were counted.
            if not contains_sorted(train_indices, train_start, train_stop, item):
                count -= 1
            for q in range(train_start, train_stop):
                if scores[train_indices[q]] >= threshold:
                    count -= 1
            ranks[t] = count
        return
    # Many test items: sort the candidate scores once, then binary-search each one.
    m = 0
    q = train_start
    for j in range(n_items):
        while q < train_stop and train_indices[q] < j:
            q += 1
        if q < train_stop and train_indices[q] == j:
            continue
        work[m] = scores[j]
        m += 1
    candidates = np.sort(work[:m])
    for t in range(test_start, test_stop):
        item = test_indices[t]
        threshold = scores[item]
        # number of candidates >= threshold
        count = m - np.searchsorted(candidates, threshold, side="left")
        if not contains_sorted(train_indices, train_start, train_stop, item):
            count -= 1
        ranks[t] = count


@jit.parallel
def predict_ranks(test_indptr, test_indices, train_indptr, train_indices,
                  user_indptr, user_indices, user_data,
                  user_embeddings, user_biases, item_vectors, item_vector_biases,
                  n_blocks, ranks):
    """Rank of every stored test entry among the user's non-train items.

    Parameters
    ----------
    test_indptr, test_indices : int32
        Test interactions CSR (sorted rows); ``ranks`` is aligned with ``test_indices``.
    train_indptr, train_indices : int32
        Train interactions CSR (sorted rows) whose items are excluded from ranking.
    user_indptr, user_indices, user_data
        User feature CSR, or ``None`` for the identity.
    user_embeddings : float32[n_user_features, d]
    user_biases : float32[n_user_features]
    item_vectors : float32[n_items, d]
        Item representations (precomputed once).
    item_vector_biases : float32[n_items]
    n_blocks : int
    ranks : float32[nnz_test]
    """
    n_users = test_indptr.shape[0] - 1
    n_items = item_vectors.shape[0]
    d = item_vectors.shape[1]
    for block in prange(n_blocks):
        user_repr = np.empty(d, dtype=np.float32)
        scores = np.empty(n_items, dtype=np.float32)
        work = np.empty(n_items, dtype=np.float32)
        for user in range((block * n_users) // n_blocks, ((block + 1) * n_users) // n_blocks):
            test_start = test_indptr[user]
            test_stop = test_indptr[user + 1]
            if test_stop == test_start:
                continue
            user_bias = compute_representation(user_indptr, user_indices, user_data,
                                               user, user_embeddings,
                                               user_biases, user_repr)
            for j in range(n_items):
                scores[j] = dot(user_repr, item_vectors[j]) + user_bias + item_vector_biases[j]
            _user_ranks(scores, test_indices, test_start, test_stop, train_indices,
                        train_indptr[user], train_indptr[user + 1], n_items, ranks, work)
