"""lightfm.evaluation-compatible metrics against plain-Python definitions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hybridrec import LightFM
from hybridrec.metrics import auc_score, precision_at_k, recall_at_k, reciprocal_rank


@pytest.fixture(scope="module")
def fitted():
    interactions = sp.random(10, 100, density=0.1, random_state=0, format="coo",
                             dtype=np.float32, data_rvs=lambda n: np.ones(n))
    order = np.random.default_rng(0).permutation(interactions.nnz)
    cut = int(0.8 * interactions.nnz)
    def part(idx):
        return sp.coo_matrix((interactions.data[idx], (interactions.row[idx],
                                                       interactions.col[idx])),
                             shape=interactions.shape).tocsr()
    train, test = part(order[:cut]), part(order[cut:])
    model = LightFM(loss="bpr", random_state=0).fit(train, epochs=5)
    return model, train, test


def _reference(model, train, test, k, exclude_train):
    n_users, n_items = test.shape
    precision, recall, rr = [], [], []
    for user in range(n_users):
        truth = set(test.indices[test.indptr[user]:test.indptr[user + 1]])
        if not truth:
            continue
        scores = model.predict(user, np.arange(n_items)).astype(np.float64)
        if exclude_train:
            scores[train.indices[train.indptr[user]:train.indptr[user + 1]]] = -np.inf
        # pessimistic ties as in predict_rank
        ranks = {i: int(np.sum(scores >= scores[i])) - 1 for i in truth}
        hits = sum(r < k for r in ranks.values())
        precision.append(hits / k)
        recall.append(hits / len(truth))
        rr.append(1.0 / (min(ranks.values()) + 1))
    return np.array(precision), np.array(recall), np.array(rr)


@pytest.mark.parametrize("k", [1, 5, 10])
@pytest.mark.parametrize("exclude_train", [False, True])
def test_precision_recall_rr_match_reference(fitted, k, exclude_train):
    model, train, test = fitted
    train_arg = train if exclude_train else None
    p_ref, r_ref, rr_ref = _reference(model, train, test, k, exclude_train)
    p = precision_at_k(model, test, train_arg, k=k)
    r = recall_at_k(model, test, train_arg, k=k)
    rr = reciprocal_rank(model, test, train_arg)
    assert p.shape == (len(p_ref),) and p.dtype == np.float32
    np.testing.assert_allclose(p, p_ref, atol=1e-6)
    np.testing.assert_allclose(r, r_ref, atol=1e-6)
    np.testing.assert_allclose(rr, rr_ref, atol=1e-6)


@pytest.mark.parametrize("exclude_train", [False, True])
def test_auc_matches_sklearn(fitted, exclude_train):
    metrics = pytest.importorskip("sklearn.metrics")
    model, train, test = fitted
    expected = []
    for user in np.flatnonzero(np.diff(test.indptr)):
        scores = model.predict(int(user), np.arange(test.shape[1]))
        labels = np.zeros(test.shape[1])
        labels[test.indices[test.indptr[user]:test.indptr[user + 1]]] = 1
        keep = np.ones(test.shape[1], dtype=bool)
        if exclude_train:
            keep[train.indices[train.indptr[user]:train.indptr[user + 1]]] = False
        expected.append(metrics.roc_auc_score(labels[keep], scores[keep]))
    got = auc_score(model, test, train if exclude_train else None, num_threads=2)
    assert abs(got.mean() - np.mean(expected)) < 0.01


def test_preserve_rows_and_intersections(fitted):
    model, train, test = fitted
    for metric in (precision_at_k, recall_at_k, auc_score, reciprocal_rank):
        full = metric(model, test, train, preserve_rows=True)
        assert full.shape == (test.shape[0],)
        assert np.isfinite(full).all()  # recall stays 0, not nan, for empty rows
        with pytest.raises(ValueError, match="share"):
            metric(model, train, train)
        metric(model, train, train, check_intersections=False)
        with pytest.raises(ValueError, match="Number of threads must be 1 or larger"):
            metric(model, test, train, num_threads=0)


def test_all_zero_model_has_zero_precision(fitted):
    _, train, test = fitted
    model = LightFM().fit(train, epochs=0)
    for name in ("item_embeddings", "user_embeddings", "item_biases", "user_biases"):
        getattr(model, name)[:] = 0.0
    assert precision_at_k(model, test, train, k=10).max() == 0.0
