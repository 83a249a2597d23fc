"""hybridrec.spotlight.cross_validation: Spotlight's splits, same draws for the same seed."""

from __future__ import annotations

import numpy as np
import pytest

from hybridrec.spotlight import cross_validation
from hybridrec.spotlight._hashing import murmurhash3_32
from hybridrec.spotlight.interactions import Interactions


def _toy(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    return Interactions(rng.integers(0, 50, n), rng.integers(0, 80, n),
                        ratings=rng.integers(1, 6, n).astype(np.float32),
                        timestamps=np.arange(n), weights=rng.random(n), num_users=60)


def test_murmurhash_matches_scikit_learn():
    sklearn_utils = pytest.importorskip("sklearn.utils")
    keys = np.random.default_rng(1).integers(-2**31, 2**31, 5000).astype(np.int32)
    keys[:4] = [0, 1, -1, 2**31 - 1]
    for seed in (0, 1, 179424941, 2**32 - 1):
        for positive in (True, False):
            expected = sklearn_utils.murmurhash3_32(keys, seed=seed, positive=positive)
            got = murmurhash3_32(keys, seed=seed, positive=positive)
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got, expected)


def test_murmurhash_known_values():
    # Values of sklearn.utils.murmurhash3_32 1.9 on int32 keys (so no scikit-learn needed).
    np.testing.assert_array_equal(murmurhash3_32(np.array([0, 1, 42]), seed=0, positive=True),
                                  [593689054, 4226891818, 3160117731])
    np.testing.assert_array_equal(murmurhash3_32(np.array([7, 123456]), seed=179424941),
                                  [1370651220, -1761898033])


def test_random_split_is_spotlights_shuffle():
    data = _toy()
    train, test = cross_validation.random_train_test_split(
        data, test_percentage=0.25, random_state=np.random.RandomState(3))
    # Spotlight: RandomState.shuffle of arange(n); first int(0.75 n) to train.
    index = np.arange(len(data))
    np.random.RandomState(3).shuffle(index)
    np.testing.assert_array_equal(train.user_ids, data.user_ids[index[:750]])
    np.testing.assert_array_equal(test.item_ids, data.item_ids[index[750:]])
    np.testing.assert_array_equal(test.ratings, data.ratings[index[750:]])
    np.testing.assert_array_equal(test.timestamps, data.timestamps[index[750:]])
    np.testing.assert_array_equal(train.weights, data.weights[index[:750]])
    assert (train.num_users, train.num_items) == (test.num_users, test.num_items) == (60, 80)


def test_user_based_split_is_spotlights_hash_rule():
    data = _toy()
    train, test = cross_validation.user_based_train_test_split(
        data, test_percentage=0.3, random_state=np.random.RandomState(5))
    seed = np.random.RandomState(5).randint(0, np.iinfo(np.uint32).max, dtype=np.int64)
    in_test = murmurhash3_32(data.user_ids, seed=int(seed), positive=True) % 100 / 100.0 < 0.3
    np.testing.assert_array_equal(test.user_ids, data.user_ids[in_test])
    np.testing.assert_array_equal(train.item_ids, data.item_ids[~in_test])
    assert not set(train.user_ids) & set(test.user_ids)
    assert len(train) + len(test) == len(data)


def test_user_based_split_movielens(movielens_100k):
    # Spotlight's test_user_based_split; the counts are what Spotlight 0.1.6 gives on the
    # same file with RandomState(42).
    train, test = cross_validation.user_based_train_test_split(
        movielens_100k, test_percentage=0.2, random_state=np.random.RandomState(42))
    assert len(train) + len(test) == len(movielens_100k)
    users_in_test = len(np.unique(test.user_ids))
    assert np.allclose(users_in_test / movielens_100k.num_users, 0.2, atol=0.001)
    assert (len(train), len(test), users_in_test) == (76660, 23340, 188)


def test_seeds_and_generators():
    data = _toy()
    a = cross_validation.random_train_test_split(data, random_state=7)[1]
    b = cross_validation.random_train_test_split(data, random_state=np.random.RandomState(7))[1]
    np.testing.assert_array_equal(a.user_ids, b.user_ids)
    g = cross_validation.user_based_train_test_split(data, random_state=np.random.default_rng(1))
    assert len(g[0]) + len(g[1]) == len(data)
    # A shared RandomState advances: two splits in a row differ.
    state = np.random.RandomState(0)
    first = cross_validation.random_train_test_split(data, random_state=state)[1]
    second = cross_validation.random_train_test_split(data, random_state=state)[1]
    assert not np.array_equal(first.user_ids, second.user_ids)


def test_shuffle_keeps_every_interaction():
    data = _toy(200)
    shuffled = cross_validation.shuffle_interactions(data, random_state=np.random.RandomState(0))
    def key(d):
        return sorted(zip(d.user_ids.tolist(), d.item_ids.tolist(), d.timestamps.tolist(),
                          strict=True))

    assert key(shuffled) == key(data)
    assert not np.array_equal(shuffled.timestamps, data.timestamps)


def test_extreme_percentages():
    data = _toy(100)
    train, test = cross_validation.random_train_test_split(data, test_percentage=0.0,
                                                           random_state=0)
    assert (len(train), len(test)) == (100, 0)
    train, test = cross_validation.user_based_train_test_split(data, test_percentage=1.0,
                                                               random_state=0)
    assert (len(train), len(test)) == (0, 100)


@pytest.mark.parametrize("function", [cross_validation.random_train_test_split,
                                      cross_validation.user_based_train_test_split])
def test_errors(function):
    data = _toy(10)
    with pytest.raises(ValueError, match="test_percentage must be a number in"):
        function(data, test_percentage=1.5)
    with pytest.raises(ValueError, match="random_state must be None"):
        function(data, random_state="seed")
    with pytest.raises(ValueError, match="interactions must be a hybridrec.spotlight"):
        function(data.tocoo())
