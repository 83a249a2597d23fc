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

Matrix-vector products run as sums of scaled columns: the forward pass reads the
transposed weights ``W_t[i, o]`` (loop over the ``4d`` gate outputs innermost), the
backward pass the ``W[o, i]`` layout (loop over the ``d`` inputs innermost), so every
inner loop is a contiguous multiply-add the compiler vectorises without reordering a sum.
"""

import numpy as np
from numba import prange

from . import _jit as jit
from ._atomic import fetch_add
from .adam import hashed_rows, step_flat, step_items
from .sequence import dot_head


@jit.serial
def _sigmoid32(x):
    return np.float32(1.0) / (np.float32(1.0) + np.exp(-x))


@jit.inline
def lstm_step(z, h_prev, c_prev, W_ih_t, W_hh_t, bias, gates, c_out, h_out, tanh_c_out,
              with_input):
    """One cell step: activated gates (float32[4d]: i, f, g, o), ``c, h, tanh(c)``."""
    d = h_prev.shape[0]
    for o in range(4 * d):
        gates[o] = bias[o]
    if with_input:
        for i in range(d):
            value = z[i]
            if value != 0.0:
                for o in range(4 * d):
                    gates[o] += W_ih_t[i, o] * value
    for i in range(d):
        value = h_prev[i]
        if value != 0.0:
            for o in range(4 * d):
                gates[o] += W_hh_t[i, o] * value
    for o in range(d):
        gates[o] = _sigmoid32(gates[o])
        gates[d + o] = _sigmoid32(gates[d + o])
        gates[2 * d + o] = np.tanh(gates[2 * d + o])
        gates[3 * d + o] = _sigmoid32(gates[3 * d + o])
    for o in range(d):
        c = gates[d + o] * c_prev[o] + gates[o] * gates[2 * d + o]
        c_out[o] = c
        t = np.tanh(c)
        tanh_c_out[o] = t
        h_out[o] = gates[3 * d + o] * t


@jit.inline
def lstm_step_backward(dh, dc_in, gates, c_prev, tanh_c, z, h_prev, W_ih, W_hh, dgates,
                       dz, dh_prev, dc_prev, gW_ih, gW_hh, gbias, with_input):
    """Backward of one step given ``dh`` (total gradient of ``h``) and ``dc_in`` (of
    ``c`` from the next step): parameter gradients, and ``dz`` (if ``with_input``),
    ``dh_prev``, ``dc_prev`` (all overwritten)."""
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
    for i in range(d):
        dh_prev[i] = 0.0
        if with_input:
            dz[i] = 0.0
    for o in range(4 * d):
        g = dgates[o]
        gbias[o] += g
        if g != 0.0:
            for i in range(d):
                gW_hh[o, i] += g * h_prev[i]
                dh_prev[i] += W_hh[o, i] * g
            if with_input:
                for i in range(d):
                    gW_ih[o, i] += g * z[i]
                    dz[i] += W_ih[o, i] * g


@jit.serial
def lstm_prefix(length, W_ih_t, W_hh_t, bias, table_h, table_c, table_tanh, table_gates):
    """States after ``0..length`` zero inputs from the zero state (float32[>= length + 1,
    d] tables; ``table_gates`` float32[>= length + 1, 4d])."""
    d = table_h.shape[1]
    zeros = np.zeros(d, dtype=np.float32)
    for u in range(length + 1):
        h_prev = zeros if u == 0 else table_h[u - 1]
        c_prev = zeros if u == 0 else table_c[u - 1]
        lstm_step(zeros, h_prev, c_prev, W_ih_t, W_hh_t, bias, table_gates[u], table_c[u],
                  table_h[u], table_tanh[u], False)


@jit.serial
def lstm_prefix_backward(length, W_ih, W_hh, table_h, table_c, table_tanh, table_gates,
                         gT_h, gT_c, gW_ih, gW_hh, gbias):
    """Send the gradients of the table states (``gT_h, gT_c`` float32[>= length + 1, d],
    zeroed here) through the zero-input steps into ``gW_hh, gbias``."""
    d = table_h.shape[1]
    zeros = np.zeros(d, dtype=np.float32)
    dh = np.zeros(d, dtype=np.float32)
    dc = np.zeros(d, dtype=np.float32)
    dh_prev = np.zeros(d, dtype=np.float32)
    dc_prev = np.zeros(d, dtype=np.float32)
    dgates = np.empty(4 * d, dtype=np.float32)
    unused = np.empty(d, dtype=np.float32)
    for u in range(length, -1, -1):
        for o in range(d):
            dh[o] = dh_prev[o] + gT_h[u, o]
            dc[o] = dc_prev[o] + gT_c[u, o]
            gT_h[u, o] = 0.0
            gT_c[u, o] = 0.0
        h_prev = zeros if u == 0 else table_h[u - 1]
        c_prev = zeros if u == 0 else table_c[u - 1]
        lstm_step_backward(dh, dc, table_gates[u], c_prev, table_tanh[u], zeros, h_prev, W_ih,
                           W_hh, dgates, unused, dh_prev, dc_prev, gW_ih, gW_hh, gbias, False)


@jit.inline
def lstm_sequence_forward(s_items, pads, stop, E, W_ih_t, W_hh_t, bias, table_h, table_c,
                          table_tanh, table_gates, H, C, TC, G):
    """States ``H, C, TC = tanh(C)`` and gates ``G`` of one sequence at ``pads..stop``
    (position ``pads`` copied from the tables)."""
    d = H.shape[1]
    for o in range(d):
        H[pads, o] = table_h[pads, o]
        C[pads, o] = table_c[pads, o]
        TC[pads, o] = table_tanh[pads, o]
    for o in range(4 * d):
        G[pads, o] = table_gates[pads, o]
    for u in range(pads + 1, stop + 1):
        item = s_items[u - 1 - pads]
        lstm_step(E[item], H[u - 1], C[u - 1], W_ih_t, W_hh_t, bias, G[u], C[u], H[u],
                  TC[u], item != 0)


@jit.inline
def lstm_sequence_backward(s_items, pads, T, E, W_ih, W_hh, H, C, TC, G, dH, dgates, dz,
                           dh, dh_prev, dc, dc_prev, gE, gW_ih, gW_hh, gbias, gT_h, gT_c,
                           touched):
    """Backpropagate ``dH`` (float32[>= T, d], gradients of ``h`` at ``pads..T-1``)
    through the steps ``T-1`` down to ``pads+1`` into the parameters and ``gE``, and the gradient
    of the state at ``pads`` into ``gT_h[pads], gT_c[pads]``."""
    d = H.shape[1]
    for o in range(d):
        dh_prev[o] = 0.0
        dc_prev[o] = 0.0
    for u in range(T - 1, pads, -1):
        for o in range(d):
            dh[o] = dH[u, o] + dh_prev[o]
            dc[o] = dc_prev[o]
        item = s_items[u - 1 - pads]
        lstm_step_backward(dh, dc, G[u], C[u - 1], TC[u], E[item], H[u - 1], W_ih, W_hh,
                           dgates, dz, dh_prev, dc_prev, gW_ih, gW_hh, gbias, item != 0)
        if item != 0:
            for i in range(d):
                gE[item, i] += dz[i]
            touched[item] = 1
    for o in range(d):
        gT_h[pads, o] += dH[pads, o] + dh_prev[o]
        gT_c[pads, o] += dc_prev[o]


@jit.serial
def lstm_batch(batch, indptr, items, pads, E, Eo, b, W_ih_t, W_hh_t, W_ih, W_hh, bias,
               table_h, table_c, table_tanh, table_gates, mode, n_negatives, scale, state, gE,
               gEo, gb, gW_ih, gW_hh, gbias, gT_h, gT_c, touched):
    """Gradient of one minibatch of the LSTM representation, added to one worker's
    buffers; returns ``(state, summed unscaled loss)``.

    Parameters not listed here are those of ``sequence.pooling_batch``.

    Parameters
    ----------
    pads : int32[n_sequences]
        Leading padding of each sequence.
    W_ih_t, W_hh_t : float32[d, 4d]
        Transposed input and recurrent weights.
    W_ih, W_hh : float32[4d, d]
        Input and recurrent weights.
    bias : float32[4d]
        ``b_ih + b_hh``.
    table_h, table_c, table_tanh : float32[>= max pads + 1, d]
        ``lstm_prefix`` of (at least) the batch's longest padding.
    table_gates : float32[>= max pads + 1, 4d]
        The prefix's gates.
    gW_ih, gW_hh : float32[4d, d]
        Gradient buffers of the weights.
    gbias : float32[4d]
        Gradient of ``b_ih`` and of ``b_hh`` alike.
    gT_h, gT_c : float32[>= max pads + 1, d]
        Gradient reaching the prefix states (for ``lstm_prefix_backward``).
    """
    d = E.shape[1]
    longest = 0
    for k in range(batch.shape[0]):
        s = batch[k]
        longest = max(longest, pads[s] + indptr[s + 1] - indptr[s])
    H = np.zeros((longest + 1, d), dtype=np.float32)
    C = np.zeros((longest + 1, d), dtype=np.float32)
    TC = np.zeros((longest + 1, d), dtype=np.float32)
    G = np.zeros((longest + 1, 4 * d), dtype=np.float32)
    dH = np.zeros((longest + 1, d), dtype=np.float32)
    dgates = np.empty(4 * d, dtype=np.float32)
    dz = np.empty(d, dtype=np.float32)
    dh = np.empty(d, dtype=np.float32)
    dh_prev = np.empty(d, dtype=np.float32)
    dc = np.empty(d, dtype=np.float32)
    dc_prev = np.empty(d, dtype=np.float32)
    dr = np.empty(d, dtype=np.float32)
    loss = 0.0
    for k in range(batch.shape[0]):
        s = batch[k]
        s_items = items[indptr[s]:indptr[s + 1]]
        p = pads[s]
        T = p + s_items.shape[0]
        lstm_sequence_forward(s_items, p, T - 1, E, W_ih_t, W_hh_t, bias, table_h, table_c,
                              table_tanh, table_gates, H, C, TC, G)
        for u in range(p, T):
            for o in range(d):
                dH[u, o] = 0.0
            target = s_items[u - p]
            if target == 0:
                continue
            dr[:] = 0.0
            state, value = dot_head(H[u], target, mode, n_negatives, state, Eo, b, scale, dr,
                                    gEo, gb, touched)
            loss += value
            for o in range(d):
                dH[u, o] = dr[o]
        lstm_sequence_backward(s_items, p, T, E, W_ih, W_hh, H, C, TC, G, dH, dgates, dz, dh,
                               dh_prev, dc, dc_prev, gE, gW_ih, gW_hh, gbias, gT_h, gT_c,
                               touched)
    return state, loss


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


@jit.parallel
def lstm_epoch(order, batch_starts, scales, indptr, items, pads, E, Eo, b, tied, hashes,
               theta, mode, n_negatives, optimizer, learning_rate, beta1, beta2, epsilon, l2,
               steps, mE, vE, mEo, vEo, mb, vb, m_theta, v_theta, g_theta, rng_states, E_items,
               gE, gEo, gb, touched, table_grads, table_touched, batch_loss):
    """One epoch of the LSTM representation: ``sequence.pooling_epoch`` (whose arguments
    it shares) with the layer weights in ``theta`` (float32: ``W_ih`` (4d, d), ``W_hh``
    (4d, d), ``b_ih`` (4d), ``b_hh`` (4d)), their optimiser state ``m_theta, v_theta``
    and per-worker gradients ``g_theta`` (float32[n_workers, len])."""
    n_workers = gE.shape[0]
    n_batches = rng_states.shape[0]
    d = E.shape[1]
    n = 4 * d * d
    max_pads = 0
    for k in range(pads.shape[0]):
        max_pads = max(max_pads, pads[k])
    next_batch = np.zeros(1, dtype=np.int64)
    for w in prange(n_workers):
        W_ih = np.empty((4 * d, d), dtype=np.float32)
        W_hh = np.empty((4 * d, d), dtype=np.float32)
        W_ih_t = np.empty((d, 4 * d), dtype=np.float32)
        W_hh_t = np.empty((d, 4 * d), dtype=np.float32)
        bias = np.empty(4 * d, dtype=np.float32)
        table_h = np.zeros((max_pads + 1, d), dtype=np.float32)
        table_c = np.zeros((max_pads + 1, d), dtype=np.float32)
        table_tanh = np.zeros((max_pads + 1, d), dtype=np.float32)
        table_gates = np.zeros((max_pads + 1, 4 * d), dtype=np.float32)
        gT_h = np.zeros((max_pads + 1, d), dtype=np.float32)
        gT_c = np.zeros((max_pads + 1, d), dtype=np.float32)
        gbias = np.zeros(4 * d, dtype=np.float32)
        g = g_theta[w]
        gW_ih = g[:n].reshape((4 * d, d))
        gW_hh = g[n:2 * n].reshape((4 * d, d))
        gE_w = gE[w]
        gEo_w = gE_w if tied else gEo[w]
        k = fetch_add(next_batch, 1)
        while k < n_batches:
            if hashes is None:
                E_in = E
            else:
                E_in = E_items[w]
                hashed_rows(E, hashes, E_in)
            E_out = E_in if tied else Eo
            snapshot_lstm(theta, d, W_ih, W_hh, W_ih_t, W_hh_t, bias)
            batch = order[batch_starts[k]:batch_starts[k + 1]]
            batch_pads = 0
            for j in range(batch.shape[0]):
                batch_pads = max(batch_pads, pads[batch[j]])
            lstm_prefix(batch_pads, W_ih_t, W_hh_t, bias, table_h, table_c, table_tanh,
                        table_gates)
            state, loss = lstm_batch(batch, indptr, items, pads, E_in, E_out, b, W_ih_t,
                                     W_hh_t, W_ih, W_hh, bias, table_h, table_c, table_tanh,
                                     table_gates, mode, n_negatives, scales[k], rng_states[k],
                                     gE_w, gEo_w, gb[w], gW_ih, gW_hh, gbias, gT_h, gT_c,
                                     touched[w])
            lstm_prefix_backward(batch_pads, W_ih, W_hh, table_h, table_c, table_tanh,
                                 table_gates, gT_h, gT_c, gW_ih, gW_hh, gbias)
            for o in range(4 * d):
                g[2 * n + o] = gbias[o]
                g[2 * n + 4 * d + o] = gbias[o]
                gbias[o] = 0.0
            rng_states[k] = state
            batch_loss[k] = loss
            t = fetch_add(steps, 1) + 1
            step_flat(theta, g, m_theta, v_theta, optimizer, learning_rate, beta1, beta2,
                      epsilon, l2, t)
            step_items(E, Eo, b, tied, hashes, E_in, gE_w, gEo_w, gb[w], touched[w],
                       table_grads[w], table_touched[w], mE, vE, mEo, vEo, mb, vb, optimizer,
                       learning_rate, beta1, beta2, epsilon, l2, t)
            k = fetch_add(next_batch, 1)


@jit.serial
def lstm_state(s_items, pads, E, W_ih_t, W_hh_t, bias, table_h, table_c, table_tanh,
               table_gates, H, C, TC, G, out):
    """``h`` after the whole sequence (``R[pads + n]``) into ``out``; ``H, C, TC, G``
    are scratch of at least ``pads + n + 1`` positions."""
    T = pads + s_items.shape[0]
    lstm_sequence_forward(s_items, pads, T, E, W_ih_t, W_hh_t, bias, table_h, table_c,
                          table_tanh, table_gates, H, C, TC, G)
    for o in range(out.shape[0]):
        out[o] = H[T, o]


@jit.parallel
def lstm_states(indptr, items, pads, E, W_ih_t, W_hh_t, bias, table_h, table_c, table_tanh,
                table_gates, max_length, out):
    """``lstm_state`` of every sequence (rows of ``out``, float32[n_sequences, d])."""
    d = E.shape[1]
    n_sequences = indptr.shape[0] - 1
    n_tasks = min(n_sequences, 64)
    for task in prange(n_tasks):
        H = np.zeros((max_length + 1, d), dtype=np.float32)
        C = np.zeros((max_length + 1, d), dtype=np.float32)
        TC = np.zeros((max_length + 1, d), dtype=np.float32)
        G = np.zeros((max_length + 1, 4 * d), dtype=np.float32)
        for s in range(task * n_sequences // n_tasks, (task + 1) * n_sequences // n_tasks):
            lstm_state(items[indptr[s]:indptr[s + 1]], pads[s], E, W_ih_t, W_hh_t, bias,
                       table_h, table_c, table_tanh, table_gates, H, C, TC, G, out[s])
