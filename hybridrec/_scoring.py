"""Ranking without a users x items matrix.

``rank_items`` (``LightFM.predict_rank``, the metrics, the baselines): one fused numba
pass scores four users at a time against every item and ranks their test items while
the scores are in cache; memory is O(threads x n_items). ``top_k`` (recommendations):
one numba pass scores eight users at a time against a tile of items and keeps running
top-k lists; memory O(threads x (tile + users per task x k)) besides the output. Both
compute every score with the same float32 arithmetic (item bias, then the products in
component order), so recommendations and metrics agree, and neither is ever
O(n_users x n_items).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._config import INDEX
from ._threads import numba_threads
from ._validation import check_sparse, csr_index_dtype, csr_kernel_arrays
from .kernels import scoring

#: Users with more test items than this are ranked by sorting (see ``rank_block``).
SORT_THRESHOLD = 128
#: ``rank_items``: users with more test items than this are ranked by sorting their score
#: row once (O(n log n), ~200 us for 3,706 items) instead of counting per test item
#: (~0.03 ns per item and test item, four test items per pass over the row).
RANK_SORT_THRESHOLD = 2048
#: ``rank_items``: runs of 4 users a thread takes from the work queue at a time (~25 us of
#: work each at 64 components and 3,706 items).
QUADS_PER_TASK = 4


def as_sorted_csr(matrix: sp.spmatrix, name: str) -> sp.csr_matrix:
    """CSR with summed duplicates and sorted indices, int32 index arrays up to
    ``2**31 - 1`` entries (int64 beyond, ``csr_index_dtype``). The kernels take its
    arrays through ``csr_kernel_arrays`` (int64 ``indptr``, int32 ``indices``).

    An input that already is such a CSR is used as is (no copy); otherwise a converted
    copy is made, so the caller's matrix is never modified.
    """
    check_sparse(matrix, name)
    csr = matrix if matrix.format == "csr" else matrix.tocsr()
    if not csr.has_canonical_format:
        csr = csr.copy() if csr is matrix else csr
        csr.sum_duplicates()
    dtype = csr_index_dtype(csr.nnz)
    if csr.indptr.dtype != dtype or csr.indices.dtype != dtype:
        csr = sp.csr_matrix((csr.data, csr.indices.astype(dtype), csr.indptr.astype(dtype)),
                            shape=csr.shape)
    return csr


def prepare_test_train(test_interactions: sp.spmatrix, train_interactions: sp.spmatrix | None,
                       check_intersections: bool) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Validate and convert the test and train matrices (LightFM's rules and messages)."""
    test = as_sorted_csr(test_interactions, "test_interactions")
    if train_interactions is None:
        return test, sp.csr_matrix(test.shape, dtype=np.float32)
    train = as_sorted_csr(train_interactions, "train_interactions")
    if train.shape != test.shape:
        raise ValueError(
            f"train_interactions has shape {train.shape} but test_interactions has shape "
            f"{test.shape}; they must match."
        )
    if check_intersections:
        shared = scoring.count_shared(*csr_kernel_arrays(test), *csr_kernel_arrays(train))
        if shared > 0:
            raise ValueError(
                f"Test interactions matrix and train interactions matrix share {shared} "
                "interactions. This will cause incorrect evaluation, check your data split."
            )
    return test, train


def check_identity_shape(shape: tuple[int, int], identity_users: bool, identity_items: bool,
                         n_user_rows: int, n_item_rows: int) -> None:
    """A test matrix ranked without feature matrices must match the model exactly.

    Without ``user_features`` / ``item_features`` each user / item is its own feature
    (the identity), so the matrix needs one row per user embedding and one column per
    item embedding: fewer items would rank each user's items among a part of the
    catalogue only, fewer users would silently drop users. LightFM raises ``ValueError``
    for both ("Incorrect number of features in item_features"), and so does this.
    """
    for side, axis, count, identity, rows in (
            ("user", "rows", shape[0], identity_users, n_user_rows),
            ("item", "columns", shape[1], identity_items, n_item_rows)):
        if identity and count != rows:
            raise ValueError(
                f"Incorrect number of {side}s: test_interactions has shape {shape}, i.e. "
                f"{count} {axis}, but the model has {rows} {side} embeddings and no "
                f"{side}_features were given. Without {side}_features the matrix needs "
                f"exactly {rows} {axis}, one per {side} of the model; or pass "
                f"{side}_features with one row per {side}."
            )


@dataclass
class RankResult:
    """Ranks of every test entry (aligned with ``test.data``) and optional top-k lists."""

    test: sp.csr_matrix
    ranks: np.ndarray
    users: np.ndarray          # users with at least one test entry, ascending
    top_items: np.ndarray      # int32 (len(users), k), -1 padded
    top_scores: np.ndarray     # float32 (len(users), k)


def rank_items(user_vectors: np.ndarray, item_vectors: np.ndarray, item_biases: np.ndarray,
               test: sp.csr_matrix, train: sp.csr_matrix, num_threads: int, k: int = 0,
               exact_below: int | None = None, best: bool = False) -> RankResult:
    """Rank each test entry among the user's non-train items; optionally top-k lists.

    Scoring and ranking are one fused numba pass (``scoring.rank_users``): each thread
    scores four users at a time into its own buffer and ranks them while the scores are
    in cache, so memory is O(threads x n_items) and no BLAS thread pool competes with
    numba's. Each score is a fixed-order float32 sum, so it does not depend on the
    batching or the thread count.

    Parameters
    ----------
    user_vectors : float32 (>= n_users, d)
        User representations (the user bias is omitted: it does not change a ranking).
    item_vectors : float32 (n_items, d)
    item_biases : float32 (n_items,)
    test, train : CSR from ``prepare_test_train``
    num_threads : int
    k : int
        Length of the top-k lists (0 for none).
    exact_below : int, optional
        If given, only ranks below it are computed exactly (plus each user's lowest rank
        with ``best``); the other entries get ``n_items``, above any real rank. Enough
        for the ``@k`` metrics with k <= exact_below and much cheaper than every rank.
    best : bool
        With ``exact_below``: also compute each user's lowest (best) rank exactly.
    """
    n_items = test.shape[1]
    users = np.flatnonzero(np.diff(test.indptr)).astype(INDEX)
    ranks = np.zeros(test.nnz, dtype=np.float32)
    top_items = np.full((users.shape[0], k), -1, dtype=INDEX)
    top_scores = np.full((users.shape[0], k), -np.inf, dtype=np.float32)
    if users.shape[0] == 0 or n_items == 0:
        return RankResult(test, ranks, users, top_items, top_scores)
    d = item_vectors.shape[1]
    # Item components as rows (the pass streams one component of every item at a time),
    # padded with zero rows to a multiple of 8 (the kernel sums 8 components per pass).
    items_t = np.zeros((-(-d // 8) * 8, n_items), dtype=np.float32)
    items_t[:d] = item_vectors[:n_items].T
    biases = np.ascontiguousarray(item_biases[:n_items], dtype=np.float32)
    vectors = np.ascontiguousarray(user_vectors, dtype=np.float32)
    max_test = int(np.diff(test.indptr).max())
    with numba_threads(num_threads) as threads:
        scoring.rank_users(vectors, users, items_t, biases, *csr_kernel_arrays(test),
                           *csr_kernel_arrays(train),
                           -1 if exact_below is None else int(exact_below), bool(best),
                           RANK_SORT_THRESHOLD, max_test, threads, QUADS_PER_TASK,
                           np.zeros(1, dtype=np.int64), ranks, top_items, top_scores)
    return RankResult(test, ranks, users, top_items, top_scores)


def top_k(user_vectors: np.ndarray, item_vectors: np.ndarray, item_biases: np.ndarray,
          users: np.ndarray, k: int, num_threads: int, exclude: sp.csr_matrix | None = None,
          allowed_items: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best items for each of ``users``, without a users x items matrix.

    One parallel numba pass (``scoring.top_users``): threads take groups of users from
    a shared counter and score eight at a time against tiles of items, offering each
    tile's scores to running top-k lists at once. Scores are fixed-order float32 sums
    (the arithmetic of ``rank_items``), so a user's list and scores depend neither on
    the other users of the call (batching, Dask partitions) nor on ``num_threads``,
    and equal the top-k lists of the metrics path. Memory besides the output is
    O(num_threads x (tile + users per task x k)). This replaced BLAS score blocks,
    whose threads fought numba's: with 2 threads it is 1.1-1.8x faster up to 128
    components, but on one idle core sgemm was faster (up to 1.7x at 100k items, 2.5x at
    256 components); benchmarks/README.md (recommendations) has the measurements.

    Parameters
    ----------
    user_vectors : float32 (n_users, d)
        Representations of all users (rows are picked by ``users``).
    item_vectors : float32 (n_items, d)
    item_biases : float32 (n_items,)
    users : int array (m,)
        Rows of ``user_vectors`` to recommend for, in output order.
    k : int
    num_threads : int
    exclude : CSR (n_users, n_items), optional
        Items to leave out per user (e.g. already seen); rows indexed like ``users``.
    allowed_items : bool array (n_items,), optional
        Only these items may be recommended.

    Returns
    -------
    items : int32 (m, k)
        Best first (ties: lower item index first); -1 where fewer than ``k`` items are
        allowed.
    scores : float32 (m, k)
        ``user . item + item bias``; -inf where ``items`` is -1.
    """
    n_items = item_vectors.shape[0]
    users = np.ascontiguousarray(users, dtype=INDEX)
    n_rows = user_vectors.shape[0]
    if exclude is None:
        exclude = sp.csr_matrix((n_rows, n_items), dtype=np.float32)
    exclude = as_sorted_csr(exclude, "exclude")
    biases = np.array(item_biases, dtype=np.float32, copy=True)
    if allowed_items is not None:
        biases[~np.asarray(allowed_items, dtype=bool)] = -np.inf
    result_items = np.full((users.shape[0], k), -1, dtype=INDEX)
    result_scores = np.full((users.shape[0], k), -np.inf, dtype=np.float32)
    if users.shape[0] == 0 or n_items == 0 or k == 0:
        return result_items, result_scores
    d = item_vectors.shape[1]
    items_t = np.zeros((-(-d // 8) * 8, n_items), dtype=np.float32)
    items_t[:d] = item_vectors.T
    vectors = np.ascontiguousarray(user_vectors, dtype=np.float32)
    tile = _item_tile(items_t.shape[0], n_items)
    with numba_threads(num_threads) as threads:
        scoring.top_users(vectors, users, items_t, biases, *csr_kernel_arrays(exclude),
                          tile, threads, _octets_per_task(users.shape[0], threads),
                          np.zeros(1, dtype=np.int64), result_items, result_scores)
    return result_items, result_scores


def _item_tile(depth: int, n_items: int) -> int:
    """Items per tile of ``top_users``: 512 up to 128 components (the tile's components,
    depth x 512 float32, stay in L2 while a group of users is scored against them; the
    8 score rows, 16 KiB, in L1), 256 beyond. Measured single-threaded on 6,040 x 3,706:
    512 best at 64 and 128 components, 256-512 at 256; 1024 and 128 were 20-40% slower.
    """
    return int(min(n_items, 512 if depth <= 128 else 256))


def _octets_per_task(n_users: int, threads: int) -> int:
    """Runs of 8 users per ``top_users`` task: 8 (each item tile is read from L2 by 64
    users; measured ~10-20% faster than 16 or 32 users at 100k items), fewer when that
    would leave a thread under four tasks. Results do not depend on it."""
    return int(min(8, max(1, n_users // (32 * threads))))
