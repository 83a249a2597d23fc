"""hybridrec.spotlight.losses / sampling / torch_utils: Spotlight's NumPy-expressible parts."""

from __future__ import annotations

import numpy as np
import pytest

from hybridrec.spotlight import losses, sampling, torch_utils


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def test_losses_hand_computed():
    positive, negative = np.array([2.0, -1.0]), np.array([0.5, 0.0])
    assert losses.pointwise_loss(positive, negative) == pytest.approx(
        np.mean(1 - _sigmoid(positive) + _sigmoid(negative)))
    assert losses.bpr_loss(positive, negative) == pytest.approx(
        np.mean(1 - _sigmoid(positive - negative)))
    assert losses.hinge_loss(positive, negative) == pytest.approx((0.0 + 2.0) / 2)
    # The mask weights entries: only the second counts.
    assert losses.hinge_loss(positive, negative, mask=np.array([0, 1])) == pytest.approx(2.0)
    several = np.array([[0.5, -3.0], [1.5, 0.2], [-1.0, 0.1]])  # (n_negatives, n)
    assert losses.adaptive_hinge_loss(positive, several) == pytest.approx(
        (max(0, 1.5 - 2 + 1) + max(0, 0.2 + 1 + 1)) / 2)
    assert losses.regression_loss([1.0, 3.0], [2.0, 3.0]) == pytest.approx(0.5)
    assert losses.poisson_loss([2.0], [np.e]) == pytest.approx(np.e - 2.0)
    # Labels -1/+1 clamp to 0/1: log(1 + exp(-x)) for +1, log(1 + exp(x)) for -1.
    assert losses.logistic_loss([1.0, -1.0], [0.3, 0.3]) == pytest.approx(
        (np.log1p(np.exp(-0.3)) + np.log1p(np.exp(0.3))) / 2)


def test_logistic_loss_is_stable():
    assert np.isfinite(losses.logistic_loss([1.0, -1.0], [800.0, 800.0]))
    assert losses.logistic_loss([1.0], [800.0]) == pytest.approx(0.0)


def test_sample_items_is_spotlights_draw():
    drawn = sampling.sample_items(50, (3, 4), random_state=np.random.RandomState(0))
    np.testing.assert_array_equal(
        drawn, np.random.RandomState(0).randint(0, 50, (3, 4), dtype=np.int64))
    assert drawn.dtype == np.int64
    assert sampling.sample_items(5, 10, random_state=np.random.default_rng(0)).max() < 5
    with pytest.raises(ValueError, match="num_items must be a positive integer"):
        sampling.sample_items(0, 3)


def test_minibatch_and_shuffle():
    a, b = np.arange(10), np.arange(10) * 2
    assert [len(x) for x in torch_utils.minibatch(a, batch_size=4)] == [4, 4, 2]
    pairs = list(torch_utils.minibatch(a, b, batch_size=6))
    np.testing.assert_array_equal(pairs[1][1], [12, 14, 16, 18])
    x, y = torch_utils.shuffle(a, b, random_state=np.random.RandomState(1))
    index = np.arange(10)
    np.random.RandomState(1).shuffle(index)
    np.testing.assert_array_equal(x, a[index])
    np.testing.assert_array_equal(y, 2 * x)
    with pytest.raises(ValueError, match="same length"):
        torch_utils.shuffle(a, b[:3])


def test_set_seed_explains_itself():
    with pytest.warns(UserWarning, match="set_seed has no effect in hybridrec"):
        torch_utils.set_seed(42)
    with pytest.raises(ValueError, match="no GPU path"):
        torch_utils.set_seed(42, cuda=True)
