"""Batch scoring of a fitted Recommender from plain arrays: the work of one partition.

A :class:`ScoringSnapshot` holds what top-k recommendation and evaluation need of a fitted
``Recommender`` (id mappers, user and item representations, training interactions), as
numpy/scipy objects: it pickles compactly and carries no optimiser state, so it is what
``hybridrec.distributed`` sends to the Dask workers once. ``recommend_keys`` and
``evaluate_frame`` are the per-partition computations; ``Recommender.recommend`` and the
Dask path share ``recommendation_frame`` and ``evaluation_parts``, and scores do not
depend on how users are batched (``_ranking.top_k``), so a partitioned run
returns exactly the single-process result.

Nothing here imports dask.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._ranking import prepare_test_train, rank_items, top_k
from .data import IdMapper
from .metrics._aggregate import EvaluationParts
from .metrics.ranking import evaluation_parts, evaluation_rank_options

_SHOW = 5


def show_keys(values: np.ndarray) -> str:
    """A few keys for an error message (``[...] and N more``)."""
    values = list(np.asarray(values, dtype=object).tolist())
    more = f" and {len(values) - _SHOW} more" if len(values) > _SHOW else ""
    return f"{values[:_SHOW]!r}{more}"


def int32_csr(matrix: sp.spmatrix, shape: tuple[int, int] | None = None) -> sp.csr_matrix:
    """float32 CSR with int32 indices, duplicates summed (the kernels' input format)."""
    csr = sp.csr_matrix(matrix, dtype=np.float32)
    if shape is not None and csr.shape != shape:
        csr.resize(shape)
    csr.sum_duplicates()
    csr.indices = csr.indices.astype(np.int32, copy=False)
    csr.indptr = csr.indptr.astype(np.int32, copy=False)
    return csr


def top_frame(query_keys: np.ndarray, items: np.ndarray, scores: np.ndarray,
              mapper_keys: np.ndarray, columns: tuple[str, str, str]) -> pd.DataFrame:
    """Long DataFrame ``[query, result, score, rank]`` from ``top_k`` output (-1 dropped)."""
    m, k = items.shape
    valid = items >= 0
    query = np.repeat(np.arange(m), k)[valid.ravel()]
    flat = items[valid]
    return pd.DataFrame({
        columns[0]: np.asarray(query_keys)[query],
        columns[1]: mapper_keys[flat],
        columns[2]: scores[valid].astype(np.float32),
        "rank": np.tile(np.arange(1, k + 1), m)[valid.ravel()],
    })


def recommendation_frame(keys: np.ndarray, vectors: np.ndarray, user_biases: np.ndarray,
                         exclude: sp.csr_matrix, allowed: np.ndarray | None,
                         item_vectors: np.ndarray, item_biases: np.ndarray,
                         item_keys: np.ndarray, k: int, num_threads: int) -> pd.DataFrame:
    """Top-``k`` frame ``[user, item, score, rank]`` for users given by their vectors.

    ``exclude`` has one row per key (items to leave out); ``allowed`` masks candidate
    items. Scores are ``user . item + item bias + user bias``.
    """
    top_items, top_scores = top_k(vectors, item_vectors, item_biases,
                                  np.arange(keys.shape[0]), k, num_threads,
                                  exclude=int32_csr(exclude), allowed_items=allowed)
    top_scores = top_scores + user_biases[:, None]
    return top_frame(keys, top_items, top_scores, item_keys, ("user", "item", "score"))


@dataclass
class ScoringSnapshot:
    """A fitted Recommender reduced to what batch scoring needs (see the module doc).

    Attributes
    ----------
    user_mapper, item_mapper : IdMapper
    user_col, item_col : column names of the training interactions
    user_biases, user_vectors : float32 (n_users,), (n_users, d)
        Representations of every known user (through its feature row).
    item_biases, item_vectors : float32 (n_items,), (n_items, d)
    seen : CSR (n_users, n_items)
        Training interactions (what ``exclude_seen`` leaves out).
    popularity : float64 (n_items,)
        Item popularity from ``seen``, as ``evaluate`` computes it with training data.
    """

    user_mapper: IdMapper
    item_mapper: IdMapper
    user_col: Hashable
    item_col: Hashable
    user_biases: np.ndarray
    user_vectors: np.ndarray
    item_biases: np.ndarray
    item_vectors: np.ndarray
    seen: sp.csr_matrix
    popularity: np.ndarray

    @property
    def n_users(self) -> int:
        return int(self.user_vectors.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.item_vectors.shape[0])


def recommend_keys(snapshot: ScoringSnapshot, keys: np.ndarray, k: int, exclude_seen: bool,
                   allowed: np.ndarray | None, num_threads: int) -> pd.DataFrame:
    """``Recommender.recommend(keys, ...)`` for known users, from a snapshot.

    Raises
    ------
    KeyError
        Some keys are not known users (the message of ``Recommender.recommend``).
    """
    keys = np.asarray(keys)
    rows = snapshot.user_mapper.transform(keys, unknown="ignore", name="users")
    if np.any(rows < 0):
        raise KeyError(f"users: {int((rows < 0).sum())} unknown user(s) "
                       f"{show_keys(keys[rows < 0])}; fold them in (Recommender.fold_in) "
                       "before recommending on Dask.")
    if exclude_seen:
        exclude = snapshot.seen[rows]
    else:
        exclude = sp.csr_matrix((rows.shape[0], snapshot.n_items), dtype=np.float32)
    return recommendation_frame(keys, snapshot.user_vectors[rows], snapshot.user_biases[rows],
                                exclude, allowed, snapshot.item_vectors,
                                snapshot.item_biases,
                                snapshot.item_mapper.keys.to_numpy(), k, num_threads)


def test_interactions(frame: pd.DataFrame, user_mapper: IdMapper, item_mapper: IdMapper,
                      user_col: Hashable, item_col: Hashable) -> tuple[sp.csr_matrix, int]:
    """The (n_users, n_items) CSR of the rows of ``frame`` whose user and item are both
    known, and the number of rows dropped (the policy of ``Recommender.evaluate``)."""
    users = user_mapper.transform(frame[user_col], unknown="ignore",
                                  name=f"test[{user_col!r}]")
    items = item_mapper.transform(frame[item_col], unknown="ignore",
                                  name=f"test[{item_col!r}]")
    known = (users >= 0) & (items >= 0)
    # Repeated pairs add up, as in interactions_from_frame (int32_csr sums duplicates).
    matrix = sp.csr_matrix((np.ones(int(known.sum()), dtype=np.float32),
                            (users[known], items[known])),
                           shape=(len(user_mapper), len(item_mapper)))
    return int32_csr(matrix), int((~known).sum())


def snapshot_test(snapshot: ScoringSnapshot, frame: pd.DataFrame
                  ) -> tuple[sp.csr_matrix, int]:
    """``test_interactions`` with the snapshot's mappers and columns."""
    return test_interactions(frame, snapshot.user_mapper, snapshot.item_mapper,
                             snapshot.user_col, snapshot.item_col)


def evaluate_frame(snapshot: ScoringSnapshot, frame: pd.DataFrame, ks: tuple[int, ...],
                   metrics: tuple[str, ...], exclude_seen: bool,
                   popularity: np.ndarray | None, num_threads: int
                   ) -> tuple[EvaluationParts, int]:
    """Metric sums of the users of ``frame`` (all of each user's test rows must be here).

    Returns the combinable parts and the number of rows dropped for an unknown user or
    item (the policy of ``Recommender.evaluate``).
    """
    test, dropped = snapshot_test(snapshot, frame)
    test, train = prepare_test_train(test, snapshot.seen if exclude_seen else None, False)
    result = rank_items(snapshot.user_vectors, snapshot.item_vectors, snapshot.item_biases,
                        test, train, num_threads, **evaluation_rank_options(ks, metrics))
    return evaluation_parts(result, train, ks, metrics, popularity, num_threads), dropped
