"""Whole-array passes over a model's state done once per epoch or per fit call: the
finiteness check after an epoch and the copies of the rollback snapshot.

NumPy does both on one core (``np.isfinite(a).all()`` also allocates a boolean array
the size of ``a``); on StackExchange identity + tags (73.6k x 30 item rows) the copy and
the check were ~15 % of a 1-thread epoch and more of a 2-thread one. These kernels
split the rows across the threads and allocate nothing.
"""

import numpy as np
from numba import prange

from . import _jit as jit


@jit.parallel
def count_nonfinite_2d(array):
    """Number of NaN / infinite entries of a 2-d float array (0: all finite)."""
    n = array.shape[0]
    d = array.shape[1]
    bad = 0
    for row in prange(n):
        row_bad = 0
        for c in range(d):
            if not np.isfinite(array[row, c]):
                row_bad += 1
        bad += row_bad
    return bad


@jit.parallel
def count_nonfinite_1d(array):
    """Number of NaN / infinite entries of a 1-d float array (0: all finite)."""
    bad = 0
    for i in prange(array.shape[0]):
        if not np.isfinite(array[i]):
            bad += 1
    return bad


@jit.parallel
def copy_2d(source, target):
    """``target[:] = source`` for two 2-d arrays of one shape, rows split across threads."""
    for row in prange(source.shape[0]):
        for c in range(source.shape[1]):
            target[row, c] = source[row, c]


@jit.parallel
def copy_1d(source, target):
    """``target[:] = source`` for two 1-d arrays of one shape."""
    for i in prange(source.shape[0]):
        target[i] = source[i]

