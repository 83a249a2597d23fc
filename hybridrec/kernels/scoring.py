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
def _insert_top(top_scores, top_items, filled, score, item):
    """Insert (score, item) into the descending top list if it belongs there.

    Ties keep the lower item index first (items arrive in increasing index order).
    Returns the new fill count.
    """
    k = top_scores.shape[0]
    if filled == k and not score > top_scores[k - 1]:
        return filled
    slot = filled if filled < k else k - 1
    while slot > 0 and top_scores[slot - 1] < score:
        top_scores[slot] = top_scores[slot - 1]
        top_items[slot] = top_items[slot - 1]
        slot -= 1
    top_scores[slot] = score
    top_items[slot] = item
    return filled + 1 if filled < k else filled


@jit.parallel
def rank_block(scores, users, test_indptr, test_indices, train_indptr, train_indices,
               sort_threshold, ranks, top_items, top_scores):
    """Ranks of test items and top-k lists for one block of users.

    Parameters
    ----------
    scores : float32[B, n_items]
        Scores of the block's users for every item; overwritten (train items become -inf).
    users : int32[B]
        User (row) index of each score row.
    test_indptr, test_indices : int32
        Test interactions CSR, sorted rows. ``ranks`` is aligned with ``test_indices``.
    train_indptr, train_indices : int32
        Items to exclude, CSR with sorted rows.
    sort_threshold : int
        Users with more test items than this are ranked by sorting their scores once
        (O(n log n)); others by a vectorised count per test item (O(n) each).
    ranks : float32[nnz_test]
        Receives, for each test entry of the block's users,
        #{j != i, j not in train : score_j >= score_i} (ties count against the item).
    top_items : int32[B, k]
        Receives the k best non-train items per user (-1 where fewer exist); k may be 0.
    top_scores : float32[B, k]
        Their scores.
    """
    n_items = scores.shape[1]
    k = top_items.shape[1]
    for b in prange(scores.shape[0]):
        user = users[b]
        row = scores[b]
        test_start = test_indptr[user]
        test_stop = test_indptr[user + 1]
        train_start = train_indptr[user]
        train_stop = train_indptr[user + 1]
        # Keep the test items' own scores before the train items are masked.
        for t in range(test_start, test_stop):
            ranks[t] = row[test_indices[t]]
        for q in range(train_start, train_stop):
            row[train_indices[q]] = -np.inf
        n_test = test_stop - test_start
        if n_test > sort_threshold:
            ordered = np.sort(row)
        else:
            ordered = row[:0]
        for t in range(test_start, test_stop):
            threshold = ranks[t]
            if n_test > sort_threshold:
                count = n_items - np.searchsorted(ordered, threshold, side="left")
            else:
                count = 0
                for j in range(n_items):
                    if row[j] >= threshold:
                        count += 1
            # The item counted itself unless it is a train item (then it was masked).
            if not contains_sorted(train_indices, train_start, train_stop, test_indices[t]):
                count -= 1
            ranks[t] = count
        if k > 0:
            filled = 0
            threshold = -np.inf
            for c0 in range(0, n_items, 64):
                c1 = min(c0 + 64, n_items)
                # Count first (vectorised): once the list is full, most chunks of 64
                # hold nothing above its last score and are skipped.
                above = 0
                for j in range(c0, c1):
                    if row[j] > threshold:
                        above += 1
                if above == 0:
                    continue
                for j in range(c0, c1):
                    if row[j] > threshold:
                        filled = _insert_top(top_scores[b], top_items[b], filled, row[j], j)
                        if filled == k:
                            threshold = top_scores[b, k - 1]
            for slot in range(filled, k):
                top_items[b, slot] = -1
                top_scores[b, slot] = -np.inf


@jit.serial
def count_shared(indptr_a, indices_a, indptr_b, indices_b):
    """Number of (row, column) entries stored in both CSRs (sorted, duplicate-free rows)."""
    shared = 0
    for row in range(indptr_a.shape[0] - 1):
        a = indptr_a[row]
        a_stop = indptr_a[row + 1]
        b = indptr_b[row]
        b_stop = indptr_b[row + 1]
        while a < a_stop and b < b_stop:
            if indices_a[a] < indices_b[b]:
                a += 1
            elif indices_a[a] > indices_b[b]:
                b += 1
            else:
                shared += 1
                a += 1
                b += 1
    return shared
