"""Spotlight's ``spotlight.interactions``: user-item interaction data sets.

:class:`Interactions` holds the observed (user, item) pairs, optionally with ratings,
timestamps and weights; :meth:`Interactions.to_sequence` turns it into the
:class:`SequenceInteractions` that sequence models train on (rows left-padded with
zeros, item id 0 reserved for that padding), exactly as Spotlight 0.1.6 builds them.

Differences from Spotlight: arrays are converted once at construction (ids to int32,
ratings and weights to float32; timestamps keep their numeric dtype) and every problem
(negative or non-integer ids, NaN ratings, arrays of different lengths, ...) raises a
``ValueError`` naming the argument. Arrays already of the right dtype are stored as
given, not copied, as Spotlight does.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from .._validation import is_integer

__all__ = ["Interactions", "SequenceInteractions"]

_INT32_MAX = np.iinfo(np.int32).max


def _as_ids(values: object, name: str) -> np.ndarray:
    """1-d int32 ids from integer (or integral float) values, all >= 0."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-dimensional array, got shape {array.shape}.")
    if array.dtype.kind == "f":
        if array.size and (not np.isfinite(array).all()
                           or not np.array_equal(array, np.floor(array))):
            raise ValueError(f"{name} must hold integer ids; got non-integer floats.")
    elif array.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer ids, got dtype {array.dtype}.")
    if array.size and (array.min() < 0 or array.max() > _INT32_MAX):
        raise ValueError(
            f"{name} must hold ids between 0 and {_INT32_MAX}, got values from "
            f"{array.min()} to {array.max()}."
        )
    return np.asarray(array, dtype=np.int32)


def _as_optional_floats(values: object, name: str) -> np.ndarray | None:
    """1-d finite float32 values, or None."""
    if values is None:
        return None
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-dimensional array, got shape {array.shape}.")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers, got dtype {array.dtype}.")
    with np.errstate(over="ignore"):
        array = np.asarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite; found NaN or infinite values (or values "
                         "beyond float32's range).")
    return array


def _as_optional_timestamps(values: object) -> np.ndarray | None:
    """1-d numeric timestamps in their own dtype (only their order is ever used)."""
    if values is None:
        return None
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"timestamps must be a 1-dimensional array, got shape {array.shape}.")
    if array.dtype.kind not in "iuf":
        raise ValueError(f"timestamps must hold numbers, got dtype {array.dtype}.")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError("timestamps must be finite; found NaN or infinite values.")
    return array


def _count(value: object, name: str, ids: np.ndarray) -> int:
    """``num_users`` / ``num_items``: given (an int > max id) or ``max id + 1``.

    As in Spotlight, ``None`` and ``0`` both mean "infer from the ids".
    """
    largest = int(ids.max()) if ids.size else -1
    if value is None or (isinstance(value, numbers.Integral) and value == 0):
        return largest + 1
    if not is_integer(value) \
            or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    return int(value)


class Interactions:
    """Interactions object: user-item pairs, optionally with ratings, timestamps and weights.

    For implicit feedback give the pairs where an interaction was observed (every pair
    left out is a missing observation). For explicit feedback give every observed
    (user, item, rating) triplet.

    Parameters
    ----------
    user_ids : array of int, shape (n,)
        User id of each pair (stored as int32).
    item_ids : array of int, shape (n,)
        Item id of each pair (stored as int32).
    ratings : array of float, shape (n,), optional
        Stored as float32.
    timestamps : array of numbers, shape (n,), optional
        Only their order matters (``to_sequence``); the dtype is kept.
    weights : array of float, shape (n,), optional
        Stored as float32. hybridrec's factorization models use them as sample weights
        (Spotlight's ignore them).
    num_users, num_items : int, optional
        Number of users / items; must exceed the largest id. Default (or 0): largest id + 1.

    Attributes
    ----------
    user_ids, item_ids, ratings, timestamps, weights
        The arrays above (``None`` where not given).
    num_users, num_items : int

    Raises
    ------
    ValueError
        For negative or non-integer ids, ids beyond ``num_users`` / ``num_items``,
        arrays of different lengths, or non-finite ratings / weights / timestamps.
    """

    def __init__(self, user_ids: object, item_ids: object, ratings: object = None,
                 timestamps: object = None, weights: object = None,
                 num_users: int | None = None, num_items: int | None = None) -> None:
        self.user_ids = _as_ids(user_ids, "user_ids")
        self.item_ids = _as_ids(item_ids, "item_ids")
        self.ratings = _as_optional_floats(ratings, "ratings")
        self.timestamps = _as_optional_timestamps(timestamps)
        self.weights = _as_optional_floats(weights, "weights")
        self.num_users = _count(num_users, "num_users", self.user_ids)
        self.num_items = _count(num_items, "num_items", self.item_ids)
        self.check()

    def __repr__(self) -> str:
        return (f"<Interactions dataset ({self.num_users} users x {self.num_items} items "
                f"x {len(self)} interactions)>")

    def __len__(self) -> int:
        return len(self.user_ids)

    def check(self) -> None:
        """Raise ValueError unless ids are within the counts and all arrays have one entry
        per interaction (Spotlight's checks).

        Models call it again at ``fit``, since the attributes may have been changed.
        """
        n = len(self.user_ids)
        for name, value in (("item_ids", self.item_ids), ("ratings", self.ratings),
                            ("timestamps", self.timestamps), ("weights", self.weights)):
            if value is not None and len(value) != n:
                raise ValueError(
                    f"Invalid {name} dimensions: length must be equal to number of "
                    f"interactions ({n} user_ids), got {len(value)}."
                )
        for name, ids, count in (("user", self.user_ids, self.num_users),
                                 ("item", self.item_ids, self.num_items)):
            if len(ids) and int(ids.min()) < 0:
                raise ValueError(f"{name}_ids must be >= 0, got {int(ids.min())}.")
            if len(ids) and int(ids.max()) >= count:
                raise ValueError(
                    f"Maximum {name} id greater than declared number of {name}s: largest "
                    f"{name} id is {int(ids.max())} but num_{name}s is {count} (ids must be "
                    f"0 .. num_{name}s - 1)."
                )

    def tocoo(self) -> sp.coo_matrix:
        """The interactions as a ``(num_users, num_items)`` COO matrix.

        Values are the ratings (float32), or ones without ratings; duplicate pairs stay
        separate entries.
        """
        data = self.ratings if self.ratings is not None else np.ones(len(self), np.float32)
        return sp.coo_matrix((data, (self.user_ids, self.item_ids)),
                             shape=(self.num_users, self.num_items))

    def tocsr(self) -> sp.csr_matrix:
        """The interactions as a CSR matrix (duplicate pairs summed)."""
        return self.tocoo().tocsr()

    def to_sequence(self, max_sequence_length: int = 10, min_sequence_length: int | None = None,
                    step_size: int | None = None) -> SequenceInteractions:
        """Transform to sequence form.

        Each user's interactions are sorted by timestamp (ties keep their order) and a
        window of up to ``max_sequence_length`` items slides over them from the most
        recent backwards, ``step_size`` items at a time. Each window is a row,
        left-padded with zeros. A user with items ``[1, 2, 3, 4, 5]`` gives, at length 5
        and step 1::

            [[1, 2, 3, 4, 5],
             [0, 1, 2, 3, 4],
             [0, 0, 1, 2, 3],
             [0, 0, 0, 1, 2],
             [0, 0, 0, 0, 1]]

        and at step 2 the rows ``[1, 2, 3, 4, 5]``, ``[0, 0, 1, 2, 3]``, ``[0, 0, 0, 0, 1]``.
        Users come in increasing id order, each user's windows most recent first.

        Parameters
        ----------
        max_sequence_length : int, default 10
            Row length; shorter windows are left-padded with zeros.
        min_sequence_length : int, optional
            Keep only rows with at least this many items (``1 .. max_sequence_length``).
        step_size : int, optional
            Stride of the window; default ``max_sequence_length`` (non-overlapping).

        Returns
        -------
        SequenceInteractions
            ``sequences`` int32 ``(num_sequences, max_sequence_length)``, ``user_ids``
            int32 ``(num_sequences,)`` and this data set's ``num_items``.

        Raises
        ------
        ValueError
            Without timestamps, if an item id is 0 (the padding value), or for invalid
            lengths.
        """
        if self.timestamps is None:
            raise ValueError("Cannot convert to sequences, timestamps not available.")
        if len(self.item_ids) and (self.item_ids == 0).any():
            raise ValueError("0 is used as an item id, conflicting with the sequence padding "
                             "value. Shift the item ids by one (item_ids + 1, num_items + 1).")
        length = _positive_int(max_sequence_length, "max_sequence_length")
        step = length if step_size is None else _positive_int(step_size, "step_size")
        if min_sequence_length is not None:
            minimum = _positive_int(min_sequence_length, "min_sequence_length")
            if minimum > length:
                raise ValueError(
                    f"min_sequence_length must be <= max_sequence_length ({length}), got "
                    f"{minimum}."
                )
        self.check()

        order = np.lexsort((self.timestamps, self.user_ids))
        users, starts, counts = np.unique(self.user_ids[order], return_index=True,
                                          return_counts=True)
        items = self.item_ids[order]
        # Windows per user: ceil(count / step); window j ends j * step items before the
        # user's last item.
        windows = -(-counts // step)
        row_user = np.repeat(np.arange(len(users)), windows)
        first_row = np.cumsum(windows) - windows
        window_index = np.arange(len(row_user)) - np.repeat(first_row, windows)
        end = counts[row_user] - window_index * step  # items [end - length, end) of the user
        sequences = np.zeros((len(row_user), length), dtype=np.int32)
        offsets = np.arange(length) - length
        # Rows are filled in blocks so the int64 index temporaries stay near 4M entries.
        block = max(1, (1 << 22) // length)
        for first in range(0, len(row_user), block):
            rows = slice(first, first + block)
            position = end[rows, None] + offsets[None, :]
            valid = position >= 0
            sequences[rows][valid] = items[(starts[row_user[rows]][:, None] + position)[valid]]
        sequence_users = users[row_user].astype(np.int32)
        if min_sequence_length is not None:
            long_enough = sequences[:, -minimum] != 0
            sequences = sequences[long_enough]
            sequence_users = sequence_users[long_enough]
        return SequenceInteractions(sequences, user_ids=sequence_users,
                                    num_items=self.num_items)


def _positive_int(value: object, name: str) -> int:
    if not is_integer(value) \
            or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


class SequenceInteractions:
    """Interactions encoded as a sequence matrix.

    Parameters
    ----------
    sequences : array of int, shape (num_sequences, max_sequence_length)
        Item ids, left-padded with 0 (as made by :meth:`Interactions.to_sequence`);
        stored as int32.
    user_ids : array of int, shape (num_sequences,), optional
        The user of each row.
    num_items : int, optional
        Number of distinct items; default ``sequences.max() + 1``.

    Attributes
    ----------
    sequences : int32 array (num_sequences, max_sequence_length)
    user_ids : int32 array (num_sequences,) or None
    num_items : int
    max_sequence_length : int
    """

    def __init__(self, sequences: object, user_ids: object = None,
                 num_items: int | None = None) -> None:
        array = np.asarray(sequences)
        if array.ndim != 2:
            raise ValueError(f"sequences must be a 2-dimensional array (num_sequences x "
                             f"max_sequence_length), got shape {array.shape}.")
        self.sequences = _as_ids(array.reshape(-1), "sequences").reshape(array.shape)
        self.user_ids = None if user_ids is None else _as_ids(user_ids, "user_ids")
        if self.user_ids is not None and len(self.user_ids) != array.shape[0]:
            raise ValueError(f"user_ids must have one entry per sequence ({array.shape[0]}), "
                             f"got {len(self.user_ids)}.")
        self.max_sequence_length = int(array.shape[1])
        largest = int(self.sequences.max()) if self.sequences.size else 0
        if num_items is None:
            self.num_items = largest + 1
        else:
            if not is_integer(num_items) or num_items <= largest:
                raise ValueError(f"num_items must be an integer greater than the largest item "
                                 f"id in sequences ({largest}), got {num_items!r}.")
            self.num_items = int(num_items)

    def __repr__(self) -> str:
        num_sequences, sequence_length = self.sequences.shape
        return (f"<Sequence interactions dataset ({num_sequences} sequences x "
                f"{sequence_length} sequence length)>")

    def __len__(self) -> int:
        return int(self.sequences.shape[0])
