"""Spotlight's ``spotlight.sampling``: uniform negative item sampling."""

from __future__ import annotations

import numpy as np

from .._validation import is_integer

__all__ = ["sample_items"]


def sample_items(num_items: int, shape: int | tuple[int, ...],
                 random_state: np.random.RandomState | None = None) -> np.ndarray:
    """Item ids drawn uniformly from ``0 .. num_items - 1``.

    Parameters
    ----------
    num_items : int
    shape : int or tuple of int
        Shape of the result.
    random_state : numpy.random.RandomState, optional
        Its ``randint`` makes the draw (Spotlight's, so the same state gives the same ids).

    Returns
    -------
    numpy.ndarray of int64
    """
    if not is_integer(num_items) \
            or num_items < 1:
        raise ValueError(f"num_items must be a positive integer, got {num_items!r}.")
    if random_state is None:
        random_state = np.random.RandomState()
    if isinstance(random_state, np.random.Generator):
        return random_state.integers(0, num_items, shape, dtype=np.int64)
    return random_state.randint(0, num_items, shape, dtype=np.int64)
