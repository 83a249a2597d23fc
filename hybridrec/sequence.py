"""Next-item recommendation from ordered interactions (Spotlight's pooling sequence model).

A user's state is the mean of the embeddings of the items it consumed most recently; the
next item is scored by ``state . output_embedding + bias``. Training is Hogwild SGD over
every (sequence, position) pair with a BPR loss against sampled negatives
(``kernels.sequence``). Evaluation holds out the last item(s) of each sequence and ranks
them among all items not in the sequence's history, with the same ranking engine as
``hybridrec.metrics``; two baselines (popularity, item-to-item transitions) use it too.
"""

from __future__ import annotations

import numbers
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._config import INDEX, POSITION
from ._scoring import SORT_THRESHOLD, as_sorted_csr, rank_items
from ._threads import check_num_threads, numba_threads
from ._validation import check_positive_int, csr_kernel_arrays
from .data import IdMapper
from .kernels import scoring
from .kernels.sequence import fit_pooling_epoch

__all__ = [
    "CooccurrenceBaseline", "PopularityBaseline", "SequenceModel", "Sequences",
    "leave_last_out", "sequence_metrics", "sequences_from_frame",
]


@dataclass
class Sequences:
    """Item sequences, one per user, in time order.

    Attributes
    ----------
    keys : numpy.ndarray
        The user key of each sequence.
    indptr : numpy.ndarray of int64
        Sequence ``s`` is ``items[indptr[s]:indptr[s + 1]]``.
    items : numpy.ndarray of int32
        Item indices (see ``item_mapper``).
    item_mapper : IdMapper
        Item keys to indices.
    """

    keys: np.ndarray
    indptr: np.ndarray
    items: np.ndarray
    item_mapper: IdMapper

    def __len__(self) -> int:
        return int(self.indptr.shape[0] - 1)

    @property
    def lengths(self) -> np.ndarray:
        """Length of every sequence."""
        return np.diff(self.indptr)

    def history_matrix(self) -> sp.csr_matrix:
        """Sequences x items CSR marking the items each sequence contains."""
        rows = np.repeat(np.arange(len(self)), self.lengths)
        matrix = sp.csr_matrix((np.ones(self.items.shape[0], dtype=np.float32),
                                (rows, self.items)), shape=(len(self), len(self.item_mapper)))
        matrix.sum_duplicates()
        return matrix


def sequences_from_frame(frame: pd.DataFrame, user_col: Hashable, item_col: Hashable,
                         time_col: Hashable, item_mapper: IdMapper | None = None
                         ) -> Sequences:
    """One time-ordered item sequence per user from a DataFrame of interactions.

    Parameters
    ----------
    frame : pandas.DataFrame
    user_col, item_col, time_col : hashable
        Key columns and the timestamp column (any sortable dtype; ties keep frame order).
    item_mapper : IdMapper, optional
        Existing item mapper (unknown items raise ``KeyError``); default: fitted here.

    Returns
    -------
    Sequences
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas.DataFrame, got {type(frame).__name__}.")
    missing = [c for c in (user_col, item_col, time_col) if c not in frame.columns]
    if missing:
        raise ValueError(f"frame has no column(s) {missing!r}; its columns are "
                         f"{list(frame.columns)!r}.")
    if len(frame) == 0:
        raise ValueError("frame has no rows.")
    if frame[time_col].isna().any():
        raise ValueError(f"frame[{time_col!r}] contains missing timestamps.")
    user_codes, user_keys = pd.factorize(frame[user_col], sort=False)
    if np.any(user_codes < 0):
        raise ValueError(f"frame[{user_col!r}] contains NaN/None keys.")
    order = np.lexsort((frame[time_col].to_numpy(), user_codes))
    if item_mapper is None:
        item_mapper = IdMapper()
        items = item_mapper.fit_transform(frame[item_col].to_numpy()[order],
                                          name=f"frame[{item_col!r}]")
    else:
        items = item_mapper.transform(frame[item_col].to_numpy()[order],
                                      name=f"frame[{item_col!r}]")
    counts = np.bincount(user_codes, minlength=len(user_keys))
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Sequences(np.asarray(user_keys, dtype=object), indptr,
                     np.ascontiguousarray(items, dtype=INDEX), item_mapper)


def leave_last_out(sequences: Sequences, n: int = 1, min_history: int = 1
                   ) -> tuple[Sequences, sp.csr_matrix]:
    """Hold out the last ``n`` items of every sequence long enough to keep a history.

    Parameters
    ----------
    sequences : Sequences
    n : int, default 1
    min_history : int, default 1
        Sequences shorter than ``n + min_history`` keep all their items and get no test.

    Returns
    -------
    train : Sequences
        Truncated sequences (same order and keys).
    test : scipy.sparse.csr_matrix
        Sequences x items, the held-out items.
    """
    lengths = sequences.lengths
    held = np.where(lengths >= n + min_history, n, 0)
    keep = np.ones(sequences.items.shape[0], dtype=bool)
    test_rows, test_items = [], []
    ends = sequences.indptr[1:]
    for offset in range(1, n + 1):
        has = held >= offset
        positions = ends[has] - offset
        keep[positions] = False
        test_rows.append(np.flatnonzero(has))
        test_items.append(sequences.items[positions])
    rows = np.concatenate(test_rows)
    cols = np.concatenate(test_items)
    test = sp.csr_matrix((np.ones(rows.shape[0], dtype=np.float32), (rows, cols)),
                         shape=(len(sequences), len(sequences.item_mapper)))
    test.sum_duplicates()
    indptr = np.concatenate([[0], np.cumsum(lengths - held)]).astype(np.int64)
    train = Sequences(sequences.keys, indptr, sequences.items[keep], sequences.item_mapper)
    return train, test


class SequenceModel:
    """Pooling sequence model for next-item recommendation.

    Parameters
    ----------
    no_components : int, default 64
    learning_rate : float, default 0.1
        Adagrad's initial rate.
    n_negatives : int, default 20
        Negatives drawn per example.
    adaptive : bool, default True
        Train against the highest-scoring of the drawn negatives.
    max_history : int, default 3
        Most recent items pooled into the state (short histories won on MovieLens: the
        next rating follows the last few closely; measured 3 > 10 > 50).
    epochs : int, default 20

    The defaults were chosen on MovieLens latest-small and 100k (last item held out):
    see tests/accuracy/test_sequence.py for the measured numbers.
    num_threads : int, default 1
    random_state : int or None
    """

    def __init__(self, no_components: int = 64, learning_rate: float = 0.1,
                 n_negatives: int = 20, adaptive: bool = True, max_history: int = 3,
                 epochs: int = 20, num_threads: int = 1,
                 random_state: int | None = None) -> None:
        self.no_components = no_components
        self.learning_rate = learning_rate
        self.n_negatives = n_negatives
        self.adaptive = adaptive
        self.max_history = max_history
        self.epochs = epochs
        self.num_threads = num_threads
        self.random_state = random_state

    def _validate(self) -> None:
        for name in ("no_components", "n_negatives", "max_history"):
            check_positive_int(getattr(self, name), name)
        if not (isinstance(self.epochs, numbers.Integral) and self.epochs >= 0):
            raise ValueError(f"epochs must be a non-negative integer, got {self.epochs!r}.")
        if not (isinstance(self.learning_rate, numbers.Real) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}.")
        check_num_threads(self.num_threads)

    def fit(self, sequences: Sequences) -> SequenceModel:
        """Train from scratch on every (sequence, position >= 1) pair.

        Parameters
        ----------
        sequences : Sequences

        Returns
        -------
        SequenceModel
        """
        self._validate()
        rng = np.random.default_rng(self.random_state)
        n_items, d = len(sequences.item_mapper), self.no_components
        self.item_mapper_ = sequences.item_mapper
        self.input_embeddings_ = ((rng.random((n_items, d), dtype=np.float32) - 0.5) / d)
        self.output_embeddings_ = ((rng.random((n_items, d), dtype=np.float32) - 0.5) / d)
        self.biases_ = np.zeros(n_items, dtype=np.float32)
        self._accum = [np.ones((n_items, d), np.float32), np.ones((n_items, d), np.float32),
                       np.ones(n_items, np.float32)]
        lengths = sequences.lengths
        example_sequence = np.repeat(np.arange(len(sequences)), np.maximum(lengths - 1, 0))
        positions = np.arange(example_sequence.shape[0]) - np.repeat(
            np.concatenate([[0], np.cumsum(np.maximum(lengths - 1, 0))[:-1]]),
            np.maximum(lengths - 1, 0))
        # Sequence numbers are ids (int32); positions into the items and the example
        # order are int64 (past 2**31 - 1 items in all).
        example_position = (positions + 1).astype(POSITION)
        example_sequence = example_sequence.astype(INDEX)
        indptr = np.ascontiguousarray(sequences.indptr, dtype=POSITION)
        for _ in range(self.epochs):
            order = np.arange(example_sequence.shape[0], dtype=POSITION)
            rng.shuffle(order)
            states = rng.integers(1, 2**63, size=self.num_threads, dtype=np.uint64)
            with numba_threads(self.num_threads):
                fit_pooling_epoch(indptr, sequences.items, example_sequence,
                                  example_position, order, self.input_embeddings_,
                                  self._accum[0], self.output_embeddings_, self._accum[1],
                                  self.biases_, self._accum[2], float(self.learning_rate),
                                  int(self.max_history), int(self.n_negatives),
                                  bool(self.adaptive), states)
            if not (np.isfinite(self.output_embeddings_).all()
                    and np.isfinite(self.input_embeddings_).all()):
                raise ValueError("Not all estimated parameters are finite, your model may "
                                 "have diverged. Try decreasing the learning rate.")
        return self

    def user_states(self, sequences: Sequences) -> np.ndarray:
        """Mean input embedding of each sequence's last ``max_history`` items.

        Returns
        -------
        numpy.ndarray of float32, shape (n_sequences, no_components)
            Zeros for empty sequences.
        """
        ends = sequences.indptr[1:]
        starts = np.maximum(sequences.indptr[:-1], ends - self.max_history)
        lengths = ends - starts
        positions = np.repeat(starts, lengths) + (
            np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths))
        rows = np.repeat(np.arange(len(sequences)), lengths)
        states = np.zeros((len(sequences), self.no_components), dtype=np.float64)
        np.add.at(states, rows, self.input_embeddings_[sequences.items[positions]])
        states /= np.maximum(lengths, 1)[:, None]
        return states.astype(np.float32)

    def item_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(output embeddings, biases)`` that score a state."""
        return self.output_embeddings_, self.biases_


class PopularityBaseline:
    """Scores every item by its number of occurrences in the training sequences."""

    def fit(self, sequences: Sequences) -> PopularityBaseline:
        """Count item occurrences."""
        counts = np.bincount(sequences.items, minlength=len(sequences.item_mapper))
        self.scores_ = counts.astype(np.float32)
        return self

    def scores(self, sequences: Sequences) -> np.ndarray:
        """The same popularity scores for every sequence, (n_sequences, n_items)."""
        return np.broadcast_to(self.scores_, (len(sequences), self.scores_.shape[0]))


class CooccurrenceBaseline:
    """Item-to-item transitions: scores the items that followed the sequence's last item
    in training sequences, by count (popularity breaks ties, scaled below one count)."""

    def fit(self, sequences: Sequences) -> CooccurrenceBaseline:
        """Count transitions ``a -> b`` of consecutive items within each sequence."""
        n_items = len(sequences.item_mapper)
        items = sequences.items
        same = np.ones(items.shape[0], dtype=bool)
        same[sequences.indptr[1:-1] - 1] = False     # last item of a sequence -> next sequence
        same[-1:] = False
        previous, following = items[:-1][same[:-1]], items[1:][same[:-1]]
        self.transitions_ = sp.csr_matrix(
            (np.ones(previous.shape[0], dtype=np.float32), (previous, following)),
            shape=(n_items, n_items))
        self.transitions_.sum_duplicates()
        popularity = np.bincount(items, minlength=n_items).astype(np.float64)
        self.tie_break_ = (popularity / (popularity.max() + 1.0) * 0.5).astype(np.float32)
        return self

    def scores(self, sequences: Sequences) -> np.ndarray:
        """Transition counts from each sequence's last item, (n_sequences, n_items)."""
        last = sequences.items[np.maximum(sequences.indptr[1:] - 1, 0)]
        scores = self.transitions_[last].toarray()
        scores += self.tie_break_
        scores[sequences.lengths == 0] = self.tie_break_
        return scores.astype(np.float32)


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
    if isinstance(model, SequenceModel):
        vectors, biases = model.item_vectors()
        result = rank_items(model.user_states(train), vectors, biases, test, seen,
                            num_threads)
        ranks, users = result.ranks, result.users
    else:
        ranks = np.zeros(test.nnz, dtype=np.float32)
        users = np.flatnonzero(np.diff(test.indptr)).astype(INDEX)
        scores = np.ascontiguousarray(model.scores(train)[users], dtype=np.float32)
        with numba_threads(num_threads):
            scoring.rank_block(scores, users, *csr_kernel_arrays(test),
                               *csr_kernel_arrays(seen), SORT_THRESHOLD, ranks,
                               np.zeros((users.shape[0], 0), dtype=INDEX),
                               np.zeros((users.shape[0], 0), dtype=np.float32))
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
