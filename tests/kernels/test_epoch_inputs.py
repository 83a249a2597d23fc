"""The per-epoch inputs of the training kernels: shuffled order and positives lookup."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hybridrec.kernels import epoch_inputs


@pytest.mark.parametrize("positive_only", [False, True])
def test_shuffled_active_is_a_permutation_of_the_active_examples(positive_only):
    rng = np.random.default_rng(0)
    n = 5000
    weights = rng.choice([0.0, 0.5, 1.0], n).astype(np.float32)
    values = rng.choice([-1.0, 0.0, 1.0, 4.0], n).astype(np.float32)
    active = weights > 0
    if positive_only:
        active &= values > 0
    order = epoch_inputs.shuffled_active(weights, values, positive_only, np.uint64(7))
    assert order.dtype == np.int64
    np.testing.assert_array_equal(np.sort(order), np.flatnonzero(active))
    again = epoch_inputs.shuffled_active(weights, values, positive_only, np.uint64(7))
    np.testing.assert_array_equal(order, again)
    other = epoch_inputs.shuffled_active(weights, values, positive_only, np.uint64(8))
    assert not np.array_equal(order, other)


def test_shuffled_active_positions_are_uniform():
    """Each index lands in each position about equally often (chi-square bound)."""
    n, trials = 6, 12000
    counts = np.zeros((n, n))
    ones = np.ones(n, dtype=np.float32)
    for seed in range(1, trials + 1):
        order = epoch_inputs.shuffled_active(ones, ones, True, np.uint64(seed * 7919))
        counts[order, np.arange(n)] += 1
    expected = trials / n
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 60  # 25 degrees of freedom: p < 1e-4 above ~60


def test_shuffled_active_empty():
    empty = np.zeros(0, dtype=np.float32)
    assert epoch_inputs.shuffled_active(empty, empty, True, np.uint64(1)).shape == (0,)


@pytest.mark.parametrize("layout", ["sorted", "shuffled", "duplicates"])
def test_positives_lookup_matches_scipy(layout):
    rng = np.random.default_rng(1)
    n_rows, n_cols = 40, 30
    matrix = sp.random(n_rows, n_cols, density=0.3, random_state=2, format="coo",
                       dtype=np.float32)
    rows, cols = matrix.row.astype(np.int32), matrix.col.astype(np.int32)
    values = rng.choice([-1.0, 0.0, 1.0, 2.0], rows.shape[0]).astype(np.float32)
    if layout != "sorted":
        permutation = rng.permutation(rows.shape[0])
        rows, cols, values = rows[permutation], cols[permutation], values[permutation]
    if layout == "duplicates":
        rows = np.concatenate([rows, rows[:20]])
        cols = np.concatenate([cols, cols[:20]])
        values = np.concatenate([values, np.ones(20, dtype=np.float32)])
    else:
        order = np.lexsort((cols, rows))
        rows, cols, values = rows[order], cols[order], values[order]
        if layout == "shuffled":
            permutation = rng.permutation(rows.shape[0])
            rows, cols, values = rows[permutation], cols[permutation], values[permutation]
    keep = values > 0
    expected = sp.csr_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])),
                             shape=(n_rows, n_cols))
    expected.sum_duplicates()
    indptr, indices = epoch_inputs.positives_lookup(n_rows, n_cols, rows, cols, values)
    assert indptr.dtype == np.int64 and indices.dtype == np.int32
    np.testing.assert_array_equal(indptr, expected.indptr)
    np.testing.assert_array_equal(indices, expected.indices)


@pytest.mark.parametrize("n_cols", [1, 63, 64, 65, 200])
def test_positives_bitset_matches_dense_pattern(n_cols):
    """Bit c % 64 of word c // 64 in row r is set exactly for the CSR's (r, c) cells,
    including the last partial word and empty rows."""
    n_rows = 7
    dense = np.random.default_rng(n_cols).random((n_rows, n_cols)) < 0.3
    dense[2] = False
    matrix = sp.csr_matrix(dense)
    bits = epoch_inputs.positives_bitset(n_rows, n_cols, matrix.indptr.astype(np.int64),
                                         matrix.indices.astype(np.int32))
    assert bits.dtype == np.uint64 and bits.shape == (n_rows, -(-n_cols // 64))
    columns = np.arange(n_cols)
    unpacked = (bits[:, columns // 64] >> (columns % 64).astype(np.uint64)) & np.uint64(1)
    np.testing.assert_array_equal(unpacked.astype(bool), dense)
