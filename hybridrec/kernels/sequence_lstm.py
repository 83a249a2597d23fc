"""LSTM representation (Spotlight's ``LSTMNet``: one ``torch.nn.LSTM`` layer, input and
hidden size ``d``), and the LSTM pieces the mixture representation reuses.

The inputs are ``z[0] = 0`` (Spotlight's prepended zero) and ``z[u] = E[x_{u-1}]``; from
a zero state, ``gates = W_ih z[u] + W_hh h[u-1] + bias`` (``bias = b_ih + b_hh``; gate
order input, forget, cell, output as PyTorch's), ``c[u] = f c[u-1] + i g``,
``h[u] = o tanh(c[u])``; ``R[u] = h[u]``.

As for the CNN (``sequence_cnn``), the states ``h, c`` at positions ``u <= pads`` only
depend on the number of padding steps: ``lstm_prefix`` runs the cell on zeros once per
minibatch, each sequence starts from the table state at ``u = pads``, and the gradient
reaching that state is accumulated (``gT_h, gT_c``) and sent through the table steps
once per minibatch (``lstm_prefix_backward``).

Speed (measured on Spotlight's synthetic LSTM protocol, d = 32, 10 steps): per sequence,
only the recurrence runs step by step (``cell_forward``, ``cell_backward``); the input
projections ``W_ih z[u]`` are computed for all steps before it (``input_gates``), and the
weight, bias and input gradients from the kept gate gradients after it
(``outer_gradients``, ``input_gradients``). Matrix-vector products are sums of scaled
rows or columns laid out so that every inner loop is a contiguous multiply-add the
compiler vectorises: the forward pass reads ``W_t[i, o]`` (the ``4d`` gate outputs
innermost), the backward pass ``W[o, i]``, the weight gradients accumulate transposed
(``[d, 4d]``) and are folded into ``theta``'s layout once per minibatch
(``fold_gradients``). Four to eight products are summed pairwise before they are added
to an accumulator, which shortens the dependency chain of each sum (the order is fixed:
results do not depend on the thread count or the run). The activations are
``activations.sigmoid32`` / ``tanh32`` (no libm calls).
"""

import numpy as np
from numba import prange

from . import _jit as jit
from .activations import sigmoid32, tanh32


@jit.inline
def input_gates(s_items, pads, first, stop, E, W_ih_t, bias, Z, G):
    """Inputs ``Z[u] = E[x_{u-1}]`` (zero for the padding item) and the input part of the
    gates, ``G[u] = bias + W_ih Z[u]``, at ``u = first..stop``.

    Two positions and four inputs at a time share each load of a weight and of a gate;
    the four products are summed pairwise before they are added (``cell_forward``
    continues the sums the same way).
    """
    d = W_ih_t.shape[0]
    width = W_ih_t.shape[1]
    zero = np.float32(0.0)
    for u in range(first, stop + 1):
        item = s_items[u - 1 - pads]
        for i in range(d):
            Z[u, i] = E[item, i] if item != 0 else zero
        for o in range(width):
            G[u, o] = bias[o]
    u = first
    while u < stop:
        i = 0
        while i + 4 <= d:
            a0, a1, a2, a3 = Z[u, i], Z[u, i + 1], Z[u, i + 2], Z[u, i + 3]
            b0, b1, b2, b3 = Z[u + 1, i], Z[u + 1, i + 1], Z[u + 1, i + 2], Z[u + 1, i + 3]
            for o in range(width):
                w0, w1, w2, w3 = W_ih_t[i, o], W_ih_t[i + 1, o], W_ih_t[i + 2, o], \
                    W_ih_t[i + 3, o]
                G[u, o] = G[u, o] + ((w0 * a0 + w1 * a1) + (w2 * a2 + w3 * a3))
                G[u + 1, o] = G[u + 1, o] + ((w0 * b0 + w1 * b1) + (w2 * b2 + w3 * b3))
            i += 4
        while i < d:
            a0 = Z[u, i]
            b0 = Z[u + 1, i]
            for o in range(width):
                G[u, o] += W_ih_t[i, o] * a0
                G[u + 1, o] += W_ih_t[i, o] * b0
            i += 1
        u += 2
    if u == stop:
        add_product(W_ih_t, Z[u], G[u])


@jit.inline
def add_product(W_t, x, out):
    """``out += W x`` with ``W_t = W^T`` (float32[d, n]; ``x`` float32[d], ``out``
    float32[n]): four inputs at a time, their products summed pairwise before they are
    added, the outputs innermost."""
    d = x.shape[0]
    width = out.shape[0]
    i = 0
    while i + 4 <= d:
        x0, x1, x2, x3 = x[i], x[i + 1], x[i + 2], x[i + 3]
        for o in range(width):
            out[o] = out[o] + ((W_t[i, o] * x0 + W_t[i + 1, o] * x1)
                               + (W_t[i + 2, o] * x2 + W_t[i + 3, o] * x3))
        i += 4
    while i < d:
        x0 = x[i]
        for o in range(width):
            out[o] += W_t[i, o] * x0
        i += 1


@jit.inline
def cell_forward(h_prev, c_prev, W_hh_t, gates, c_out, h_out, tanh_c_out):
    """One cell step: adds ``W_hh h_prev`` to the input part of ``gates`` (float32[4d])
    and activates them in place (i, f, g, o), then ``c, h, tanh(c)``."""
    d = h_prev.shape[0]
    add_product(W_hh_t, h_prev, gates)
    for o in range(d):
        gates[o] = sigmoid32(gates[o])
        gates[d + o] = sigmoid32(gates[d + o])
        gates[2 * d + o] = tanh32(gates[2 * d + o])
        gates[3 * d + o] = sigmoid32(gates[3 * d + o])
    for o in range(d):
        c = gates[d + o] * c_prev[o] + gates[o] * gates[2 * d + o]
        c_out[o] = c
        t = tanh32(c)
        tanh_c_out[o] = t
        h_out[o] = gates[3 * d + o] * t


@jit.inline
def cell_backward(dh, dc_in, gates, c_prev, tanh_c, W_hh, dgates, dh_prev, dc_prev):
    """Backward of one step given ``dh`` (total gradient of ``h``) and ``dc_in`` (of
    ``c`` from the next step): the gates' gradient ``dgates`` (float32[4d]), ``dh_prev =
    W_hh^T dgates`` and ``dc_prev`` (all overwritten). The weight gradients are left to
    ``outer_gradients``, over all steps at once."""
    d = dh.shape[0]
    for o in range(d):
        i_g = gates[o]
        f_g = gates[d + o]
        g_g = gates[2 * d + o]
        o_g = gates[3 * d + o]
        t = tanh_c[o]
        dc = dh[o] * o_g * (np.float32(1.0) - t * t) + dc_in[o]
        dgates[o] = dc * g_g * i_g * (np.float32(1.0) - i_g)
        dgates[d + o] = dc * c_prev[o] * f_g * (np.float32(1.0) - f_g)
        dgates[2 * d + o] = dc * i_g * (np.float32(1.0) - g_g * g_g)
        dgates[3 * d + o] = dh[o] * t * o_g * (np.float32(1.0) - o_g)
        dc_prev[o] = dc * f_g
    transposed_product(W_hh, dgates, dh_prev)


@jit.inline
def transposed_product(W, g, out):
    """``out = W^T g`` (``W`` float32[n, d], ``g`` float32[n]): eight rows per pass,
    their products summed pairwise."""
    width = W.shape[0]
    d = W.shape[1]
    for i in range(d):
        out[i] = 0.0
    o = 0
    while o + 8 <= width:
        g0, g1, g2, g3 = g[o], g[o + 1], g[o + 2], g[o + 3]
        g4, g5, g6, g7 = g[o + 4], g[o + 5], g[o + 6], g[o + 7]
        for i in range(d):
            out[i] = out[i] + (((W[o, i] * g0 + W[o + 1, i] * g1)
                                + (W[o + 2, i] * g2 + W[o + 3, i] * g3))
                               + ((W[o + 4, i] * g4 + W[o + 5, i] * g5)
                                  + (W[o + 6, i] * g6 + W[o + 7, i] * g7)))
        o += 8
    while o + 4 <= width:
        g0, g1, g2, g3 = g[o], g[o + 1], g[o + 2], g[o + 3]
        for i in range(d):
            out[i] = out[i] + ((W[o, i] * g0 + W[o + 1, i] * g1)
                               + (W[o + 2, i] * g2 + W[o + 3, i] * g3))
        o += 4
    while o < width:
        g0 = g[o]
        for i in range(d):
            out[i] += W[o, i] * g0
        o += 1


@jit.inline
def outer_gradients(first, last, dG, X, shift, gW_t):
    """``gW_t[i, o] += dG[u, o] * X[u - shift, i]`` for ``u = last`` down to ``first``,
    four steps at a time (their products summed pairwise, then added).

    ``gW_t`` (float32[d, n], ``dG`` float32[>= last + 1, n]) is the transposed weight
    gradient: its rows are as long as the gates (``n = 4d``; the mixture's projection
    ``2md``), so each inner loop runs over ``n`` contiguous values (with ``[n, d]`` rows
    of length ``d`` the loop set-up costs as much as the arithmetic at small ``d``).
    """
    d = gW_t.shape[0]
    width = gW_t.shape[1]
    for i in range(d):
        u = last
        while u - 3 >= first:
            r = u - shift
            x0, x1, x2, x3 = X[r, i], X[r - 1, i], X[r - 2, i], X[r - 3, i]
            for o in range(width):
                gW_t[i, o] = gW_t[i, o] + ((dG[u, o] * x0 + dG[u - 1, o] * x1)
                                           + (dG[u - 2, o] * x2 + dG[u - 3, o] * x3))
            u -= 4
        while u >= first:
            x0 = X[u - shift, i]
            for o in range(width):
                gW_t[i, o] += dG[u, o] * x0
            u -= 1


@jit.inline
def input_gradients(first, last, W_ih, dG, dZ):
    """``dZ[u] = W_ih^T dG[u]`` (the gradient reaching the input at step ``u``) for
    ``u = first..last``: two steps per pass over ``W_ih``, two independent sums."""
    width = W_ih.shape[0]
    d = W_ih.shape[1]
    u = last
    while u >= first:
        pair = u > first
        if not pair:
            transposed_product(W_ih, dG[u], dZ[u])
            break
        for i in range(d):
            dZ[u, i] = 0.0
            dZ[u - 1, i] = 0.0
        for o in range(0, width - 3, 4):
            g0, g1, g2, g3 = dG[u, o], dG[u, o + 1], dG[u, o + 2], dG[u, o + 3]
            k0, k1, k2, k3 = dG[u - 1, o], dG[u - 1, o + 1], dG[u - 1, o + 2], dG[u - 1, o + 3]
            for i in range(d):
                w0, w1, w2, w3 = W_ih[o, i], W_ih[o + 1, i], W_ih[o + 2, i], W_ih[o + 3, i]
                dZ[u, i] = dZ[u, i] + ((w0 * g0 + w1 * g1) + (w2 * g2 + w3 * g3))
                dZ[u - 1, i] = dZ[u - 1, i] + ((w0 * k0 + w1 * k1) + (w2 * k2 + w3 * k3))
        u -= 2


@jit.inline
def fold_gradients(gW_ih_t, gW_hh_t, gbias, g):
    """Write a minibatch's LSTM gradients into the flat gradient ``g`` in ``theta``'s
    layout (``W_ih`` (4d, d), ``W_hh`` (4d, d), ``b_ih``, ``b_hh``, both biases receiving
    ``gbias``), and zero the accumulators."""
    d = gW_ih_t.shape[0]
    width = gW_ih_t.shape[1]
    n = width * d
    for o in range(width):
        for i in range(d):
            g[o * d + i] = gW_ih_t[i, o]
            g[n + o * d + i] = gW_hh_t[i, o]
        g[2 * n + o] = gbias[o]
        g[2 * n + width + o] = gbias[o]
    gW_ih_t[:] = 0.0
    gW_hh_t[:] = 0.0
    gbias[:] = 0.0


@jit.serial
def lstm_prefix(length, W_ih_t, W_hh_t, bias, table_h, table_c, table_tanh, table_gates):
    """States after ``0..length`` zero inputs from the zero state (float32[>= length + 1,
    d] tables; ``table_gates`` float32[>= length + 1, 4d])."""
    d = table_h.shape[1]
    zeros = np.zeros(d, dtype=np.float32)
    for u in range(length + 1):
        h_prev = zeros if u == 0 else table_h[u - 1]
        c_prev = zeros if u == 0 else table_c[u - 1]
        for o in range(4 * d):
            table_gates[u, o] = bias[o]
        cell_forward(h_prev, c_prev, W_hh_t, table_gates[u], table_c[u], table_h[u],
                     table_tanh[u])


@jit.serial
def lstm_prefix_backward(length, W_hh, table_h, table_c, table_tanh, table_gates, gT_h,
                         gT_c, gW_hh_t, gbias):
    """Send the gradients of the table states (``gT_h, gT_c`` float32[>= length + 1, d],
    zeroed here) through the zero-input steps into ``gW_hh_t`` (transposed,
    float32[d, 4d]) and ``gbias``."""
    d = table_h.shape[1]
    zeros = np.zeros(d, dtype=np.float32)
    dh = np.zeros(d, dtype=np.float32)
    dc = np.zeros(d, dtype=np.float32)
    dh_prev = np.zeros(d, dtype=np.float32)
    dc_prev = np.zeros(d, dtype=np.float32)
    dG = np.empty((length + 1, 4 * d), dtype=np.float32)
    for u in range(length, -1, -1):
        for o in range(d):
            dh[o] = dh_prev[o] + gT_h[u, o]
            dc[o] = dc_prev[o] + gT_c[u, o]
            gT_h[u, o] = 0.0
            gT_c[u, o] = 0.0
        c_prev = zeros if u == 0 else table_c[u - 1]
        cell_backward(dh, dc, table_gates[u], c_prev, table_tanh[u], W_hh, dG[u], dh_prev,
                      dc_prev)
    # The step from the zero state (u = 0) adds nothing to gW_hh.
    outer_gradients(1, length, dG, table_h, 1, gW_hh_t)
    for u in range(length, -1, -1):
        for o in range(4 * d):
            gbias[o] += dG[u, o]


@jit.inline
def lstm_sequence_forward(s_items, pads, stop, E, W_ih_t, W_hh_t, bias, table_h, table_c,
                          table_tanh, table_gates, Z, H, C, TC, G):
    """Inputs ``Z``, states ``H, C, TC = tanh(C)`` and gates ``G`` of one sequence at
    ``pads..stop`` (position ``pads`` copied from the tables)."""
    d = H.shape[1]
    for o in range(d):
        H[pads, o] = table_h[pads, o]
        C[pads, o] = table_c[pads, o]
        TC[pads, o] = table_tanh[pads, o]
    for o in range(4 * d):
        G[pads, o] = table_gates[pads, o]
    input_gates(s_items, pads, pads + 1, stop, E, W_ih_t, bias, Z, G)
    for u in range(pads + 1, stop + 1):
        cell_forward(H[u - 1], C[u - 1], W_hh_t, G[u], C[u], H[u], TC[u])


@jit.inline
def lstm_sequence_backward(s_items, pads, T, W_ih, W_hh, Z, H, C, TC, G, dH, dG, dh,
                           dh_prev, dc, dc_prev, gE, gW_ih_t, gW_hh_t, gbias, gT_h, gT_c,
                           touched):
    """Backpropagate ``dH`` (float32[>= T, d], gradients of ``h`` at ``pads..T-1``)
    through the steps ``T-1`` down to ``pads+1`` into the parameters and ``gE``, and the
    gradient of the state at ``pads`` into ``gT_h[pads], gT_c[pads]``.

    Only the recurrence is sequential: the steps' gate gradients are kept in ``dG``
    (float32[>= T, 4d]) and the weight, bias and input gradients summed from them
    afterwards; the weight gradients ``gW_ih_t, gW_hh_t`` are transposed (float32[d, 4d],
    ``outer_gradients``). The rows ``pads+1..T-1`` of ``dH`` are overwritten with the
    gradients of the inputs (``input_gradients``) once the recurrence has used them.
    """
    d = H.shape[1]
    for o in range(d):
        dh_prev[o] = 0.0
        dc_prev[o] = 0.0
    for u in range(T - 1, pads, -1):
        for o in range(d):
            dh[o] = dH[u, o] + dh_prev[o]
            dc[o] = dc_prev[o]
        cell_backward(dh, dc, G[u], C[u - 1], TC[u], W_hh, dG[u], dh_prev, dc_prev)
    for o in range(d):
        gT_h[pads, o] += dH[pads, o] + dh_prev[o]
        gT_c[pads, o] += dc_prev[o]
    outer_gradients(pads + 1, T - 1, dG, H, 1, gW_hh_t)
    outer_gradients(pads + 1, T - 1, dG, Z, 0, gW_ih_t)
    input_gradients(pads + 1, T - 1, W_ih, dG, dH)
    for u in range(T - 1, pads, -1):
        for o in range(4 * d):
            gbias[o] += dG[u, o]
        item = s_items[u - 1 - pads]
        if item != 0:
            for i in range(d):
                gE[item, i] += dH[u, i]
            touched[item] = 1


@jit.inline
def snapshot_lstm(theta, d, W_ih, W_hh, W_ih_t, W_hh_t, bias):
    """Copy the LSTM weights of ``theta`` (``W_ih, W_hh, b_ih, b_hh``) into the worker's
    layouts for one minibatch."""
    n = 4 * d * d
    for o in range(4 * d):
        for i in range(d):
            a = theta[o * d + i]
            h = theta[n + o * d + i]
            W_ih[o, i] = a
            W_hh[o, i] = h
            W_ih_t[i, o] = a
            W_hh_t[i, o] = h
        bias[o] = theta[2 * n + o] + theta[2 * n + 4 * d + o]


@jit.inline
def final_state(s_items, pads, E, W_ih_t, W_hh_t, bias, table_h, table_c, table_tanh,
                table_gates, Z, H, C, TC, G, out):
    """``h`` after the whole sequence (``R[pads + n]``) into ``out``; ``Z, H, C, TC, G``
    are scratch of at least ``pads + n + 1`` positions."""
    T = pads + s_items.shape[0]
    lstm_sequence_forward(s_items, pads, T, E, W_ih_t, W_hh_t, bias, table_h, table_c,
                          table_tanh, table_gates, Z, H, C, TC, G)
    for o in range(out.shape[0]):
        out[o] = H[T, o]


@jit.serial
def lstm_state(s_items, pads, E, W_ih_t, W_hh_t, bias, table_h, table_c, table_tanh,
               table_gates, out):
    """``h`` after the whole sequence ``s_items`` with ``pads`` leading padding steps
    (float32[d] into ``out``)."""
    d = E.shape[1]
    length = pads + s_items.shape[0] + 1
    final_state(s_items, pads, E, W_ih_t, W_hh_t, bias, table_h, table_c, table_tanh,
                table_gates, np.zeros((length, d), np.float32),
                np.zeros((length, d), np.float32), np.zeros((length, d), np.float32),
                np.zeros((length, d), np.float32), np.zeros((length, 4 * d), np.float32),
                out)


@jit.parallel
def lstm_states(indptr, items, pads, E, W_ih_t, W_hh_t, bias, table_h, table_c, table_tanh,
                table_gates, max_length, out):
    """``lstm_state`` of every sequence (rows of ``out``, float32[n_sequences, d]);
    ``max_length`` bounds ``pads + n`` of every sequence."""
    d = E.shape[1]
    n_sequences = indptr.shape[0] - 1
    n_tasks = min(n_sequences, 64)
    for task in prange(n_tasks):
        Z = np.zeros((max_length + 1, d), dtype=np.float32)
        H = np.zeros((max_length + 1, d), dtype=np.float32)
        C = np.zeros((max_length + 1, d), dtype=np.float32)
        TC = np.zeros((max_length + 1, d), dtype=np.float32)
        G = np.zeros((max_length + 1, 4 * d), dtype=np.float32)
        for s in range(task * n_sequences // n_tasks, (task + 1) * n_sequences // n_tasks):
            final_state(items[indptr[s]:indptr[s + 1]], pads[s], E, W_ih_t, W_hh_t, bias,
                        table_h, table_c, table_tanh, table_gates, Z, H, C, TC, G, out[s])
