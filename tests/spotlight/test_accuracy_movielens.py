"""Spotlight's factorization accuracy expectations on MovieLens 100K, for the front door.

Ports of Spotlight 0.1.6's tests/factorization/test_implicit.py and test_explicit.py:
the same data (MovieLens 100K, ids as in the files), split (random 80/20 with a
RandomState), hyper-parameters, metrics and thresholds (with Spotlight's EPSILON slack),
on three split seeds instead of Spotlight's one. Each case also asserts a floor measured
for hybridrec (lower for MRR / higher for RMSE than every seed measured, with a margin),
where hybridrec does better than Spotlight's threshold requires, so a regression shows.

Measured (seeds 42, 1, 2; Spotlight 0.1.6 with PyTorch 2.13 on the same splits in
brackets), MRR: pointwise 0.086-0.092 [0.063-0.065], bpr (uniform negatives, the
default) 0.084-0.090 [0.084-0.086] (LightFM's popularity negatives,
``bpr_negatives='popularity'``: 0.080-0.086), hinge 0.087-0.089 [0.073-0.075],
adaptive_hinge 0.099-0.102 [0.084]; RMSE: regression 0.959-0.961 [0.981-0.985], poisson
0.930-0.936 [0.947-0.951], logistic 1.037-1.045 [1.021-1.029]. Bloom embeddings (2 hash
functions, one bias per id as in Spotlight; seeds 42 and 1), BPR MRR: ratio 0.5
0.050 [0.038-0.042], 1.0 0.058 [0.053-0.055], 1.5 0.064-0.067, 2.0 0.067-0.073
[0.068-0.070]; regression RMSE: ratio 0.2 0.993-1.001 [1.009-1.020], 0.5 1.019-1.029,
1.0 1.030-1.034 [1.083-1.089], 1.5 1.036-1.041, 2.0 1.046. (Before the per-id biases,
with hashed biases, regression RMSE was 1.09-1.17.)
"""

from __future__ import annotations

import numpy as np
import pytest

from hybridrec.spotlight.cross_validation import random_train_test_split
from hybridrec.spotlight.evaluation import mrr_score, precision_recall_score, rmse_score
from hybridrec.spotlight.factorization.explicit import ExplicitFactorizationModel
from hybridrec.spotlight.factorization.implicit import ImplicitFactorizationModel
from hybridrec.spotlight.factorization.representations import BilinearNet
from hybridrec.spotlight.layers import BloomEmbedding

pytestmark = pytest.mark.accuracy

#: Spotlight's acceptable variation (its tests' EPSILON).
EPSILON = 0.005
SEEDS = [42, 1, 2]


def _split(data, seed):
    return random_train_test_split(data, random_state=np.random.RandomState(seed))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("loss, spotlight_threshold, floor", [
    ("pointwise", 0.05, 0.078),
    ("bpr", 0.07, 0.08),
    ("hinge", 0.07, 0.08),
    ("adaptive_hinge", 0.07, 0.09),
])
def test_implicit(movielens_100k, loss, spotlight_threshold, floor, seed):
    train, test = _split(movielens_100k, seed)
    model = ImplicitFactorizationModel(loss=loss, n_iter=10, batch_size=1024,
                                       learning_rate=1e-2, l2=1e-6,
                                       random_state=np.random.RandomState(seed + 1000))
    model.fit(train)
    mrr = mrr_score(model, test, train=train).mean()
    assert mrr + EPSILON > spotlight_threshold
    assert mrr > floor


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("loss, learning_rate, l2, spotlight_threshold, ceiling", [
    ("regression", 1e-3, 1e-5, 1.0, 0.975),
    ("poisson", 1e-3, 1e-6, 1.0, 0.95),
    ("logistic", 1e-3, 1e-6, 1.05, 1.055),
])
def test_explicit(movielens_100k, loss, learning_rate, l2, spotlight_threshold, ceiling, seed):
    data = movielens_100k
    if loss == "logistic":
        # Spotlight's test: ratings > 3 become +1, the others -1.
        data.ratings = (data.ratings > 3).astype(np.float32) * 2 - 1
    train, test = _split(data, seed)
    model = ExplicitFactorizationModel(loss=loss, n_iter=10, batch_size=1024,
                                       learning_rate=learning_rate, l2=l2,
                                       random_state=np.random.RandomState(seed + 1000))
    model.fit(train)
    rmse = rmse_score(model, test)
    assert rmse - EPSILON < spotlight_threshold
    assert rmse < ceiling


def _bloom_net(data, ratio):
    return BilinearNet(data.num_users, data.num_items,
                       user_embedding_layer=BloomEmbedding(data.num_users, 32,
                                                           compression_ratio=ratio,
                                                           num_hash_functions=2),
                       item_embedding_layer=BloomEmbedding(data.num_items, 32,
                                                           compression_ratio=ratio,
                                                           num_hash_functions=2))


@pytest.mark.parametrize("compression_ratio, expected_mrr, floor", [
    (0.5, 0.03, 0.045),
    (1.0, 0.04, 0.053),
    (1.5, 0.045, 0.058),
    (2.0, 0.045, 0.061),
])
def test_bpr_bloom(movielens_100k, compression_ratio, expected_mrr, floor):
    train, test = _split(movielens_100k, 42)
    model = ImplicitFactorizationModel(loss="bpr", n_iter=10, batch_size=1024,
                                       learning_rate=1e-2, l2=1e-6,
                                       representation=_bloom_net(movielens_100k,
                                                                 compression_ratio),
                                       random_state=np.random.RandomState(1042))
    model.fit(train)
    mrr = mrr_score(model, test, train=train).mean()
    assert mrr + EPSILON > expected_mrr
    assert mrr > floor


@pytest.mark.parametrize("compression_ratio, expected_rmse, ceiling", [
    (0.2, 1.5, 1.02),
    (0.5, 1.5, 1.045),
    (1.0, 1.5, 1.055),
    (1.5, 1.5, 1.06),
    (2.0, 1.5, 1.07),
])
def test_regression_bloom(movielens_100k, compression_ratio, expected_rmse, ceiling):
    train, test = _split(movielens_100k, 42)
    model = ExplicitFactorizationModel(loss="regression", n_iter=10, batch_size=1024,
                                       learning_rate=1e-2, l2=1e-5,
                                       representation=_bloom_net(movielens_100k,
                                                                 compression_ratio),
                                       random_state=np.random.RandomState(1042))
    model.fit(train)
    rmse = rmse_score(model, test)
    assert rmse - EPSILON < expected_rmse
    assert rmse < ceiling


def test_user_ids_beyond_fitted_range(movielens_100k):
    # Spotlight's test_check_input on the real data.
    train, _ = _split(movielens_100k, 42)
    model = ExplicitFactorizationModel(loss="regression", n_iter=1, batch_size=1024,
                                       learning_rate=1e-3, l2=1e-6,
                                       random_state=np.random.RandomState(0))
    model.fit(train)
    train.user_ids[0] = train.user_ids.max() + 1
    train.num_users += 1
    with pytest.raises(ValueError, match="Maximum user id greater"):
        model.fit(train)


@pytest.mark.parametrize("k", [1, [1, 1], [1, 1, 1], [5, 10]])
def test_precision_recall_shapes(movielens_100k, k):
    # Spotlight's test_precision_recall (a BPR model fitted for one epoch).
    train, test = _split(movielens_100k, 42)
    model = ImplicitFactorizationModel(loss="bpr", n_iter=1, batch_size=1024,
                                       learning_rate=1e-2, l2=1e-6,
                                       random_state=np.random.RandomState(42))
    model.fit(train)
    precision, recall = precision_recall_score(model, test, train, k=k)
    assert precision.shape == recall.shape
    n_users = len(np.unique(test.user_ids))
    if not isinstance(k, list):
        assert precision.shape == (n_users,)
    else:
        assert precision.shape == (n_users, len(k))
    # Far better than chance (k / n_items) after one epoch.
    assert precision.mean() > 0.05
