"""``sequence_metrics``: MRR and precision / recall at k of held-out next items."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._config import INDEX
from .._scoring import SORT_THRESHOLD, as_sorted_csr, rank_items
from .._threads import check_num_threads, numba_threads
from .._validation import check_positive_int
from ..kernels import scoring
from .data import Sequences
from .model import SequenceModel

__all__ = ["sequence_metrics"]

#: Sequences scored at a time by the dense-score path.
_SCORE_ROWS = 1024


def sequence_metrics(model, train: Sequences, test: sp.csr_matrix, k: int = 10,
                     exclude_seen: bool = True, num_threads: int = 1) -> dict[str, float]:
    """MRR and precision@k / recall@k of held-out next items.

    Parameters
    ----------
    model : SequenceModel, PopularityBaseline or CooccurrenceBaseline
        Fitted.
    train : Sequences
        The histories (as returned by ``leave_last_out``).
    test : scipy.sparse.csr_matrix
        Sequences x items, the held-out items.
    k : int, default 10
    exclude_seen : bool, default True
        Do not rank items already in the sequence's history.
    num_threads : int, default 1

    Returns
    -------
    dict
        ``mrr`` (mean over sequences with test items of 1 / (best rank + 1)),
        ``precision_at_k``, ``recall_at_k``, ``n_sequences``.
    """
    k = check_positive_int(k, "k")
    num_threads = check_num_threads(num_threads)
    test = as_sorted_csr(test, "test")
    if test.shape != (len(train), len(train.item_mapper)):
        raise ValueError(f"test has shape {test.shape}; expected "
                         f"{(len(train), len(train.item_mapper))} (sequences x items).")
    seen = train.history_matrix() if exclude_seen else sp.csr_matrix(test.shape)
    seen = as_sorted_csr(seen - seen.multiply(test.astype(bool)), "history")
    seen.eliminate_zeros()
    if isinstance(model, SequenceModel) and model.network_.spec.dot_scoring:
        vectors, biases = model.item_vectors()
        result = rank_items(model.user_states(train), vectors, biases, test, seen,
                            num_threads)
        ranks, users = result.ranks, result.users
    else:
        users = np.flatnonzero(np.diff(test.indptr)).astype(INDEX)
        ranks = np.zeros(test.nnz, dtype=np.float32)
        for start in range(0, users.shape[0], _SCORE_ROWS):
            chunk = users[start:start + _SCORE_ROWS]
            scores = np.ascontiguousarray(_scores(model, train, chunk), dtype=np.float32)
            sub_test = test[chunk]
            sub_seen = as_sorted_csr(seen[chunk], "history")
            sub_ranks = np.zeros(sub_test.nnz, dtype=np.float32)
            with numba_threads(num_threads):
                scoring.rank_block(scores, np.arange(chunk.shape[0], dtype=INDEX),
                                   sub_test.indptr, sub_test.indices, sub_seen.indptr,
                                   sub_seen.indices, SORT_THRESHOLD, sub_ranks,
                                   np.zeros((chunk.shape[0], 0), dtype=INDEX),
                                   np.zeros((chunk.shape[0], 0), dtype=np.float32))
            ranks[test.indptr[chunk[0]]:test.indptr[chunk[-1] + 1]] = sub_ranks
    counts = np.diff(test.indptr)[users]
    rows = np.repeat(np.arange(users.shape[0]), counts)
    best = np.full(users.shape[0], np.inf)
    np.minimum.at(best, rows, ranks)
    hits = np.bincount(rows, weights=(ranks < k).astype(np.float64),
                       minlength=users.shape[0])
    return {"mrr": float(np.mean(1.0 / (best + 1.0))),
            "precision_at_k": float(np.mean(hits / k)),
            "recall_at_k": float(np.mean(hits / counts)),
            "n_sequences": int(users.shape[0])}


def _scores(model, train: Sequences, rows: np.ndarray) -> np.ndarray:
    """Scores of every item for the sequences ``rows`` of ``train``."""
    if isinstance(model, SequenceModel):
        starts, stops = train.indptr[rows], train.indptr[rows + 1]
        subset = Sequences(train.keys[rows],
                           np.concatenate([[0], np.cumsum(stops - starts)]).astype(np.int64),
                           np.concatenate([train.items[a:b] for a, b in
                                           zip(starts, stops, strict=True)]
                                          or [np.zeros(0, INDEX)]).astype(INDEX),
                           train.item_mapper)
        return model.scores(subset)
    return model.scores(train)[rows]
