"""The NumPy parts of Spotlight's ``spotlight.torch_utils``.

``minibatch`` and ``shuffle`` work on NumPy arrays exactly as Spotlight's do. ``gpu``,
``cpu`` and ``assert_no_grad`` move or inspect PyTorch tensors and have no equivalent
(hybridrec has no tensors). ``set_seed`` seeded PyTorch's global generator, which
hybridrec never uses: every random draw of a hybridrec model comes from its
``random_state``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np

__all__ = ["minibatch", "set_seed", "shuffle"]


def minibatch(*tensors: np.ndarray, **kwargs: int) -> Iterator:
    """Consecutive slices of ``batch_size`` (default 128) rows of the arrays (a tuple of
    slices for several arrays)."""
    batch_size = kwargs.get("batch_size", 128)
    if len(tensors) == 1:
        tensor = tensors[0]
        for i in range(0, len(tensor), batch_size):
            yield tensor[i:i + batch_size]
    else:
        for i in range(0, len(tensors[0]), batch_size):
            yield tuple(x[i:i + batch_size] for x in tensors)


def shuffle(*arrays: np.ndarray, **kwargs: object) -> np.ndarray | tuple[np.ndarray, ...]:
    """The arrays in one random order (``random_state``: a RandomState, as Spotlight's)."""
    random_state = kwargs.get("random_state")
    if len({len(x) for x in arrays}) != 1:
        raise ValueError("All inputs to shuffle must have the same length.")
    if random_state is None:
        random_state = np.random.RandomState()
    index = np.arange(len(arrays[0]))
    random_state.shuffle(index)
    if len(arrays) == 1:
        return arrays[0][index]
    return tuple(x[index] for x in arrays)


def set_seed(seed: int, cuda: bool = False) -> None:
    """Spotlight seeded PyTorch here; hybridrec has no global generator to seed.

    Pass ``random_state`` to the models and splits instead. Warns (once per call site)
    so that code relying on it for reproducibility learns why it has no effect.

    Raises
    ------
    ValueError
        If ``cuda`` is true (hybridrec has no GPU path).
    """
    if cuda:
        raise ValueError("set_seed(cuda=True): hybridrec has no GPU path.")
    warnings.warn("set_seed has no effect in hybridrec: models and splits draw from their "
                  "random_state argument only (pass random_state=np.random.RandomState(seed)).",
                  UserWarning, stacklevel=2)
