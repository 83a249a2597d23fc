"""The fused scoring + ranking kernel (``hybridrec._scoring.rank_items``) against a plain
NumPy computation with the same float32 arithmetic, including ties, test entries that
are train entries, partial ranks (``exact_below`` / ``best``) and the top-k lists."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from hybridrec._scoring import prepare_test_train, rank_items, top_k


def _scores(user_vectors, item_vectors, item_biases):
    """The kernel's scores: item bias, then the products added in component order."""
    scores = np.repeat(item_biases[None, :], user_vectors.shape[0], axis=0)
    for c in range(item_vectors.shape[1]):
        scores = scores + user_vectors[:, c:c + 1] * item_vectors[None, :, c]
    return scores


def _reference(scores, test, train, k):
    """Pessimistic ranks among non-train items and top-k lists (ties: lower index)."""
    ranks = np.zeros(test.nnz, dtype=np.float32)
    users = np.flatnonzero(np.diff(test.indptr))
    lists = np.full((users.size, k), -1)
    for e, user in enumerate(users):
        seen = train.indices[train.indptr[user]:train.indptr[user + 1]]
        row = scores[user].copy()
        for t in range(test.indptr[user], test.indptr[user + 1]):
            item = test.indices[t]
            keep = np.ones(row.size, dtype=bool)
            keep[seen] = False
            keep[item] = False
            ranks[t] = np.sum(row[keep] >= row[item])
        row[seen] = -np.inf
        order = np.argsort(-row, kind="stable")
        order = order[row[order] > -np.inf][:k]
        lists[e, :order.size] = order
    return ranks, users, lists


def _problem(n_users, n_items, d, density, seed, ties, overlap):
    rng = np.random.default_rng(seed)
    user_vectors = rng.standard_normal((n_users, d)).astype(np.float32)
    item_vectors = rng.standard_normal((n_items, d)).astype(np.float32)
    item_biases = rng.standard_normal(n_items).astype(np.float32)
    if ties:   # few distinct, exactly representable values: many tied scores
        user_vectors = np.round(user_vectors * 2) / 2
        item_vectors = np.round(item_vectors * 2) / 2
        item_biases = np.round(item_biases)
    test = sp.random(n_users, n_items, density=density, random_state=seed, format="csr",
                     dtype=np.float32)
    train = sp.random(n_users, n_items, density=density, random_state=seed + 1,
                      format="csr", dtype=np.float32)
    if not overlap:
        train = train - train.multiply(test.astype(bool))
        train.eliminate_zeros()
    test, train = prepare_test_train(test, train, check_intersections=False)
    return user_vectors, item_vectors, item_biases, test, train


@settings(max_examples=40, deadline=None)
@given(n_users=st.integers(1, 30), n_items=st.integers(1, 60), d=st.integers(0, 19),
       density=st.floats(0.02, 0.5), seed=st.integers(0, 10_000), ties=st.booleans(),
       overlap=st.booleans(), k=st.integers(0, 12), threads=st.integers(1, 2))
def test_rank_items_matches_reference(n_users, n_items, d, density, seed, ties, overlap, k,
                                      threads):
    user_vectors, item_vectors, item_biases, test, train = _problem(
        n_users, n_items, d, density, seed, ties, overlap)
    expected, users, lists = _reference(_scores(user_vectors, item_vectors, item_biases),
                                        test, train, k)
    result = rank_items(user_vectors, item_vectors, item_biases, test, train, threads, k=k)
    np.testing.assert_array_equal(result.users, users)
    np.testing.assert_array_equal(result.ranks, expected)
    np.testing.assert_array_equal(result.top_items, lists)
    firsts = test.indptr[users]
    for exact_below in (0, 1, 3, 10):
        for best in (False, True):
            partial = rank_items(user_vectors, item_vectors, item_biases, test, train,
                                 threads, exact_below=exact_below, best=best).ranks
            below = expected < exact_below
            np.testing.assert_array_equal(partial[below], expected[below])
            assert np.all(partial[~below] >= exact_below)
            assert np.all((partial == expected) | (partial == n_items))
            if best and users.size:
                np.testing.assert_array_equal(np.minimum.reduceat(partial, firsts),
                                              np.minimum.reduceat(expected, firsts))


@pytest.mark.parametrize("n_test", [5, 300])   # counted per test item / by sorting the row
def test_ranks_do_not_depend_on_batching_or_threads(n_test, monkeypatch):
    from hybridrec import _scoring
    monkeypatch.setattr(_scoring, "RANK_SORT_THRESHOLD", 100)
    rng = np.random.default_rng(n_test)
    n_users, n_items, d = 37, 500, 33
    user_vectors = rng.standard_normal((n_users, d), dtype=np.float32)
    item_vectors = rng.standard_normal((n_items, d), dtype=np.float32)
    item_biases = rng.standard_normal(n_items).astype(np.float32)
    test = sp.csr_matrix((n_users, n_items), dtype=np.float32)
    test = sp.lil_matrix(test)
    for user in range(n_users):
        test[user, rng.choice(n_items, n_test, replace=False)] = 1.0
    test, train = prepare_test_train(test.tocsr(), None, True)
    whole = rank_items(user_vectors, item_vectors, item_biases, test, train, 2, k=7)
    expected, _, lists = _reference(_scores(user_vectors, item_vectors, item_biases), test,
                                    train, 7)
    np.testing.assert_array_equal(whole.ranks, expected)
    np.testing.assert_array_equal(whole.top_items, lists)
    one_thread = rank_items(user_vectors, item_vectors, item_biases, test, train, 1, k=7)
    np.testing.assert_array_equal(one_thread.ranks, whole.ranks)
    np.testing.assert_array_equal(one_thread.top_scores, whole.top_scores)
    for user in (0, 5, 36):   # one user alone scores and ranks as within all of them
        alone = sp.csr_matrix(test.shape, dtype=np.float32)
        alone = sp.lil_matrix(alone)
        alone[user] = test[user]
        alone, _ = prepare_test_train(alone.tocsr(), None, True)
        single = rank_items(user_vectors, item_vectors, item_biases, alone, train, 1, k=7)
        span = slice(test.indptr[user], test.indptr[user + 1])
        np.testing.assert_array_equal(single.ranks, whole.ranks[span])
        np.testing.assert_array_equal(single.top_scores[0], whole.top_scores[user])


@settings(max_examples=40, deadline=None)
@given(n_users=st.integers(1, 80), n_items=st.integers(1, 1500), d=st.integers(0, 19),
       density=st.floats(0.02, 0.5), seed=st.integers(0, 10_000), ties=st.booleans(),
       k=st.integers(1, 12), threads=st.integers(1, 2), n_allowed=st.integers(0, 30))
def test_top_k_matches_reference_and_metrics_path(n_users, n_items, d, density, seed, ties,
                                                  k, threads, n_allowed):
    """``top_k`` (recommendations; several item tiles above 512 items): the reference
    lists and scores, including exclusions and allowed items, and the metrics path's
    lists and scores for the same users (the same arithmetic)."""
    user_vectors, item_vectors, item_biases, test, train = _problem(
        n_users, n_items, d, density, seed, ties, False)
    scores = _scores(user_vectors, item_vectors, item_biases)
    rng = np.random.default_rng(seed)
    allowed = np.zeros(n_items, dtype=bool)
    allowed[rng.choice(n_items, min(n_allowed, n_items), replace=False)] = True
    allowed = None if n_allowed == 0 else allowed
    order = rng.permutation(n_users)
    items, top_scores = top_k(user_vectors, item_vectors, item_biases, order, k, threads,
                              exclude=train, allowed_items=allowed)
    for row, user in enumerate(order):
        masked = scores[user].copy()
        masked[train.indices[train.indptr[user]:train.indptr[user + 1]]] = -np.inf
        if allowed is not None:
            masked[~allowed] = -np.inf
        best = np.argsort(-masked, kind="stable")
        best = best[masked[best] > -np.inf][:k]
        expected = np.full(k, -1)
        expected[:best.size] = best
        np.testing.assert_array_equal(items[row], expected)
        np.testing.assert_array_equal(top_scores[row, :best.size], masked[best])
        assert np.all(top_scores[row, best.size:] == -np.inf)
    result = rank_items(user_vectors, item_vectors, item_biases, test, train, threads, k=k)
    listed, listed_scores = top_k(user_vectors, item_vectors, item_biases, result.users, k,
                                  3 - threads, exclude=train)
    np.testing.assert_array_equal(listed, result.top_items)
    np.testing.assert_array_equal(listed_scores, result.top_scores)
