"""Finite-difference checks of the float64 reference (tests/sequence/reference.py), which
the kernels are tested against: every representation and layer option, every loss, tied
and untied output embeddings, Bloom hashing, padding and interior zeros."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sequence import reference as ref

N_ITEMS, D = 9, 4
ROWS = [np.array([0, 0, 3, 5, 0, 2, 7]), np.array([1, 4, 4, 8, 2, 6, 3])]
HASHES = np.array([[0, 0], [1, 2], [3, 1], [2, 2], [1, 0], [3, 3], [2, 1], [1, 3], [3, 2]])


def _check(kind: str, mode: int, seed: int = 3, **config) -> None:
    rng = np.random.default_rng(seed)
    net = ref.init_network(kind, N_ITEMS, D, rng, **config)
    negatives = ref.draw_negatives(ROWS, mode, 3, N_ITEMS, 1, [11, 22])
    loss, grads = ref.batch_gradients(net, ROWS, negatives, mode)
    assert loss == pytest.approx(ref.batch_loss(net, ROWS, negatives, mode), abs=1e-12)
    step = 1e-6
    for name, value in net.params.items():
        flat = value.reshape(-1)
        analytic = grads[name].reshape(-1)
        numeric = np.zeros_like(flat)
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + step
            up = ref.batch_loss(net, ROWS, negatives, mode)
            flat[k] = old - step
            down = ref.batch_loss(net, ROWS, negatives, mode)
            flat[k] = old
            numeric[k] = (up - down) / (2 * step)
        if name in ("E", "Eo"):          # the padding row is frozen: no gradient
            numeric[:D] = 0.0
        if name == "b":
            numeric[0] = 0.0
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("mode", [ref.POINTWISE, ref.BPR, ref.HINGE, ref.ADAPTIVE_HINGE,
                                  ref.ADAPTIVE_BPR])
def test_losses_through_pooling(mode):
    _check("pooling", mode)


@pytest.mark.parametrize("config", [{}, {"window": 2, "shrink": 0.0}, {"tied": False},
                                    {"n_rows": 4, "hashes": HASHES}])
def test_pooling(config):
    _check("pooling", ref.BPR, **config)


@pytest.mark.parametrize("config", [
    {"kernel_width": (3,), "dilation": (1,)},
    {"kernel_width": (2, 3), "dilation": (1, 2)},
    {"kernel_width": (3, 2), "dilation": (2, 1), "residual": False},
    {"kernel_width": (3, 2), "dilation": (2, 3), "relu": True},
])
def test_cnn_layers(config):
    _check("cnn", ref.BPR, **config)


@pytest.mark.parametrize("mode", [ref.BPR, ref.ADAPTIVE_HINGE])
def test_lstm_cell(mode):
    _check("lstm", mode)


def test_lstm_with_bloom_embeddings():
    _check("lstm", ref.POINTWISE, n_rows=4, hashes=HASHES)


@pytest.mark.parametrize("mode, mixtures", [(ref.BPR, 3), (ref.POINTWISE, 2),
                                            (ref.ADAPTIVE_BPR, 1)])
def test_mixture_head(mode, mixtures):
    _check("mixture", mode, num_mixtures=mixtures)
