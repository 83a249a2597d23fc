"""The whole-array state kernels (finite check, rollback copies) against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from hybridrec._threads import numba_threads
from hybridrec.kernels import state


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, None])
def test_count_nonfinite_matches_numpy(threads, bad):
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((37, 5)).astype(np.float32)
    vector = rng.standard_normal(41).astype(np.float32)
    if bad is not None:
        matrix[36, 4] = bad
        matrix[3, 0] = bad
        vector[0] = bad
    with numba_threads(threads):
        assert state.count_nonfinite_2d(matrix) == np.count_nonzero(~np.isfinite(matrix))
        assert state.count_nonfinite_1d(vector) == np.count_nonzero(~np.isfinite(vector))
        assert state.count_nonfinite_2d(np.zeros((0, 3), np.float32)) == 0
        assert state.count_nonfinite_1d(np.zeros(0, np.float32)) == 0


def test_count_nonfinite_keeps_large_finite_values():
    values = np.array([np.finfo(np.float32).max, -np.finfo(np.float32).max, 0.0],
                      dtype=np.float32)
    assert state.count_nonfinite_1d(values) == 0
    assert state.count_nonfinite_2d(values.reshape(1, 3)) == 0


@pytest.mark.parametrize("threads", [1, 2])
def test_copies_are_exact(threads):
    rng = np.random.default_rng(1)
    matrix = rng.standard_normal((29, 7)).astype(np.float32)
    matrix[0, 0] = np.nan
    matrix[1, 1] = -0.0
    vector = rng.standard_normal(31).astype(np.float32)
    matrix_copy = np.full_like(matrix, 5.0)
    vector_copy = np.full_like(vector, 5.0)
    with numba_threads(threads):
        state.copy_2d(matrix, matrix_copy)
        state.copy_1d(vector, vector_copy)
    assert matrix_copy.tobytes() == matrix.tobytes()
    assert vector_copy.tobytes() == vector.tobytes()
