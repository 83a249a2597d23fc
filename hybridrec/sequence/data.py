"""Sequence data: time-ordered item sequences from a DataFrame, the leave-last-out split,
and ``SequenceArrays``, the layout every sequence kernel reads.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._config import INDEX
from ..data import IdMapper

__all__ = ["SequenceArrays", "Sequences", "leave_last_out", "sequences_from_frame"]


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


@dataclass(frozen=True)
class SequenceArrays:
    """Sequences as the kernels read them: item 0 is the padding item.

    Sequence ``s`` is ``pads[s]`` leading padding positions followed by
    ``items[indptr[s]:indptr[s + 1]]`` (which may contain 0 too). Built from a
    left-padded matrix (``from_padded``: Spotlight's ``SequenceInteractions.sequences``,
    the leading zeros become ``pads``) or from ``Sequences`` (``from_sequences``: item
    index ``i`` becomes ``i + 1``, no padding).

    Attributes
    ----------
    indptr : numpy.ndarray of int64, shape (n_sequences + 1,)
    items : numpy.ndarray of int32
    pads : numpy.ndarray of int32, shape (n_sequences,)
    """

    indptr: np.ndarray
    items: np.ndarray
    pads: np.ndarray

    def __len__(self) -> int:
        return int(self.pads.shape[0])

    @property
    def n_items(self) -> np.ndarray:
        """Stored items (after the padding) of every sequence."""
        return np.diff(self.indptr)

    @property
    def lengths(self) -> np.ndarray:
        """Padded length ``pads + n`` of every sequence."""
        return self.pads + self.n_items

    def targets(self) -> np.ndarray:
        """Number of non-padding items (training targets) of every sequence."""
        rows = np.repeat(np.arange(len(self)), self.n_items)
        return np.bincount(rows[self.items != 0], minlength=len(self))

    @classmethod
    def from_padded(cls, matrix: np.ndarray) -> SequenceArrays:
        """Strip the leading zeros of every row of a (validated) int matrix."""
        matrix = np.asarray(matrix)
        n, length = matrix.shape
        nonzero = matrix != 0
        first = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), length)
        keep = np.arange(length)[None, :] >= first[:, None]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(length - first, out=indptr[1:])
        return cls(indptr, np.ascontiguousarray(matrix[keep], dtype=INDEX),
                   first.astype(INDEX))

    @classmethod
    def from_sequences(cls, sequences: Sequences) -> SequenceArrays:
        """Shift item indices by one (0 is the padding item) and add no padding."""
        return cls(np.ascontiguousarray(sequences.indptr, dtype=np.int64),
                   (sequences.items + 1).astype(INDEX),
                   np.zeros(len(sequences), dtype=INDEX))

    @classmethod
    def from_lists(cls, sequences: list[np.ndarray]) -> SequenceArrays:
        """From 1-d arrays of kernel item ids, no padding stripped."""
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        indptr = np.zeros(len(sequences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        items = (np.concatenate(sequences) if sequences else np.zeros(0)).astype(INDEX)
        return cls(indptr, items, np.zeros(len(sequences), dtype=INDEX))
