"""Train/test splits: random (LightFM-compatible), per user, and temporal."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._validation import is_integer, is_real

__all__ = ["per_user_train_test_split", "random_train_test_split", "temporal_train_test_split"]


def _random_state(random_state: Any) -> np.random.RandomState | np.random.Generator:
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    if random_state is None or is_integer(random_state):
        return np.random.RandomState(random_state)
    raise ValueError(
        "random_state must be None, an int, a numpy RandomState or Generator, "
        f"got {random_state!r}."
    )


def _check_sparse(interactions: Any) -> sp.coo_matrix:
    if not sp.issparse(interactions):
        raise ValueError(
            "Interactions must be a scipy.sparse matrix "
            f"(got {type(interactions).__name__})."
        )
    return interactions.tocoo()


def _coo(coo: sp.coo_matrix, mask: np.ndarray) -> sp.coo_matrix:
    return sp.coo_matrix(
        (coo.data[mask], (coo.row[mask].astype(np.int32), coo.col[mask].astype(np.int32))),
        shape=coo.shape, dtype=coo.dtype,
    )


def random_train_test_split(interactions: Any, test_percentage: float = 0.2,
                            random_state: Any = None) -> tuple[sp.coo_matrix, sp.coo_matrix]:
    """Randomly split interactions into train and test (LightFM-compatible).

    The stored entries are shuffled and the last ``nnz - int((1 - test_percentage) *
    nnz)`` go to test. With an int seed (or a ``RandomState``) the split is identical
    to ``lightfm.cross_validation.random_train_test_split`` for the same input.
    Users or items may end up only in test (partial cold start); see
    :func:`per_user_train_test_split` for a split that keeps every user's history.

    Parameters
    ----------
    interactions : scipy.sparse matrix
        ``(n_users, n_items)``.
    test_percentage : float
        Fraction of interactions in the test set, in [0, 1].
    random_state : int, numpy.random.RandomState, numpy.random.Generator or None
        Randomness; an int seeds a ``RandomState`` (as LightFM does).

    Returns
    -------
    train, test : scipy.sparse.coo_matrix
        Same shape and dtype as the input, disjoint entries.

    Raises
    ------
    ValueError
        If ``interactions`` is not sparse, ``test_percentage`` is outside [0, 1] or
        ``random_state`` is invalid.
    """
    coo = _check_sparse(interactions)
    if not is_real(test_percentage):
        raise ValueError(f"test_percentage must be a number in [0, 1], got {test_percentage!r}.")
    if not 0.0 <= float(test_percentage) <= 1.0:
        raise ValueError(f"test_percentage must be in [0, 1], got {test_percentage!r}.")
    rng = _random_state(random_state)
    order = np.arange(coo.nnz)
    rng.shuffle(order)
    cutoff = int((1.0 - test_percentage) * coo.nnz)
    # Keep LightFM's entry order (shuffled) so that results match it exactly.
    train_idx, test_idx = order[:cutoff], order[cutoff:]
    return (
        sp.coo_matrix((coo.data[train_idx], (coo.row[train_idx], coo.col[train_idx])),
                      shape=coo.shape, dtype=coo.dtype),
        sp.coo_matrix((coo.data[test_idx], (coo.row[test_idx], coo.col[test_idx])),
                      shape=coo.shape, dtype=coo.dtype),
    )


def _per_group_test_mask(groups: np.ndarray, order_key: np.ndarray, n_groups: int,
                         test_fraction: float | None, n_test: int | None,
                         min_train: int) -> np.ndarray:
    """Mark, within each group, the entries ranked last by ``order_key`` as test."""
    order = np.lexsort((order_key, groups))
    sorted_groups = groups[order]
    counts = np.bincount(groups, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(order.size) - starts[sorted_groups]  # 0 = first in the group
    if n_test is not None:
        wanted = np.full(n_groups, n_test, dtype=np.int64)
    else:
        wanted = np.floor(test_fraction * counts + 0.5).astype(np.int64)
    wanted = np.clip(np.minimum(wanted, counts - min_train), 0, None)
    is_test_sorted = rank >= (counts - wanted)[sorted_groups]
    mask = np.zeros(order.size, dtype=bool)
    mask[order] = is_test_sorted
    return mask


def _check_fraction_or_k(test_fraction: float | None, n_test: int | None,
                         min_train: int) -> None:
    if (test_fraction is None) == (n_test is None):
        raise ValueError("give exactly one of test_fraction and n_test, got "
                         f"test_fraction={test_fraction!r}, n_test={n_test!r}.")
    if test_fraction is not None and not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}.")
    if n_test is not None and (not is_integer(n_test) or n_test < 1):
        raise ValueError(f"n_test must be a positive integer, got {n_test!r}.")
    if not is_integer(min_train) or min_train < 1:
        raise ValueError(f"min_train must be a positive integer, got {min_train!r}.")


def per_user_train_test_split(
    interactions: Any,
    test_fraction: float | None = None,
    n_test: int | None = None,
    min_train: int = 1,
    random_state: Any = None,
) -> tuple[sp.coo_matrix, sp.coo_matrix]:
    """Split each user's interactions at random: a fraction, or k of them, go to test.

    Every user with test interactions keeps at least ``min_train`` interactions in
    train; users with too few interactions have no test interactions.

    Parameters
    ----------
    interactions : scipy.sparse matrix
        ``(n_users, n_items)``; each stored entry is one interaction.
    test_fraction : float, optional
        Fraction of each user's interactions in test, rounded half up
        (``floor(fraction * n + 0.5)``); 0.2 when neither it nor ``n_test`` is given.
    n_test : int, optional
        Leave-k-out: exactly this many per user (fewer when the user has fewer than
        ``n_test + min_train``).
    min_train : int
        Interactions every user keeps in train (at least 1).
    random_state : int, numpy.random.RandomState, numpy.random.Generator or None
        Randomness.

    Returns
    -------
    train, test : scipy.sparse.coo_matrix
        Same shape and dtype as the input, disjoint, together all entries.

    Raises
    ------
    ValueError
        Non-sparse input, both or neither of ``test_fraction``/``n_test``, values out
        of range.
    """
    coo = _check_sparse(interactions)
    if test_fraction is None and n_test is None:
        test_fraction = 0.2
    _check_fraction_or_k(test_fraction, n_test, min_train)
    rng = _random_state(random_state)
    keys = rng.random(coo.nnz) if isinstance(rng, np.random.Generator) else \
        rng.random_sample(coo.nnz)
    is_test = _per_group_test_mask(coo.row.astype(np.int64), keys, coo.shape[0],
                                   test_fraction, n_test, min_train)
    return _coo(coo, ~is_test), _coo(coo, is_test)


def temporal_train_test_split(
    frame: pd.DataFrame,
    timestamp_col: Hashable,
    *,
    cutoff: Any = None,
    test_fraction: float | None = None,
    n_test: int | None = None,
    user_col: Hashable | None = None,
    min_train: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a frame of interactions by time.

    Exactly one of three modes:

    - ``cutoff``: rows with ``timestamp >= cutoff`` are test (global cut-off);
    - ``test_fraction`` without ``user_col``: the latest fraction of all rows are test
      (the cut-off is the timestamp at that quantile; rows sharing the cut-off
      timestamp go to test);
    - ``n_test`` or ``test_fraction`` with ``user_col``: each user's last ``n_test``
      rows (or last fraction, rounded half up) are test, keeping at least
      ``min_train`` rows of every user in train. Ties in time keep the frame order
      (later rows count as later).

    Parameters
    ----------
    frame : pandas.DataFrame
        Interactions.
    timestamp_col : hashable
        Column of timestamps (numbers or datetimes); NaN/NaT is an error.
    cutoff : scalar, optional
        Global cut-off, comparable with the timestamps.
    test_fraction : float, optional
        Fraction in (0, 1).
    n_test : int, optional
        Last-n per user (needs ``user_col``).
    user_col : hashable, optional
        User column for per-user splits.
    min_train : int
        Rows every user keeps in train in per-user mode.

    Returns
    -------
    train, test : pandas.DataFrame
        Row subsets of ``frame`` (original index kept, original order).

    Raises
    ------
    ValueError
        Missing columns, missing timestamps, or an invalid combination of modes.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas.DataFrame, got {type(frame).__name__}.")
    for argument, column in (("timestamp_col", timestamp_col), ("user_col", user_col)):
        if column is not None and column not in frame.columns:
            raise ValueError(f"{argument}: column {column!r} not in the frame; its columns "
                             f"are {list(frame.columns)!r}.")
    stamps = frame[timestamp_col]
    if stamps.isna().any():
        positions = np.flatnonzero(stamps.isna().to_numpy())
        raise ValueError(f"timestamp_col {timestamp_col!r} has {positions.size} missing "
                         f"value(s) at row position(s) {positions[:5].tolist()}.")
    modes = sum(x is not None for x in (cutoff, test_fraction, n_test))
    if modes != 1:
        raise ValueError("give exactly one of cutoff, test_fraction and n_test, got "
                         f"cutoff={cutoff!r}, test_fraction={test_fraction!r}, "
                         f"n_test={n_test!r}.")
    if cutoff is not None:
        is_test = (stamps >= cutoff).to_numpy()
    elif user_col is None:
        if n_test is not None:
            raise ValueError("n_test (last-n per user) needs user_col.")
        if not 0.0 < float(test_fraction) < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}.")
        values = np.sort(stamps.to_numpy())
        index = min(int(len(values) * (1.0 - test_fraction)), len(values) - 1)
        is_test = (stamps >= values[index]).to_numpy() if len(values) else \
            np.zeros(0, dtype=bool)
    else:
        _check_fraction_or_k(test_fraction, n_test, min_train)
        users = frame[user_col]
        if users.isna().any():
            raise ValueError(f"user_col {user_col!r} contains missing ids (NaN/None).")
        groups, uniques = pd.factorize(users)
        time_rank = pd.Series(stamps.to_numpy()).rank(method="first").to_numpy()
        is_test = _per_group_test_mask(groups.astype(np.int64), time_rank, len(uniques),
                                       test_fraction, n_test, min_train)
    return frame.loc[~is_test], frame.loc[is_test]
