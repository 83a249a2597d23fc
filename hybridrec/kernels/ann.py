"""Kernels of the approximate top-k index (``hybridrec._ann``): an inverted file (IVF).

Items are clustered by k-means on their augmented vectors ``[v, b]``; a query ``u`` probes
the clusters whose centroids ``[c, c_b]`` score highest against ``[u, 1]`` (the maximum
inner product with the item bias), and every item of the probed clusters is re-scored
exactly. The re-ranking uses the arithmetic of ``scoring.top_users`` (item bias, then the
products of components ``0, 1, ...`` added one at a time in float32, no fused
multiply-add), so a returned score equals the exact path's score for that user and item
bit for bit, and a returned list is the exact ranking of the probed candidates.

Every kernel here takes arrays and scalars only; the parallel ones are called only from
Python.
"""

import numpy as np
from numba import prange

from . import _jit as jit
from ._atomic import fetch_add
from .representation import contains_sorted
from .scoring import insert_top, score_octet


@jit.serial
def _insert_ranked(list_scores, list_items, filled, score, item):
    """Insert ``(score, item)`` into a list ordered by score descending, then item
    ascending, if it belongs among its ``k`` best; returns the new fill count.

    The order does not depend on the order of insertion, so the result is the exact
    top-k ranking (``scoring.top_users``' order: ties to the lower index) of whatever
    was offered, in any order.
    """
    k = list_scores.shape[0]
    if filled == k:
        last = list_scores[k - 1]
        if not (score > last or (score == last and item < list_items[k - 1])):
            return filled
        slot = k - 1
    else:
        slot = filled
    while slot > 0 and (list_scores[slot - 1] < score
                        or (list_scores[slot - 1] == score and list_items[slot - 1] > item)):
        list_scores[slot] = list_scores[slot - 1]
        list_items[slot] = list_items[slot - 1]
        slot -= 1
    list_scores[slot] = score
    list_items[slot] = item
    return filled + 1 if filled < k else filled


@jit.serial
def _offer_row(row, item_ids, start, list_scores, list_items, filled, exclude_indices,
               exclude_start, exclude_stop):
    """Offer the scores ``row`` of cluster-order positions ``start``, ``start + 1`` and on, to a
    running top list; excluded items (sorted ``exclude_indices[exclude_start:exclude_stop]``)
    and scores that are -inf or nan are never listed. Returns the new fill count."""
    k = list_scores.shape[0]
    threshold = list_scores[k - 1] if filled == k else -np.inf
    for c0 in range(0, row.shape[0], 64):
        chunk = row[c0:c0 + 64]
        candidates = 0
        for j in range(chunk.shape[0]):   # vectorised; most chunks hold nothing good enough
            candidates += chunk[j] >= threshold
        if candidates == 0:
            continue
        for j in range(chunk.shape[0]):
            score = chunk[j]
            if score >= threshold and score > -np.inf:
                item = item_ids[start + c0 + j]
                if exclude_stop > exclude_start and contains_sorted(
                        exclude_indices, exclude_start, exclude_stop, item):
                    continue
                filled = _insert_ranked(list_scores, list_items, filled, score, item)
                if filled == k:
                    threshold = list_scores[k - 1]
    return filled


#: Up to this many probes a running list beats a selection (see ``best_clusters``).
_RUNNING_LIST_PROBES = 16


@jit.serial
def _select_descending(values, rank):
    """The value at position ``rank`` (0-based) of ``values`` sorted descending (not
    nan); ``values`` is overwritten.

    A bisection over the 32 bits of order-preserving integer keys of the floats: each
    step counts the keys at or above a bound in one vectorised pass, so no branch
    depends on the data. For 1,265 scores: ~15-25 us on the loaded 2-core machine,
    against ~45 us for ``np.partition`` (which copies its input on every call) and for a
    quickselect (a mispredicted branch per element). Keys order -0.0 below +0.0, equal as
    floats: the value returned is exact up to that equality, which is all callers
    compare with.
    """
    keys = values.view(np.int32)
    n = keys.shape[0]
    for j in range(n):
        bits = keys[j]
        keys[j] = bits ^ ((bits >> 31) & 0x7FFFFFFF)   # negative floats: reversed order
    low = -(1 << 31)
    high = (1 << 31) - 1
    while low < high:   # the largest bound with more than ``rank`` keys at or above it
        bound = np.int32((low + high + 1) // 2)
        count = 0
        for j in range(n):
            count += keys[j] >= bound
        if count > rank:
            low = np.int64(bound)
        else:
            high = np.int64(bound) - 1
    key = np.int32(low)
    keys[0] = key ^ ((key >> 31) & 0x7FFFFFFF)   # the inverse map, then the float's bits
    return values[0]


@jit.serial
def best_clusters(scores, n_probe, work, out):
    """The ``n_probe`` highest of ``scores`` (ties: lower index) into ``out``, in cluster
    order: the set of the first ``n_probe`` of a stable argsort of ``-scores``.

    Up to ``_RUNNING_LIST_PROBES`` probes (the calibrated default on well-clustered
    embeddings, e.g. 9 of 1,265 on the planted 100k-item set), a running list ordered by
    (score desc, index asc) is kept in ``work`` (``scoring.insert_top``): a chunk of 32
    scores is compared with the list's last score in one vectorised pass and skipped
    when none beats it, so once the list is full almost nothing but that pass runs (9 of
    1,265: ~3 us idle, ~5-7 us on the loaded machine; ``np.partition``, used before,
    ~40-45 us, most of a 1M-user search's time). More probes: ``_select_descending`` on
    a copy in ``work`` finds the ``n_probe``-th highest score, then the clusters above it
    and those equal to it from the lowest index are taken (an insertion costs
    O(n_probe): the running list took ~22 us at 48 probes, the selection ~20 us).
    """
    n = scores.shape[0]
    if n_probe == n:
        for c in range(n):
            out[c] = c
        return
    if n_probe <= _RUNNING_LIST_PROBES:
        best = work[:n_probe]
        filled = 0
        last = -np.inf
        for c0 in range(0, n, 32):
            chunk = scores[c0:min(c0 + 32, n)]
            if filled == n_probe:
                above = 0
                for j in range(chunk.shape[0]):   # vectorised: most chunks hold nothing
                    above += chunk[j] > last
                if above == 0:
                    continue
            for j in range(chunk.shape[0]):
                # Scores arrive in cluster order, so insert_top's ties (the entry listed
                # first stays) are the lower cluster's.
                filled = insert_top(best, out, filled, chunk[j], c0 + j)
            if filled == n_probe:
                last = best[n_probe - 1]
        # Cluster order (insertion sort: n_probe is small).
        for p in range(1, n_probe):
            cluster = out[p]
            q = p
            while q > 0 and out[q - 1] > cluster:
                out[q] = out[q - 1]
                q -= 1
            out[q] = cluster
        return
    work[:] = scores
    cut = _select_descending(work, n_probe - 1)
    above = 0
    for c in range(n):
        above += scores[c] > cut
    ties = n_probe - above
    slot = 0
    for c in range(n):
        score = scores[c]
        if score > cut:
            out[slot] = c
            slot += 1
        elif score == cut and ties > 0:
            out[slot] = c
            slot += 1
            ties -= 1


@jit.serial
def _score_single(vector, columns_t, column_biases, start, stop, row):
    """``score_octet`` for one query row: the same arithmetic, so the same bits."""
    n_components = columns_t.shape[0]
    width = stop - start
    biases = column_biases[start:stop]
    out = row[:width]
    for j in range(width):
        out[j] = biases[j]
    for c in range(0, n_components, 4):
        a0, a1, a2, a3 = vector[c], vector[c + 1], vector[c + 2], vector[c + 3]
        i0, i1 = columns_t[c, start:stop], columns_t[c + 1, start:stop]
        i2, i3 = columns_t[c + 2, start:stop], columns_t[c + 3, start:stop]
        for j in range(width):
            s = out[j] + a0 * i0[j]
            s = s + a1 * i1[j]
            s = s + a2 * i2[j]
            s = s + a3 * i3[j]
            out[j] = s


@jit.serial
def _scan_cluster(cluster, pair_users, pair_first, n_pairs, block_users, block_t,
                  item_rows, item_biases, item_ids, offsets, exclude_indptr, exclude_indices,
                  list_scores, list_items, filled, scanned, users_t, thresholds,
                  octet_rows, row_biases, rows):
    """Score ``cluster``'s items for its block-local users
    ``pair_users[pair_first:pair_first + n_pairs]`` and offer the scores to their lists.

    The users are the columns (gathered into ``users_t``, tiles of ``rows.shape[1]``)
    and the items the rows, eight at a time: a cluster holds tens of items but is
    probed by hundreds of a block's users, so the vectorised dimension is long.
    """
    n_components = item_rows.shape[1]
    k = list_scores.shape[1]
    tile = rows.shape[1]
    first_item = offsets[cluster]
    n_items = offsets[cluster + 1] - first_item
    for t0 in range(0, n_pairs, tile):
        width = min(tile, n_pairs - t0)
        columns = pair_users[pair_first + t0:pair_first + t0 + width]
        # Gather the users' columns from the block's transposed vectors: contiguous
        # writes, reads within one row (a scattered write per component and user cost
        # more than the scoring).
        for c in range(n_components):
            source = block_t[c]
            target = users_t[c, :width]
            for j in range(width):
                target[j] = source[columns[j]]
        for j in range(width):
            u = columns[j]
            thresholds[j] = list_scores[u, k - 1] if filled[u] == k else -np.inf
            scanned[u] += n_items
        for q0 in range(0, n_items, 8):
            n_rows = min(8, n_items - q0)
            position = first_item + q0
            for r in range(8):
                row_biases[r] = item_biases[position + r] if r < n_rows else -np.inf
            if n_rows == 8:
                vectors = item_rows[position:position + 8]
            else:   # the cluster's last, partial octet: zero rows after its items
                for r in range(8):
                    for c in range(n_components):
                        octet_rows[r, c] = item_rows[position + r, c] if r < n_rows else 0.0
                vectors = octet_rows
            score_octet(vectors, users_t, row_biases, row_biases, 0, width, rows)
            for r in range(n_rows):
                if row_biases[r] == -np.inf:   # not an allowed item
                    continue
                item = item_ids[position + r]
                for c0 in range(0, width, 64):
                    # Views, so that the count runs from 0 and vectorises; most chunks
                    # hold no score good enough for any of their users.
                    chunk = rows[r, c0:min(c0 + 64, width)]
                    limits = thresholds[c0:c0 + chunk.shape[0]]
                    candidates = 0
                    for j in range(chunk.shape[0]):
                        candidates += chunk[j] >= limits[j]
                    if candidates == 0:
                        continue
                    for j in range(chunk.shape[0]):
                        score = chunk[j]
                        if score >= limits[j] and score > -np.inf:
                            u = pair_users[pair_first + t0 + c0 + j]
                            user = block_users[u]
                            start = exclude_indptr[user]
                            stop = exclude_indptr[user + 1]
                            if stop > start and contains_sorted(exclude_indices, start,
                                                                stop, item):
                                continue
                            filled[u] = _insert_ranked(list_scores[u], list_items[u],
                                                       filled[u], score, item)
                            if filled[u] == k:
                                limits[j] = list_scores[u, k - 1]


@jit.parallel
def search_ivf(user_vectors, users, centroids_t, centroid_biases, items_t, item_rows,
               item_biases, item_ids, offsets, exclude_indptr, exclude_indices, n_probe, tile,
               block_size, n_workers, next_task, top_items, top_scores, scanned_out):
    """Approximate top-k by probing the ``n_probe`` best clusters of each user.

    A task is a block of ``block_size`` users, taken from the shared counter
    ``next_task``. For each octet of the block the centroid scores ``c_b + u . c`` are
    computed and the ``n_probe`` best clusters kept (ties: lower cluster); the block's
    (user, cluster) pairs are then grouped by cluster, and each probed cluster's items
    are scored eight at a time against all of its users at once (``_scan_cluster``: the
    users are the long, vectorised dimension). A user whose probed clusters
    held fewer than ``k`` eligible items keeps probing clusters in centroid-score order
    until it has ``k`` or every cluster is scanned. A user's candidates depend only on its
    own vector and exclusions, and the list is ordered by (score desc, item asc)
    whatever the visiting order, so results depend neither on the batching nor on the
    thread count.

    Parameters
    ----------
    user_vectors : float32[n_rows, d]
    users : int32[m]
        Rows of ``user_vectors`` (and of the exclude CSR), in output order.
    centroids_t : float32[dp, n_clusters]
        Centroid vector parts transposed, ``dp`` = d rounded up to a multiple of 8.
    centroid_biases : float32[n_clusters]
        Centroid bias parts (what a query's constant 1 multiplies).
    items_t : float32[dp, n_items]
        Item vectors transposed, columns in cluster order (zero padded rows).
    item_rows : float32[n_items, dp]
        The same, not transposed (rows in cluster order, zero padded columns).
    item_biases : float32[n_items]
        Item biases in cluster order; -inf for items that may not be listed.
    item_ids : int32[n_items]
        Item index of each cluster-order position.
    offsets : int64[n_clusters + 1]
        Cluster ``c`` holds positions ``offsets[c] .. offsets[c + 1] - 1``.
    exclude_indptr, exclude_indices : int32
        Items to leave out per row of ``user_vectors``, CSR with sorted rows.
    n_probe : int
        Clusters probed per user (1 .. n_clusters).
    tile : int
        Widest run of items scored at once (> 0).
    block_size : int
        Users per task (a multiple of 8).
    n_workers : int
        Parallel workers (the thread count).
    next_task : int64[1]
        Zero on entry; the work queue.
    top_items : int32[m, k]
        Receives the k best probed items per user (-1 where fewer were found).
    top_scores : float32[m, k]
        Their exact scores (-inf where ``top_items`` is -1).
    scanned_out : int64[m]
        Receives the number of items scored per user.
    """
    n_components = items_t.shape[0]
    d = user_vectors.shape[1]
    m = users.shape[0]
    k = top_items.shape[1]
    n_clusters = centroids_t.shape[1]
    n_tasks = (m + block_size - 1) // block_size
    for _ in prange(n_workers):
        rows = np.empty((8, tile), dtype=np.float32)
        centroid_rows = np.empty((8, n_clusters), dtype=np.float32)
        vectors = np.zeros((8, n_components), dtype=np.float32)
        probes = np.empty((block_size, n_probe), dtype=np.int32)
        list_scores = np.empty((block_size, k), dtype=np.float32)
        list_items = np.empty((block_size, k), dtype=np.int32)
        filled = np.zeros(block_size, dtype=np.int64)
        scanned = np.zeros(block_size, dtype=np.int64)
        pair_start = np.zeros(n_clusters + 1, dtype=np.int64)
        pair_users = np.empty(block_size * n_probe, dtype=np.int32)
        block_users = np.empty(block_size, dtype=np.int32)
        users_t = np.zeros((n_components, tile), dtype=np.float32)
        block_t = np.zeros((n_components, block_size), dtype=np.float32)
        thresholds = np.empty(tile, dtype=np.float32)
        octet_rows = np.zeros((8, n_components), dtype=np.float32)
        row_biases = np.empty(8, dtype=np.float32)
        work = np.empty(n_clusters, dtype=np.float32)
        task = fetch_add(next_task, 1)
        while task < n_tasks:
            first = task * block_size
            size = min(block_size, m - first)
            for u in range(size):
                block_users[u] = users[first + u]
                filled[u] = 0
                scanned[u] = 0
                for c in range(d):
                    block_t[c, u] = user_vectors[block_users[u], c]
            # 1. The best clusters of each user, an octet at a time.
            for octet in range(0, size, 8):
                for r in range(8):
                    for c in range(d):
                        vectors[r, c] = (user_vectors[block_users[octet + r], c]
                                         if octet + r < size else 0.0)
                score_octet(vectors, centroids_t, centroid_biases, None, 0, n_clusters,
                             centroid_rows)
                for r in range(min(8, size - octet)):
                    best_clusters(centroid_rows[r], n_probe, work, probes[octet + r])
            # 2. Group the (user, cluster) pairs by cluster (counting sort).
            pair_start[:] = 0
            for u in range(size):
                for p in range(n_probe):
                    pair_start[probes[u, p] + 1] += 1
            for c in range(n_clusters):
                pair_start[c + 1] += pair_start[c]
            for u in range(size):
                for p in range(n_probe):
                    cluster = probes[u, p]
                    pair_users[pair_start[cluster]] = u
                    pair_start[cluster] += 1
            # pair_start[c] now holds the end of cluster c's run.
            # 3. Score each probed cluster for its users.
            run_start = 0
            for cluster in range(n_clusters):
                run_stop = pair_start[cluster]
                if run_stop > run_start:
                    _scan_cluster(cluster, pair_users, run_start, run_stop - run_start,
                                  block_users, block_t, item_rows, item_biases,
                                  item_ids, offsets, exclude_indptr, exclude_indices,
                                  list_scores, list_items, filled, scanned, users_t,
                                  thresholds, octet_rows, row_biases, rows)
                run_start = run_stop
            # 4. Users short of k eligible items probe on, in centroid-score order
            #    (rare: many excluded items, a small candidate set, tiny clusters).
            for u in range(size):
                if filled[u] == k or n_probe == n_clusters:
                    continue
                user = block_users[u]
                vector = vectors[0]
                for c in range(d):
                    vector[c] = user_vectors[user, c]
                _score_single(vector, centroids_t, centroid_biases, 0, n_clusters,
                              centroid_rows[0])
                # Stable: ties to the lower cluster, so the first n_probe are the
                # clusters probed above.
                order = np.argsort(-centroid_rows[0], kind="mergesort")
                for p in range(n_probe, n_clusters):
                    cluster = order[p]
                    for start in range(offsets[cluster], offsets[cluster + 1], tile):
                        stop = min(start + tile, offsets[cluster + 1])
                        _score_single(vector, items_t, item_biases, start, stop, rows[0])
                        filled[u] = _offer_row(rows[0, :stop - start], item_ids, start,
                                               list_scores[u], list_items[u], filled[u],
                                               exclude_indices, exclude_indptr[user],
                                               exclude_indptr[user + 1])
                        scanned[u] += stop - start
                    if filled[u] == k:
                        break
            for u in range(size):
                for slot in range(k):
                    listed = slot < filled[u]
                    top_items[first + u, slot] = list_items[u, slot] if listed else -1
                    top_scores[first + u, slot] = list_scores[u, slot] if listed else -np.inf
                scanned_out[first + u] = scanned[u]
            task = fetch_add(next_task, 1)


@jit.parallel
def nearest_centroids(points, centroids_t, centroid_offsets, n_workers, next_task,
                      assignment, best_scores):
    """k-means assignment: for each point, the centroid maximising
    ``centroid_offsets[c] + point @ centroid_c`` (ties: lower index).

    With ``centroid_offsets = -|c|^2 / 2`` that is the nearest centroid in Euclidean
    distance. Points are scored eight at a time (``score_octet``); each point's result
    depends only on its own row, so it does not depend on the thread count.

    Parameters
    ----------
    points : float32[n, dp]
        Zero-padded rows, ``dp`` a multiple of 4.
    centroids_t : float32[dp, n_clusters]
    centroid_offsets : float32[n_clusters]
    n_workers : int
    next_task : int64[1]
        Zero on entry.
    assignment : int32[n]
        Receives each point's centroid.
    best_scores : float32[n]
        Receives the maximised value.
    """
    n, n_components = points.shape
    n_clusters = centroids_t.shape[1]
    n_tasks = (n + 63) // 64   # a task: 64 points
    for _ in prange(n_workers):
        rows = np.empty((8, n_clusters), dtype=np.float32)
        vectors = np.zeros((8, n_components), dtype=np.float32)
        task = fetch_add(next_task, 1)
        while task < n_tasks:
            for first in range(task * 64, min((task + 1) * 64, n), 8):
                size = min(8, n - first)
                for r in range(8):
                    for c in range(n_components):
                        vectors[r, c] = points[first + r, c] if r < size else 0.0
                score_octet(vectors, centroids_t, centroid_offsets, None, 0, n_clusters, rows)
                for r in range(size):
                    best = 0
                    value = rows[r, 0]
                    for c in range(1, n_clusters):
                        if rows[r, c] > value:
                            value = rows[r, c]
                            best = c
                    assignment[first + r] = best
                    best_scores[first + r] = value
            task = fetch_add(next_task, 1)
