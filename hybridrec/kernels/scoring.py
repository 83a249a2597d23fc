"""Scores for (user, item) pairs, representation matrices and ranks of test items."""

import numpy as np
from numba import prange

from . import _jit as jit
from ._atomic import fetch_add
from .representation import compute_representation, contains_sorted, dot


@jit.parallel
def predict_pairs(user_ids, item_ids,
                  user_indptr, user_indices, user_data,
                  item_indptr, item_indices, item_data,
                  user_embeddings, user_biases, item_embeddings, item_biases,
                  n_blocks, out):
    """Score of each pair ``p``: ``out[p] = dot(user_repr, item_repr) + user_bias + item_bias``.

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
    """Representation of rows ``range(n_rows)`` into ``out_embeddings`` / ``out_biases``.

    ``out_embeddings`` is float32[n_rows, d], ``out_biases`` float32[n_rows].
    """
    for row in prange(n_rows):
        out_biases[row] = compute_representation(indptr, indices, data, row,
                                                 embeddings, biases, out_embeddings[row])


@jit.serial
def insert_top(top_scores, top_items, filled, score, item):
    """Insert (score, item) into the descending top list if it belongs there.

    Ties keep the entry inserted first (here: the lower item index, as items arrive in
    increasing index order; WARP-kOS's drawn positives use it too). Returns the new fill
    count.
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
    test_indptr, test_indices : int64, int32
        Test interactions CSR, sorted rows. ``ranks`` is aligned with ``test_indices``.
    train_indptr, train_indices : int64, int32
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
                # Count first (vectorised): once the list is full, most chunks of 64
                # hold nothing above its last score and are skipped. A view, so that
                # the loops run from 0: numba's negative-index wraparound on a loop
                # from c0 kept LLVM from vectorising the count.
                chunk = row[c0:c0 + 64]
                above = 0
                for j in range(chunk.shape[0]):
                    above += chunk[j] > threshold
                if above == 0:
                    continue
                for j in range(chunk.shape[0]):
                    if chunk[j] > threshold:
                        filled = insert_top(top_scores[b], top_items[b], filled, chunk[j],
                                             c0 + j)
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


@jit.serial
def _score_users(vectors, items_t, item_biases, rows):
    """``rows[r, j] = item_biases[j] + sum_c vectors[r, c] * items_t[c, j]`` for r < 4.

    Four users share every load of an item component. Each score is summed in float32
    in the order of ``c`` (products rounded, then added; no fused multiply-add), so it
    depends only on its user's and item's vectors: not on the other users of the pass,
    the batching or the thread count. ``items_t`` has a multiple of 8 rows (zero padded,
    like ``vectors``; adding 0 does not change a sum).
    """
    n_components, n_items = items_t.shape
    r0 = rows[0]
    r1 = rows[1]
    r2 = rows[2]
    r3 = rows[3]
    for j in range(n_items):
        bias = item_biases[j]
        r0[j] = bias
        r1[j] = bias
        r2[j] = bias
        r3[j] = bias
    for c in range(0, n_components, 8):
        a0, a1, a2, a3 = vectors[0, c], vectors[0, c + 1], vectors[0, c + 2], vectors[0, c + 3]
        a4, a5, a6, a7 = vectors[0, c + 4], vectors[0, c + 5], vectors[0, c + 6], vectors[0, c + 7]
        b0, b1, b2, b3 = vectors[1, c], vectors[1, c + 1], vectors[1, c + 2], vectors[1, c + 3]
        b4, b5, b6, b7 = vectors[1, c + 4], vectors[1, c + 5], vectors[1, c + 6], vectors[1, c + 7]
        e0, e1, e2, e3 = vectors[2, c], vectors[2, c + 1], vectors[2, c + 2], vectors[2, c + 3]
        e4, e5, e6, e7 = vectors[2, c + 4], vectors[2, c + 5], vectors[2, c + 6], vectors[2, c + 7]
        f0, f1, f2, f3 = vectors[3, c], vectors[3, c + 1], vectors[3, c + 2], vectors[3, c + 3]
        f4, f5, f6, f7 = vectors[3, c + 4], vectors[3, c + 5], vectors[3, c + 6], vectors[3, c + 7]
        i0, i1, i2, i3 = items_t[c], items_t[c + 1], items_t[c + 2], items_t[c + 3]
        i4, i5, i6, i7 = items_t[c + 4], items_t[c + 5], items_t[c + 6], items_t[c + 7]
        for j in range(n_items):
            x0, x1, x2, x3, x4, x5, x6, x7 = i0[j], i1[j], i2[j], i3[j], i4[j], i5[j], i6[j], i7[j]
            r0[j] = (r0[j] + a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3 + a4 * x4 + a5 * x5
                     + a6 * x6 + a7 * x7)
            r1[j] = (r1[j] + b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3 + b4 * x4 + b5 * x5
                     + b6 * x6 + b7 * x7)
            r2[j] = (r2[j] + e0 * x0 + e1 * x1 + e2 * x2 + e3 * x3 + e4 * x4 + e5 * x5
                     + e6 * x6 + e7 * x7)
            r3[j] = (r3[j] + f0 * x0 + f1 * x1 + f2 * x2 + f3 * x3 + f4 * x4 + f5 * x5
                     + f6 * x6 + f7 * x7)


@jit.serial
def _count_at_or_above(row, scores, entries, n, counts):
    """``counts[p] = #{j : row[j] >= scores[entries[p]]}`` for ``p < n``.

    Four thresholds per pass over the row, with int32 counters (which LLVM vectorises
    twice as wide as int64 ones). A nan threshold counts nothing.
    """
    n_items = row.shape[0]
    nan = np.float32(np.nan)
    for g in range(0, n, 4):
        x0 = scores[entries[g]]
        x1 = scores[entries[g + 1]] if g + 1 < n else nan
        x2 = scores[entries[g + 2]] if g + 2 < n else nan
        x3 = scores[entries[g + 3]] if g + 3 < n else nan
        c0 = np.int32(0)
        c1 = np.int32(0)
        c2 = np.int32(0)
        c3 = np.int32(0)
        for j in range(n_items):
            v = row[j]
            c0 = np.int32(c0 + np.int32(v >= x0))
            c1 = np.int32(c1 + np.int32(v >= x1))
            c2 = np.int32(c2 + np.int32(v >= x2))
            c3 = np.int32(c3 + np.int32(v >= x3))
        counts[g] = c0
        if g + 1 < n:
            counts[g + 1] = c1
        if g + 2 < n:
            counts[g + 2] = c2
        if g + 3 < n:
            counts[g + 3] = c3


@jit.serial
def _count_entries(row, scores, entries, n, counts, sort_threshold):
    """``_count_at_or_above``, or by sorting the row once when ``n > sort_threshold``."""
    if n > sort_threshold:
        ordered = np.sort(row)
        for p in range(n):
            counts[p] = row.shape[0] - np.searchsorted(ordered, scores[entries[p]],
                                                       side="left")
    else:
        _count_at_or_above(row, scores, entries, n, counts)


@jit.serial
def _rank_row(row, user, e, test_indptr, test_indices, train_indptr, train_indices,
              exact_below, best, sort_threshold, ranks, top_items, top_scores,
              list_scores, list_items, scores, seen, entries, counts):
    """Ranks (and the top-k list) of one user from its score row; see ``rank_users``."""
    n_items = row.shape[0]
    test_start = test_indptr[user]
    n_test = test_indptr[user + 1] - test_start
    train_start = train_indptr[user]
    train_stop = train_indptr[user + 1]
    for i in range(n_test):
        scores[i] = row[test_indices[test_start + i]]
    for q in range(train_start, train_stop):
        row[train_indices[q]] = -np.inf
    # Test entries that are train entries too (check_intersections=False) are masked now
    # and do not count themselves.
    for i in range(n_test):
        item = test_indices[test_start + i]
        if scores[i] > -np.inf or scores[i] != scores[i]:
            seen[i] = row[item] == -np.inf
        else:   # scored -inf before masking: look it up
            seen[i] = contains_sorted(train_indices, train_start, train_stop, item)
    k = list_scores.shape[0]
    if k > 0:
        filled = 0
        threshold = -np.inf
        for c0 in range(0, n_items, 64):
            # A view, so that the loops run from 0 (numba's negative-index wraparound
            # on a loop from c0 stops LLVM from vectorising the count).
            chunk = row[c0:c0 + 64]
            above = 0
            for j in range(chunk.shape[0]):
                above += chunk[j] > threshold
            if above == 0:   # once the list is full most chunks hold nothing above it
                continue
            for j in range(chunk.shape[0]):
                if chunk[j] > threshold:
                    filled = insert_top(list_scores, list_items, filled, chunk[j], c0 + j)
                    if filled == k:
                        threshold = list_scores[k - 1]
        for slot in range(k):
            top_items[e, slot] = list_items[slot] if slot < filled else -1
            top_scores[e, slot] = list_scores[slot] if slot < filled else -np.inf
    if exact_below < 0 or n_test > sort_threshold:
        # Every rank: count at or above each test score.
        for i in range(n_test):
            entries[i] = i
        _count_entries(row, scores, entries, n_test, counts, sort_threshold)
        for i in range(n_test):
            ranks[test_start + i] = counts[i] - (0 if seen[i] else 1)
        return
    # Only ranks below ``exact_below`` and the best rank: count the test items from the
    # best score down, four per pass, until no remaining item can rank lower than
    # needed. Ranks fall with the score (a train item does not count itself), so every
    # item after one with count c ranks >= c - 1.
    for i in range(n_test):
        entries[i] = i
        ranks[test_start + i] = n_items   # not needed: at least exact_below
    best_rank = n_items
    done = 0
    while done < n_test and (exact_below > 0 or best):
        group = min(4, n_test - done)
        for slot in range(done, done + group):   # selection: nan first, then by score
            pick = slot
            for p in range(slot + 1, n_test):
                a = scores[entries[p]]
                b = scores[entries[pick]]
                if (a != a and b == b) or a > b:
                    pick = p
            entries[slot], entries[pick] = entries[pick], entries[slot]
        _count_at_or_above(row, scores, entries[done:], group, counts)
        for p in range(group):
            i = entries[done + p]
            rank = counts[p] - (0 if seen[i] else 1)
            ranks[test_start + i] = rank
            best_rank = min(best_rank, rank)
        done += group
        lowest_remaining = counts[group - 1] - 1
        if lowest_remaining >= exact_below and (not best or lowest_remaining >= best_rank):
            break


@jit.parallel
def rank_users(user_vectors, users, items_t, item_biases, test_indptr, test_indices,
               train_indptr, train_indices, exact_below, best, sort_threshold,
               max_test, n_workers, quads_per_task, next_task, ranks, top_items,
               top_scores):
    """Score, rank and (optionally) list the top items of ``users``, fused per 4 users.

    Scores are computed by ``_score_users`` into a per-worker buffer of 4 rows, then
    each row is ranked at once (while in cache); memory is O(n_workers x n_items).
    Work is handed out dynamically: each worker takes the next task (``quads_per_task``
    runs of 4 users) from the shared counter ``next_task``, so a thread that the OS
    slows down (other processes on the cores) does not hold up the others, as it would
    with prange's static split. Results do not depend on which worker ranks a user.

    Parameters
    ----------
    user_vectors : float32[n_rows, d]
    users : int32[m]
        Rows of ``user_vectors`` (and of the test / train CSRs) to rank, ascending.
    items_t : float32[dp, n_items]
        Item vectors transposed, ``dp`` = d rounded up to a multiple of 8 (zero rows).
    item_biases : float32[n_items]
    test_indptr, test_indices, train_indptr, train_indices : int64, int32, int64, int32
        CSRs with sorted rows; train items are excluded from every ranking.
    exact_below : int
        -1: every rank is computed. Otherwise only ranks below ``exact_below`` (and,
        with ``best``, each user's lowest rank) are exact; the other entries get
        ``n_items`` (a rank is at most ``n_items - 1``).
    best : bool
    sort_threshold : int
        Users with more test items than this are ranked by sorting their row once.
    max_test : int
        Most test entries of one user.
    n_workers : int
        Parallel workers (the thread count).
    quads_per_task : int
        Runs of 4 users per task.
    next_task : int64[1]
        Zero on entry; the work queue.
    ranks : float32[nnz_test]
        Receives, for each test entry of ``users``, #{j != i, j not in train :
        score_j >= score_i} (ties count against the item), aligned with ``test_indices``.
    top_items : int32[m, k]
        Receives the k best non-train items per user (ties: lower index first; -1 where
        fewer exist); k may be 0.
    top_scores : float32[m, k]
    """
    n_components, n_items = items_t.shape
    d = user_vectors.shape[1]
    m = users.shape[0]
    n_quads = (m + 3) // 4
    k = top_items.shape[1]
    n_tasks = (n_quads + quads_per_task - 1) // quads_per_task
    for _ in prange(n_workers):
        rows = np.empty((4, n_items), dtype=np.float32)
        vectors = np.zeros((4, n_components), dtype=np.float32)
        list_scores = np.empty(k, dtype=np.float32)
        list_items = np.empty(k, dtype=np.int32)
        scores = np.empty(max_test, dtype=np.float32)
        seen = np.zeros(max_test, dtype=np.bool_)
        entries = np.empty(max_test, dtype=np.int64)
        counts = np.empty(max_test, dtype=np.int64)
        task = fetch_add(next_task, 1)
        while task < n_tasks:
            for quad in range(task * quads_per_task, min((task + 1) * quads_per_task, n_quads)):
                first = 4 * quad
                size = min(4, m - first)
                for r in range(4):
                    for c in range(d):
                        vectors[r, c] = user_vectors[users[first + r], c] if r < size else 0.0
                _score_users(vectors, items_t, item_biases, rows)
                for r in range(size):
                    _rank_row(rows[r], users[first + r], first + r, test_indptr,
                              test_indices, train_indptr, train_indices, exact_below, best,
                              sort_threshold, ranks, top_items, top_scores, list_scores,
                              list_items, scores, seen, entries, counts)
            task = fetch_add(next_task, 1)


@jit.serial
def score_octet(vectors, columns_t, column_biases, row_biases, start, stop, rows):
    """Scores of the 8 rows of ``vectors`` against columns ``start`` to ``stop - 1`` of
    ``columns_t``, into ``rows[:, :stop - start]``.

    ``rows[r, j - start] = bias + sum_c vectors[r, c] * columns_t[c, j]`` with ``bias =
    column_biases[j]``, or ``row_biases[r]`` when ``row_biases`` is not None (the
    approximate index scores a cluster's items as the rows against its users as the
    columns). The arithmetic of ``_score_users`` term for term (bias, then the products
    of components ``0, 1, ...`` added one at a time in float32, no fused multiply-add),
    so every score equals ``rank_users``' score for the same user and item whichever
    side is the row (products commute exactly). Only the instruction order differs:
    eight rows and four components per pass over the columns, each step done for all
    eight rows before the next (eight independent addition chains in flight instead of
    one chain of eight additions at a time), which measured ~40 GMAD/s single-threaded
    against ~25 for the four-user, chain-by-chain order. ``columns_t`` has a multiple of
    4 rows (zero padded, like ``vectors``; adding 0 does not change a sum). The loops
    run over views from 0, so LLVM vectorises them over the columns (see
    ``rank_block``).
    """
    n_components = columns_t.shape[0]
    width = stop - start
    r0 = rows[0, :width]
    r1 = rows[1, :width]
    r2 = rows[2, :width]
    r3 = rows[3, :width]
    r4 = rows[4, :width]
    r5 = rows[5, :width]
    r6 = rows[6, :width]
    r7 = rows[7, :width]
    if row_biases is None:
        biases = column_biases[start:stop]
        for j in range(width):
            bias = biases[j]
            r0[j] = bias
            r1[j] = bias
            r2[j] = bias
            r3[j] = bias
            r4[j] = bias
            r5[j] = bias
            r6[j] = bias
            r7[j] = bias
    else:
        for j in range(width):
            r0[j] = row_biases[0]
            r1[j] = row_biases[1]
            r2[j] = row_biases[2]
            r3[j] = row_biases[3]
            r4[j] = row_biases[4]
            r5[j] = row_biases[5]
            r6[j] = row_biases[6]
            r7[j] = row_biases[7]
    for c in range(0, n_components, 4):
        a0, a1, a2, a3 = vectors[0, c], vectors[0, c + 1], vectors[0, c + 2], vectors[0, c + 3]
        b0, b1, b2, b3 = vectors[1, c], vectors[1, c + 1], vectors[1, c + 2], vectors[1, c + 3]
        e0, e1, e2, e3 = vectors[2, c], vectors[2, c + 1], vectors[2, c + 2], vectors[2, c + 3]
        f0, f1, f2, f3 = vectors[3, c], vectors[3, c + 1], vectors[3, c + 2], vectors[3, c + 3]
        g0, g1, g2, g3 = vectors[4, c], vectors[4, c + 1], vectors[4, c + 2], vectors[4, c + 3]
        h0, h1, h2, h3 = vectors[5, c], vectors[5, c + 1], vectors[5, c + 2], vectors[5, c + 3]
        l0, l1, l2, l3 = vectors[6, c], vectors[6, c + 1], vectors[6, c + 2], vectors[6, c + 3]
        m0, m1, m2, m3 = vectors[7, c], vectors[7, c + 1], vectors[7, c + 2], vectors[7, c + 3]
        i0, i1 = columns_t[c, start:stop], columns_t[c + 1, start:stop]
        i2, i3 = columns_t[c + 2, start:stop], columns_t[c + 3, start:stop]
        for j in range(width):
            x = i0[j]
            s0 = r0[j] + a0 * x
            s1 = r1[j] + b0 * x
            s2 = r2[j] + e0 * x
            s3 = r3[j] + f0 * x
            s4 = r4[j] + g0 * x
            s5 = r5[j] + h0 * x
            s6 = r6[j] + l0 * x
            s7 = r7[j] + m0 * x
            x = i1[j]
            s0 = s0 + a1 * x
            s1 = s1 + b1 * x
            s2 = s2 + e1 * x
            s3 = s3 + f1 * x
            s4 = s4 + g1 * x
            s5 = s5 + h1 * x
            s6 = s6 + l1 * x
            s7 = s7 + m1 * x
            x = i2[j]
            s0 = s0 + a2 * x
            s1 = s1 + b2 * x
            s2 = s2 + e2 * x
            s3 = s3 + f2 * x
            s4 = s4 + g2 * x
            s5 = s5 + h2 * x
            s6 = s6 + l2 * x
            s7 = s7 + m2 * x
            x = i3[j]
            s0 = s0 + a3 * x
            s1 = s1 + b3 * x
            s2 = s2 + e3 * x
            s3 = s3 + f3 * x
            s4 = s4 + g3 * x
            s5 = s5 + h3 * x
            s6 = s6 + l3 * x
            s7 = s7 + m3 * x
            r0[j] = s0
            r1[j] = s1
            r2[j] = s2
            r3[j] = s3
            r4[j] = s4
            r5[j] = s5
            r6[j] = s6
            r7[j] = s7


@jit.serial
def _select_tile(row, start, list_scores, list_items, filled, threshold):
    """Offer the scores ``row`` of items ``start, start + 1, ...`` to a running top list.

    ``list_scores`` / ``list_items`` hold ``filled`` entries, best first; ``threshold``
    is the last score once the list is full (-inf before). Returns the new
    ``(filled, threshold)``. Items arrive in increasing index order over the calls, so
    ties keep the lower index first; -inf and nan scores are never listed.
    """
    k = list_scores.shape[0]
    for c0 in range(0, row.shape[0], 64):
        chunk = row[c0:c0 + 64]
        above = 0
        for j in range(chunk.shape[0]):   # vectorised; most chunks hold nothing above
            above += chunk[j] > threshold
        if above == 0:
            continue
        for j in range(chunk.shape[0]):
            if chunk[j] > threshold:
                filled = insert_top(list_scores, list_items, filled, chunk[j],
                                     start + c0 + j)
                if filled == k:
                    threshold = list_scores[k - 1]
    return filled, threshold


@jit.parallel
def top_users(user_vectors, users, items_t, item_biases, exclude_indptr, exclude_indices,
              tile, n_workers, octets_per_task, next_task, top_items, top_scores):
    """The ``k`` best items of each of ``users``, scored as ``rank_users`` scores them.

    A task is a group of ``8 * octets_per_task`` users, taken from the shared counter
    ``next_task`` (so a thread slowed by other processes does not hold up the others).
    The group's users are scored eight at a time (``score_octet``) against one tile of
    ``tile`` items, so that the tile's item components stay in L2 across the group and
    the 8 x ``tile`` score rows in L1, and each row is offered to its user's running
    top list at once (a vectorised threshold test skips most of it). Memory is
    O(n_workers x (tile + group x k)); each score is a fixed-order float32 sum of its
    user's and item's vectors, so results depend neither on the batching of ``users``
    nor on the thread count, and equal ``rank_users``' top lists.

    Parameters
    ----------
    user_vectors : float32[n_rows, d]
    users : int32[m]
        Rows of ``user_vectors`` (and of the exclude CSR), in output order.
    items_t : float32[dp, n_items]
        Item vectors transposed, ``dp`` = d rounded up to a multiple of 8 (zero rows).
    item_biases : float32[n_items]
        -inf for items that may not be listed.
    exclude_indptr, exclude_indices : int64, int32
        Items to leave out per row of ``user_vectors``, CSR with sorted rows.
    tile : int
        Items per tile (> 0).
    n_workers : int
        Parallel workers (the thread count).
    octets_per_task : int
        Runs of 8 users per task.
    next_task : int64[1]
        Zero on entry; the work queue.
    top_items : int32[m, k]
        Receives the k best items per user, best first (ties: lower index first; -1
        where fewer than k items have a score above -inf).
    top_scores : float32[m, k]
        Their scores (-inf where ``top_items`` is -1).
    """
    n_components, n_items = items_t.shape
    d = user_vectors.shape[1]
    m = users.shape[0]
    k = top_items.shape[1]
    group = 8 * octets_per_task
    n_tasks = (m + group - 1) // group
    for _ in prange(n_workers):
        rows = np.empty((8, tile), dtype=np.float32)
        vectors = np.zeros((group, n_components), dtype=np.float32)
        list_scores = np.empty((group, k), dtype=np.float32)
        list_items = np.empty((group, k), dtype=np.int32)
        filled = np.zeros(group, dtype=np.int64)
        thresholds = np.empty(group, dtype=np.float32)
        cursor = np.zeros(group, dtype=np.int64)
        task = fetch_add(next_task, 1)
        while task < n_tasks:
            first = task * group
            size = min(group, m - first)
            for r in range(group):
                for c in range(d):
                    vectors[r, c] = user_vectors[users[first + r], c] if r < size else 0.0
                filled[r] = 0
                thresholds[r] = -np.inf
                cursor[r] = exclude_indptr[users[first + r]] if r < size else 0
            for start in range(0, n_items, tile):
                stop = min(start + tile, n_items)
                for octet in range(0, size, 8):
                    score_octet(vectors[octet:octet + 8], items_t, item_biases, None, start,
                                stop, rows)
                    for r in range(min(8, size - octet)):
                        u = octet + r
                        row = rows[r, :stop - start]
                        # Mask this tile's excluded items (sorted: a cursor per user).
                        p = cursor[u]
                        p_stop = exclude_indptr[users[first + u] + 1]
                        while p < p_stop and exclude_indices[p] < stop:
                            row[exclude_indices[p] - start] = -np.inf
                            p += 1
                        cursor[u] = p
                        filled[u], thresholds[u] = _select_tile(
                            row, start, list_scores[u], list_items[u], filled[u],
                            thresholds[u])
            for u in range(size):
                for slot in range(k):
                    listed = slot < filled[u]
                    top_items[first + u, slot] = list_items[u, slot] if listed else -1
                    top_scores[first + u, slot] = list_scores[u, slot] if listed else -np.inf
            task = fetch_add(next_task, 1)
