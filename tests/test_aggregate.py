"""Order-independent metric sums and batch-independent scores: what makes a partitioned
(Dask) evaluation or recommendation equal the single-process one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hybridrec._scoring import top_k
from hybridrec.metrics._aggregate import (
    EvaluationParts,
    combine_parts,
    exact_partials,
    summarise,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(finite, max_size=200), st.integers(0, 2**32 - 1))
def test_partials_sum_exactly_in_any_split(values, seed):
    values = np.asarray(values, dtype=np.float64)
    whole = math.fsum(exact_partials(values))
    assert whole == math.fsum(values)
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(values)
    cuts = np.sort(rng.integers(0, len(values) + 1, size=3))
    pieces = np.split(shuffled, cuts)
    assert math.fsum(np.concatenate([exact_partials(piece) for piece in pieces])) == whole
    squares = math.fsum(np.concatenate([exact_partials(piece, True) for piece in pieces]))
    assert squares == math.fsum(values * values)


def test_partials_beat_naive_summation():
    values = np.array([1e16, 1.0, -1e16, 1.0] * 50)
    assert math.fsum(exact_partials(values)) == 100.0
    assert np.sum(values) != 100.0  # the naive pairwise sum loses the ones


def test_partials_reject_non_finite():
    with pytest.raises(ValueError, match="finite"):
        exact_partials(np.array([1.0, np.nan]))


def _parts(values: np.ndarray, covered: np.ndarray, n_items: int) -> EvaluationParts:
    parts = EvaluationParts(("precision", "auc", "coverage"), (5,), n_items, len(values))
    parts.add_values("precision", 5, values)
    parts.add_values("auc", None, values[::-1].copy())
    parts.add_coverage(5, covered)
    return parts


def test_summary_matches_numpy_and_combines_exactly():
    rng = np.random.default_rng(0)
    values = rng.random(1001)
    top = rng.integers(-1, 40, size=(1001, 5))
    table = summarise(_parts(values, top, 50))
    precision = table.set_index("metric").loc["precision"]
    assert precision["mean"] == pytest.approx(values.mean(), rel=1e-14)
    assert precision["stderr"] == pytest.approx(values.std(ddof=1) / np.sqrt(1001), rel=1e-12)
    coverage = table.set_index("metric").loc["coverage", "mean"]
    assert coverage == np.unique(top[top >= 0]).size / 50
    pieces = [slice(0, 1), slice(1, 400), slice(400, 400), slice(400, 1001)]
    combined = summarise(combine_parts([_parts(values[s], top[s], 50) for s in pieces]))
    assert combined.equals(table)


def test_combine_refuses_mismatched_parts():
    a = _parts(np.ones(3), np.zeros((3, 5), int), 10)
    b = _parts(np.ones(3), np.zeros((3, 5), int), 11)
    with pytest.raises(ValueError, match="different"):
        combine_parts([a, b])
    with pytest.raises(ValueError, match="at least one"):
        combine_parts([])


@pytest.mark.parametrize("n_items, d", [(3706, 64), (200, 32), (17, 33)])
def test_scores_do_not_depend_on_batching(n_items, d):
    rng = np.random.default_rng(n_items)
    users = rng.standard_normal((300, d), dtype=np.float32)
    items = rng.standard_normal((n_items, d), dtype=np.float32)
    biases = rng.standard_normal(n_items).astype(np.float32)
    all_items, all_scores = top_k(users, items, biases, np.arange(300), 10, 1)
    for user in (0, 7, 299):  # one-user requests
        one_items, one_scores = top_k(users, items, biases, np.array([user]), 10, 1)
        np.testing.assert_array_equal(one_items[0], all_items[user])
        np.testing.assert_array_equal(one_scores[0], all_scores[user])
    subset = rng.permutation(300)[:41]   # another order, another split into tasks
    for threads in (1, 2):
        some = top_k(users, items, biases, subset, 10, threads)
        np.testing.assert_array_equal(some[0], all_items[subset])
        np.testing.assert_array_equal(some[1], all_scores[subset])
