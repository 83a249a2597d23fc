"""Sequence kernels against the float64 NumPy reference (tests/sequence/reference.py):
one minibatch gradient per representation (with leading padding, interior zeros, the
prefix tables and their backward pass); the optimiser steps against NumPy Adam /
adagrad."""

from __future__ import annotations

import numpy as np
import pytest

from hybridrec.kernels import adam, sequence_cnn, sequence_lstm, sequence_recurrent
from hybridrec.kernels import sequence as pooling
from tests.sequence import reference as ref

N_ITEMS, D = 13, 8

ROWS = [
    [0, 0, 0, 3, 5, 0, 2, 7, 1, 9],
    [4, 4, 8, 2, 6, 3, 12, 11, 5, 1],
    [0, 0, 0, 0, 0, 0, 0, 0, 6, 2],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],
    [0, 7, 1, 1, 3, 0, 0, 9, 12, 2],
]


def _packed(rows):
    pads, chunks = [], []
    for row in rows:
        row = np.asarray(row)
        nonzero = np.flatnonzero(row)
        p = int(nonzero[0]) if nonzero.size else row.shape[0]
        pads.append(p)
        chunks.append(row[p:])
    indptr = np.concatenate([[0], np.cumsum([len(c) for c in chunks])]).astype(np.int64)
    return indptr, np.concatenate(chunks).astype(np.int32), np.array(pads, dtype=np.int32)


def _f32(x):
    return np.ascontiguousarray(x, dtype=np.float32)


def _run(net, rows, mode, n_negatives=3, seed=12345):
    """Kernel gradient of the minibatch ``rows`` (in order, one random stream), as a dict
    named like the reference's; also the loss, touched flags and the negatives drawn."""
    rows = [np.asarray(r) for r in rows]
    indptr, items, pads = _packed(rows)
    batch = np.arange(len(rows), dtype=np.int32)
    count = sum(int(np.count_nonzero(r)) for r in rows)
    scale = 1.0 / count
    p = net.params
    E = _f32(net.item_vectors())
    Eo = E if net.tied else _f32(p["Eo"])
    b = _f32(p["b"])
    gE = np.zeros((N_ITEMS, D), np.float32)
    gEo = gE if net.tied else np.zeros_like(gE)
    gb = np.zeros(N_ITEMS, np.float32)
    touched = np.zeros(N_ITEMS, np.uint8)
    max_pads = int(pads.max())
    state = np.uint64(seed)
    out = {}
    if net.kind == "pooling":
        _, loss = pooling.pooling_batch(batch, indptr, items, E, Eo, b, net.window,
                                        net.shrink, mode, n_negatives, scale, state, gE, gEo,
                                        gb, touched)
    elif net.kind == "cnn":
        widths = np.array(net.kernel_width, np.int32)
        dilations = np.array(net.dilation, np.int32)
        n_layers, kmax = len(widths), int(widths.max())
        W = np.zeros((n_layers, kmax, D, D), np.float32)
        for layer in range(n_layers):
            W[layer, :widths[layer]] = p[f"W{layer}"]
        W_t = _f32(W.transpose(0, 1, 3, 2))
        c = _f32(np.stack([p[f"c{layer}"] for layer in range(n_layers)]))
        reach = int(((widths - 1) * dilations).sum()) + 1
        table = np.zeros((n_layers, max_pads + 1, D), np.float32)
        table_y = np.zeros_like(table)
        sequence_cnn.cnn_prefix(max_pads, W_t, c, widths, dilations, net.relu, net.residual,
                                table, table_y)
        gW = np.zeros(W.shape, np.float32)
        gc = np.zeros((n_layers, D), np.float32)
        gT = np.zeros((n_layers, max_pads + 1, D), np.float32)
        _, loss = sequence_cnn.cnn_batch(batch, indptr, items, pads, E, Eo, b, W_t, W, c,
                                         widths, dilations, net.relu, net.residual, reach,
                                         table, mode, n_negatives, scale, state, gE, gEo, gb,
                                         gW, gc, gT, touched)
        sequence_cnn.cnn_prefix_backward(max_pads, W, widths, dilations, net.relu,
                                         net.residual, table, table_y, gT, gW, gc)
        assert not gT.any()
        for layer in range(n_layers):
            out[f"W{layer}"] = gW[layer, :widths[layer]]
            out[f"c{layer}"] = gc[layer]
    else:
        W_ih, W_hh = _f32(p["W_ih"]), _f32(p["W_hh"])
        W_ih_t, W_hh_t = _f32(W_ih.T), _f32(W_hh.T)
        bias = _f32(p["b_ih"] + p["b_hh"])
        tables = [np.zeros((max_pads + 1, D), np.float32) for _ in range(3)]
        table_gates = np.zeros((max_pads + 1, 4 * D), np.float32)
        sequence_lstm.lstm_prefix(max_pads, W_ih_t, W_hh_t, bias, *tables, table_gates)
        gW_ih_t = np.zeros((D, 4 * D), np.float32)
        gW_hh_t = np.zeros_like(gW_ih_t)
        gbias = np.zeros(4 * D, np.float32)
        gT_h = np.zeros((max_pads + 1, D), np.float32)
        gT_c = np.zeros_like(gT_h)
        if net.kind == "lstm":
            m, P = 0, np.zeros((0, D), np.float32)
            bP = np.zeros(0, np.float32)
        else:
            m, P, bP = net.num_mixtures, _f32(p["P"]), _f32(p["bP"])
        gP_t = np.zeros(P.T.shape, np.float32)
        gbP = np.zeros(P.shape[0], np.float32)
        _, loss = sequence_recurrent.recurrent_batch(
            batch, indptr, items, pads, E, Eo, b, W_ih_t, W_hh_t, W_ih, W_hh, bias, _f32(P.T),
            P, bP, m, *tables, table_gates, mode, n_negatives, scale, state, gE, gEo, gb,
            gW_ih_t, gW_hh_t, gbias, gP_t, gbP, gT_h, gT_c, touched)
        if m:
            out["P"] = gP_t.T
            out["bP"] = gbP
        sequence_lstm.lstm_prefix_backward(max_pads, W_hh, *tables, table_gates, gT_h,
                                           gT_c, gW_hh_t, gbias)
        assert not gT_h.any() and not gT_c.any()
        out["W_ih"] = gW_ih_t.T
        out["W_hh"] = gW_hh_t.T
        out["b_ih"] = out["b_hh"] = gbias
    out["E_eff"] = gE
    if not net.tied:
        out["Eo"] = gEo
    out["b"] = gb
    negatives = ref.draw_negatives(rows, mode, n_negatives, N_ITEMS, len(rows), [seed])
    return out, loss * scale, touched, negatives


CASES = [
    ("pooling", {}),
    ("pooling", {"window": 3, "shrink": 0.0}),
    ("pooling", {"tied": False, "window": 2, "shrink": 0.0}),
    ("cnn", {"kernel_width": (3,), "dilation": (1,)}),
    ("cnn", {"kernel_width": (2, 3), "dilation": (1, 2)}),
    ("cnn", {"kernel_width": (3, 2, 2), "dilation": (2, 1, 3), "residual": False}),
    ("cnn", {"kernel_width": (3, 2), "dilation": (1, 2), "relu": True}),
    ("lstm", {}),
    ("mixture", {"num_mixtures": 3}),
]


@pytest.mark.parametrize("kind, config", CASES)
@pytest.mark.parametrize("mode", [ref.BPR, ref.ADAPTIVE_HINGE])
def test_minibatch_gradient_matches_reference(kind, config, mode):
    rng = np.random.default_rng(5)
    net = ref.init_network(kind, N_ITEMS, D, rng, **config)
    got, loss, touched, negatives = _run(net, ROWS, mode)
    expected_loss, expected = ref.batch_gradients(net, [np.asarray(r) for r in ROWS],
                                                  negatives, mode)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    expected["E_eff"] = expected.pop("E")    # no Bloom here: the table is the items
    for name, value in expected.items():
        if name in ("b_ih", "b_hh") and kind not in ("lstm", "mixture"):
            continue
        np.testing.assert_allclose(got[name], value, rtol=2e-4, atol=2e-6, err_msg=name)
    assert touched[0] == 0 and touched.any()


@pytest.mark.parametrize("mode", [ref.POINTWISE, ref.HINGE, ref.ADAPTIVE_BPR])
@pytest.mark.parametrize("kind", ["pooling", "lstm", "mixture"])
def test_every_loss_matches_reference(kind, mode):
    rng = np.random.default_rng(6)
    net = ref.init_network(kind, N_ITEMS, D, rng, num_mixtures=2)
    got, loss, _, negatives = _run(net, ROWS, mode, seed=99)
    expected_loss, expected = ref.batch_gradients(net, [np.asarray(r) for r in ROWS],
                                                  negatives, mode)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    np.testing.assert_allclose(got["E_eff"], expected["E"], rtol=2e-4, atol=2e-6)
    np.testing.assert_allclose(got["b"], expected["b"], rtol=2e-4, atol=2e-6)


# ---------------------------------------------------------------------------- optimisers

def _numpy_adam(p, g, m, v, lr, b1, b2, eps, l2, t):
    g = g + l2 * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    p = p - lr / (1 - b1 ** t) * m / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps)
    return p, m, v


def test_step_rows_is_torch_adam_dense_and_keeps_the_padding_row():
    rng = np.random.default_rng(0)
    params = rng.normal(size=(6, 5)).astype(np.float32)
    params[0] = 0.0
    start = params.copy()
    m = np.zeros_like(params)
    v = np.zeros_like(params)
    grads = rng.normal(size=(6, 5)).astype(np.float32)
    grads[3] = 0.0
    touched = np.array([1, 1, 1, 0, 1, 1], np.uint8)
    expected = (params.astype(np.float64), m.astype(np.float64), v.astype(np.float64))
    for t in (1, 2):
        g = grads.astype(np.float64)
        g[0] = 0.0
        new = _numpy_adam(expected[0], g, *expected[1:], 1e-2, 0.9, 0.999, 1e-8, 1e-3, t)
        new[0][0] = 0.0
        expected = new
        work = grads.copy()
        adam.step_rows(params, work, touched, m, v, adam.ADAM, 1e-2, 0.9, 0.999, 1e-8, 1e-3,
                       t)
        assert not work[touched.astype(bool)].any()
    np.testing.assert_allclose(params, expected[0], rtol=1e-5, atol=1e-6)
    assert not params[0].any()
    # Row 3 had no gradient but still moved: weight decay and dense moments.
    assert not np.allclose(params[3], start[3])


def test_step_flat_adam_and_adagrad_match_numpy():
    rng = np.random.default_rng(1)
    params = rng.normal(size=7).astype(np.float32)
    grads = rng.normal(size=7).astype(np.float32)
    p64, _, _ = _numpy_adam(params.astype(float), grads.astype(float), 0, 0, 0.1, 0.9, 0.999,
                            1e-8, 0.0, 1)
    work = params.copy()
    g = grads.copy()
    adam.step_flat(work, g, np.zeros(7, np.float32), np.zeros(7, np.float32), adam.ADAM, 0.1,
                   0.9, 0.999, 1e-8, 0.0, 1)
    np.testing.assert_allclose(work, p64, rtol=1e-5)
    assert not g.any()
    accum = np.ones(7, np.float32)
    work = params.copy()
    adam.step_flat(work, grads.copy(), accum, np.zeros(7, np.float32), adam.ADAGRAD, 0.1,
                   0.9, 0.999, 1e-8, 0.01, 1)
    total = grads + 0.01 * params
    np.testing.assert_allclose(work, params - 0.1 * total, rtol=1e-5)
    np.testing.assert_allclose(accum, 1 + total ** 2, rtol=1e-5)


def test_adagrad_rows_only_steps_touched_rows():
    rng = np.random.default_rng(2)
    params = rng.normal(size=(4, 3)).astype(np.float32)
    grads = rng.normal(size=(4, 3)).astype(np.float32)
    touched = np.array([1, 0, 1, 1], np.uint8)
    before = params.copy()
    accum = np.ones_like(params)
    adam.step_rows(params, grads.copy(), touched, accum, np.zeros_like(params), adam.ADAGRAD,
                   0.5, 0.9, 0.999, 1e-8, 0.0, 1)
    np.testing.assert_array_equal(params[:2], before[:2])    # frozen row 0, untouched 1
    np.testing.assert_allclose(params[2:], before[2:] - 0.5 * grads[2:], rtol=1e-6)


def test_bloom_rows_and_scatter():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    hashes = np.array([[0, 0], [1, 2], [3, 1]], np.int32)
    out = np.empty((3, 3), np.float32)
    adam.hashed_rows(table, hashes, out)
    np.testing.assert_array_equal(out, table[hashes].sum(1))
    grads = np.ones((3, 3), np.float32)
    touched = np.array([0, 1, 1], np.uint8)
    table_grads = np.zeros((4, 3), np.float32)
    table_touched = np.zeros(4, np.uint8)
    adam.scatter_hashed(grads, touched, hashes, table_grads, table_touched)
    np.testing.assert_array_equal(table_grads[:, 0], [0, 2, 1, 1])
    np.testing.assert_array_equal(table_touched, [0, 1, 1, 1])
    assert not grads[1:].any()
