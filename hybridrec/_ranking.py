"""Ranking without a users x items matrix.

``rank_items`` (``LightFM.predict_rank``, the metrics, the baselines): one fused numba
pass scores four users at a time against every item and ranks their test items while
the scores are in cache; memory is O(threads x n_items). ``top_k`` (recommendations):
dense score blocks by BLAS (``users x items`` float32 never exceeds ``block_bytes``),
top-k lists by a numba kernel; memory O(block x n_items). Neither is ever
O(n_users x n_items).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._config import INDEX
from ._threads import numba_threads
from ._validation import check_sparse
from .kernels import scoring

#: Upper bound on the memory of one block of scores.
BLOCK_BYTES = 64 * 2**20
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
    """CSR with summed duplicates, sorted indices and int32 index arrays.

    An input that already is such a CSR is used as is (no copy); otherwise a converted
    copy is made, so the caller's matrix is never modified.
    """
    check_sparse(matrix, name)
    csr = matrix if matrix.format == "csr" else matrix.tocsr()
    if not csr.has_canonical_format:
        csr = csr.copy() if csr is matrix else csr
        csr.sum_duplicates()
    if csr.indptr.dtype != INDEX or csr.indices.dtype != INDEX:
        csr = sp.csr_matrix((csr.data, csr.indices.astype(INDEX), csr.indptr.astype(INDEX)),
                            shape=csr.shape)
    return csr


def prepare_test_train(test_interactions: sp.spmatrix, train_interactions: sp.spmatrix | None,
                       check_intersections: bool) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Validate and convert the test and train matrices (LightFM's rules and messages)."""
    test = as_sorted_csr(test_interactions, "test_interactions")
    if train_interactions is None:
        train = sp.csr_matrix(test.shape, dtype=np.float32)
        train.indptr = train.indptr.astype(INDEX)
        train.indices = train.indices.astype(INDEX)
        return test, train
    train = as_sorted_csr(train_interactions, "train_interactions")
    if train.shape != test.shape:
        raise ValueError(
            f"train_interactions has shape {train.shape} but test_interactions has shape "
            f"{test.shape}; they must match."
        )
    if check_intersections:
        shared = scoring.count_shared(test.indptr, test.indices, train.indptr, train.indices)
        if shared > 0:
            raise ValueError(
                f"Test interactions matrix and train interactions matrix share {shared} "
                "interactions. This will cause incorrect evaluation, check your data split."
            )
    return test, train


def _score_blocks(user_vectors: np.ndarray, item_vectors: np.ndarray,
                  item_biases: np.ndarray, users: np.ndarray, block_bytes: int
                  ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(start, block_users, scores)`` with ``scores = U[block] @ I.T + bias``.

    The item bias rides along as an extra component (the user side gets a 1), so one BLAS
    product gives the scores without a second pass. The score buffer is reused between
    blocks (its size is bounded by ``block_bytes``).
    """
    n_items, d = item_vectors.shape
    items_t = np.empty((d + 1, n_items), dtype=np.float32)
    items_t[:d] = item_vectors.T
    items_t[d] = item_biases
    block = int(max(1, min(users.shape[0], block_bytes // (4 * max(n_items, 1)))))
    rows = _min_product_rows(n_items, d + 1)
    scores = np.empty((max(block, rows), n_items), dtype=np.float32)
    users_block = np.ones((max(block, rows), d + 1), dtype=np.float32)
    for start in range(0, users.shape[0], block):
        block_users = users[start:start + block]
        size = block_users.shape[0]
        users_block[:size, :d] = user_vectors[block_users]
        # Short blocks are padded (rows past ``size`` are ignored): see _min_product_rows.
        product = max(size, rows)
        np.matmul(users_block[:product], items_t, out=scores[:product])
        yield start, block_users, scores[:size]


#: BLAS products with fewer multiply-adds than this may take other code paths.
_MIN_PRODUCT_WORK = 2**21


def _min_product_rows(n_items: int, depth: int) -> int:
    """Fewest user rows per BLAS product for batch-independent scores.

    OpenBLAS computes a one-row product with gemv and products under ~10^6 multiply-adds
    with its small-matrix kernels; both sum in another order than the general gemm, so
    a user's scores would depend (in the last bits) on how many users share the block.
    Padding every product to at least two rows and ``_MIN_PRODUCT_WORK`` multiply-adds
    keeps each score a function of the user and item alone: ``recommend(users=[u])``
    equals user ``u``'s rows of ``recommend()``, and partitioned runs (Dask) equal the
    single-process one. The padding costs under 2^21 multiply-adds per call.
    """
    work = max(n_items * depth, 1)
    return int(min(max(2, -(-_MIN_PRODUCT_WORK // work)), 2**16))


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
        scoring.rank_users(vectors, users, items_t, biases, test.indptr, test.indices,
                           train.indptr, train.indices,
                           -1 if exact_below is None else int(exact_below), bool(best),
                           RANK_SORT_THRESHOLD, max_test, threads, QUADS_PER_TASK,
                           np.zeros(1, dtype=np.int64), ranks, top_items, top_scores)
    return RankResult(test, ranks, users, top_items, top_scores)


def top_k(user_vectors: np.ndarray, item_vectors: np.ndarray, item_biases: np.ndarray,
          users: np.ndarray, k: int, num_threads: int, exclude: sp.csr_matrix | None = None,
          allowed_items: np.ndarray | None = None, block_bytes: int = BLOCK_BYTES
          ) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best items for each of ``users``; memory bounded by ``block_bytes``.

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
    block_bytes : int
        Memory bound of one block of scores.

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
    empty_test = np.zeros(n_rows + 1, dtype=INDEX)
    no_entries = np.zeros(0, dtype=INDEX)
    no_ranks = np.zeros(0, dtype=np.float32)
    with numba_threads(num_threads):
        # Few large blocks: each switch between BLAS's and numba's thread pools costs
        # (both spin-wait), so tiles small enough for the cache were measured slower.
        for start, block_users, scores in _score_blocks(user_vectors, item_vectors, biases,
                                                        users, block_bytes):
            stop = start + block_users.shape[0]
            scoring.rank_block(scores, block_users, empty_test, no_entries, exclude.indptr,
                               exclude.indices, SORT_THRESHOLD, no_ranks,
                               result_items[start:stop], result_scores[start:stop])
    return result_items, result_scores
