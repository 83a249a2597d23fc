"""NDCG, MAP, hit rate, coverage, popularity, evaluate(), rating errors and baselines,
each against a direct NumPy implementation from the model's predict()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from hybridrec import LightFM, PopularityModel, RandomModel
from hybridrec.metrics import (
    auc_score,
    coverage_at_k,
    evaluate,
    hit_rate_at_k,
    mae,
    map_at_k,
    ndcg_at_k,
    popularity_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    rmse,
)


def _split(n_users, n_items, density, seed):
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < density
    test_mask = dense & (rng.random((n_users, n_items)) < 0.3)
    train = sp.csr_matrix((dense & ~test_mask).astype(np.float32))
    test = sp.csr_matrix(test_mask.astype(np.float32))
    return train, test


def _reference(scores, train, test, k):
    """Per-user metrics from a dense score matrix with LightFM's pessimistic ranks."""
    out = {name: [] for name in ("precision", "recall", "ndcg", "map", "hit_rate", "auc",
                                 "rr", "users")}
    n_items = scores.shape[1]
    for user in range(scores.shape[0]):
        truth = test.indices[test.indptr[user]:test.indptr[user + 1]]
        if truth.size == 0:
            continue
        seen = set(train.indices[train.indptr[user]:train.indptr[user + 1]])
        candidates = np.array([j for j in range(n_items) if j not in seen])
        ranks = np.sort([np.sum(scores[user, candidates] >= scores[user, i]) - 1
                         for i in truth]).astype(float)
        hits = ranks[ranks < k]
        out["users"].append(user)
        out["precision"].append(len(hits) / k)
        out["recall"].append(len(hits) / truth.size)
        ideal = sum(1 / np.log2(j + 2) for j in range(min(k, truth.size)))
        out["ndcg"].append(sum(1 / np.log2(r + 2) for r in hits) / ideal)
        out["map"].append(sum((i + 1) / (r + 1) for i, r in enumerate(hits))
                          / min(k, truth.size))
        out["hit_rate"].append(float(len(hits) > 0))
        negatives = n_items - truth.size - len(seen)
        # each positive's rank minus the other positives ranked at or above it
        others = np.array([np.sum(ranks <= r) - 1 for r in ranks])
        adjusted = np.maximum(ranks - others, 0)
        out["auc"].append(np.mean(1 - adjusted / negatives) if negatives > 0 else 0.5)
        out["rr"].append(1 / (ranks[0] + 1))
    return out


@settings(max_examples=25, deadline=None)
@given(n_users=st.integers(1, 12), n_items=st.integers(2, 40),
       density=st.floats(0.05, 0.6), seed=st.integers(0, 10_000),
       k=st.integers(1, 50), quantise=st.booleans())
def test_metrics_match_reference(n_users, n_items, density, seed, k, quantise):
    train, test = _split(n_users, n_items, density, seed)
    model = LightFM(no_components=3, random_state=seed).fit(train, epochs=0)
    if quantise:  # many exact ties
        model.item_embeddings[:] = np.round(model.item_embeddings * 20) / 20
        model.user_embeddings[:] = np.round(model.user_embeddings * 20) / 20
        model.item_embeddings[:, 1:] = 0.0
        model.user_embeddings[:, 1:] = 0.0
    users, items = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
    scores = model.predict(users.ravel(), items.ravel()).reshape(n_users, n_items)
    scores = scores - model.user_biases[:, None]  # rankings ignore the user bias
    expected = _reference(scores, train, test, k)
    got = {
        "precision": precision_at_k(model, test, train, k=k),
        "recall": recall_at_k(model, test, train, k=k),
        "ndcg": ndcg_at_k(model, test, train, k=k),
        "map": map_at_k(model, test, train, k=k),
        "hit_rate": hit_rate_at_k(model, test, train, k=k),
        "auc": auc_score(model, test, train),
        "rr": reciprocal_rank(model, test, train),
    }
    for name, values in got.items():
        assert values.shape == (len(expected["users"]),)
        np.testing.assert_allclose(values, expected[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_preserve_rows_fill_values():
    train, test = _split(10, 30, 0.3, 1)
    test = sp.csr_matrix(test)
    test[3] = 0
    test.eliminate_zeros()
    model = LightFM(random_state=0).fit(train, epochs=1)
    for metric, fill in ((precision_at_k, 0.0), (recall_at_k, 0.0), (ndcg_at_k, 0.0),
                         (map_at_k, 0.0), (hit_rate_at_k, 0.0), (auc_score, 0.5),
                         (reciprocal_rank, 0.0)):
        full = metric(model, test, train, preserve_rows=True)
        compact = metric(model, test, train)
        assert full.shape == (10,) and full[3] == fill
        np.testing.assert_array_equal(np.delete(full, 3), compact)


def test_k_validation_and_k_beyond_catalogue():
    train, test = _split(5, 8, 0.4, 2)
    model = LightFM(random_state=0).fit(train, epochs=1)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            precision_at_k(model, test, train, k=bad)
    recall = recall_at_k(model, test, train, k=100)
    np.testing.assert_array_equal(recall, 1.0)
    assert np.all(hit_rate_at_k(model, test, train, k=100) == 1.0)


def test_coverage_and_popularity_against_reference():
    train, test = _split(20, 50, 0.2, 3)
    model = LightFM(loss="warp", random_state=0).fit(train, epochs=3)
    k = 5
    popularity = np.bincount(train.indices, minlength=50) / 20
    items_shown, pops = set(), []
    for user in np.flatnonzero(np.diff(test.indptr)):
        scores = model.predict(int(user), np.arange(50))
        scores[train.indices[train.indptr[user]:train.indptr[user + 1]]] = -np.inf
        top = np.argsort(-scores, kind="stable")[:k]
        items_shown.update(top.tolist())
        pops.append(popularity[top].mean())
    assert coverage_at_k(model, test, train, k=k) == pytest.approx(len(items_shown) / 50)
    np.testing.assert_allclose(popularity_at_k(model, test, train, k=k), pops, rtol=1e-6)


def test_evaluate_is_one_tidy_frame_matching_the_functions():
    train, test = _split(30, 60, 0.2, 4)
    model = LightFM(loss="bpr", random_state=0).fit(train, epochs=2)
    frame = evaluate(model, test, train, k=(5, 10), num_threads=2)
    assert list(frame.columns) == ["metric", "k", "mean", "stderr", "n_users"]
    assert set(frame["metric"]) == {"precision", "recall", "ndcg", "map", "hit_rate", "auc",
                                    "reciprocal_rank", "coverage", "popularity"}
    def value(metric, k=pd.NA):
        rows = frame[(frame.metric == metric)
                     & (frame.k.isna() if k is pd.NA else frame.k == k)]
        assert len(rows) == 1
        return rows.iloc[0]
    for k in (5, 10):
        p = precision_at_k(model, test, train, k=k)
        row = value("precision", k)
        assert row["mean"] == pytest.approx(p.mean(), rel=1e-6)
        assert row["stderr"] == pytest.approx(p.std(ddof=1) / np.sqrt(p.size), rel=1e-5)
        assert value("ndcg", k)["mean"] == pytest.approx(ndcg_at_k(model, test, train, k=k)
                                                         .mean(), rel=1e-6)
        assert value("coverage", k)["mean"] == pytest.approx(
            coverage_at_k(model, test, train, k=k))
    assert value("auc")["mean"] == pytest.approx(auc_score(model, test, train).mean(),
                                                 rel=1e-6)
    with pytest.raises(ValueError, match="unknown metrics"):
        evaluate(model, test, train, metrics=("precision", "f1"))


def test_rating_errors():
    ratings = sp.coo_matrix((np.array([1.0, 3.0, 5.0], dtype=np.float32),
                             ([0, 1, 2], [0, 1, 2])), shape=(3, 3))
    model = LightFM(random_state=0).fit(ratings, epochs=1)
    errors = model.predict(ratings.row, ratings.col) - ratings.data
    assert rmse(model, ratings) == pytest.approx(np.sqrt(np.mean(errors**2)), rel=1e-6)
    assert mae(model, ratings) == pytest.approx(np.mean(np.abs(errors)), rel=1e-6)
    with pytest.raises(ValueError, match="no stored entries"):
        rmse(model, sp.coo_matrix((3, 3)))


def test_baselines_predict_and_rank():
    train, test = _split(15, 40, 0.3, 5)
    popular = PopularityModel().fit(train)
    counts = np.bincount(train.indices, minlength=40)
    np.testing.assert_array_equal(popular.predict(0, np.arange(40)), counts)
    ranks = popular.predict_rank(test, train)
    assert ranks.shape == test.shape and ranks.nnz == test.nnz
    random_model = RandomModel(random_state=0).fit(train)
    again = RandomModel(random_state=0).fit(train)
    np.testing.assert_array_equal(random_model.predict(1, np.arange(40)),
                                  again.predict(1, np.arange(40)))
    with pytest.raises(ValueError, match="does not use user or item features"):
        popular.predict(0, [1], item_features=sp.identity(40))
    with pytest.raises(ValueError, match="You must fit the model"):
        PopularityModel().predict(0, [1])


def test_baselines_on_movielens(ml100k):
    train, test = ml100k["train"], ml100k["test"]
    popular = PopularityModel().fit(train)
    random_model = RandomModel(random_state=0).fit(train)
    p_pop = precision_at_k(popular, test, train, k=10).mean()
    p_rand = precision_at_k(random_model, test, train, k=10).mean()
    auc_pop = auc_score(popular, test, train).mean()
    auc_rand = auc_score(random_model, test, train).mean()
    # Measured: popularity P@10 0.303, AUC 0.856; random (seeds 0-2) P@10 0.028-0.035,
    # AUC 0.497-0.505.
    assert p_pop > 0.29 and auc_pop > 0.85
    assert p_rand < 0.05 and 0.48 < auc_rand < 0.52
    model = LightFM(loss="warp", no_components=30, random_state=0).fit(train, epochs=10)
    assert precision_at_k(model, test, train, k=10).mean() > p_pop
