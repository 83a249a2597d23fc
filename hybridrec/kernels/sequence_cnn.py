"""Causal (dilated, optionally residual) CNN representation (Spotlight's ``CNNNet``).

With ``h0[t] = E[x_t]`` (``t < T``) and layer ``l`` of kernel width ``k`` and dilation
``q`` (taps ``a = 0..k-1``, ``f`` = tanh or relu):

* layer 1: ``X1[u] = f(c + sum_a W[a] h0[u - 1 - (k - 1 - a) q]) (+ h0[u - 1])``,
* layer l > 1: ``Xl[u] = f(c + sum_a W[a] X(l-1)[u - (k - 1 - a) q]) (+ X(l-1)[u])``,

for ``u = 0..T``, out-of-range taps reading zero, the residual term only with
``residual`` (Spotlight's left padding by the receptive field, then by one less on the
later layers, gives exactly these offsets). ``R = X_n``.

Positions ``u <= pads`` see only padding, so their activations are the same for every
sequence: the *prefix table* (``cnn_prefix``, the network run on an all-padding
sequence) holds them, each sequence computes only ``u > pads``, and the gradient that
reaches table positions is accumulated (``gT``) and sent through the table once per
minibatch (``cnn_prefix_backward``). This is exact, and skips the padding
that dominates Spotlight's 200-long sequences.

Weights are stored ``W[l, a, o, i]`` (``Wt[l, a, i, o]`` is the transposed copy the
forward pass reads: both loops then run over contiguous output / input components).
"""

import numpy as np
from numba import prange

from . import _jit as jit
from ._clock import monotonic_ns
from .activations import tanh32
from .adam import hashed_rows
from .sequence import dot_head, longest_padding, longest_sequence
from .sequence_sync import begin_minibatch, chunk_items, claim, end_minibatch, note_chunk


@jit.serial
def _tap_offset(layer, a, width, dilation):
    """How far back tap ``a`` of ``layer`` reads (layer 0 also shifts by one)."""
    back = (width - 1 - a) * dilation
    return back + 1 if layer == 0 else back


@jit.inline
def _layer_forward(layer, u, width, dilation, Wt, c, relu, residual, source, y_out, x_out,
                   residual_source):
    """One output position of one layer: ``y_out, x_out`` (float32[d])."""
    d = c.shape[1]
    for o in range(d):
        y_out[o] = c[layer, o]
    for a in range(width):
        index = u - _tap_offset(layer, a, width, dilation)
        if index < 0:
            continue
        for i in range(d):
            value = source[index, i]
            if value != 0.0:
                for o in range(d):
                    y_out[o] += Wt[layer, a, i, o] * value
    for o in range(d):
        if relu:
            y_out[o] = max(y_out[o], np.float32(0.0))
        else:
            y_out[o] = tanh32(y_out[o])
    if residual and residual_source >= 0:
        for o in range(d):
            x_out[o] = y_out[o] + source[residual_source, o]
    else:
        for o in range(d):
            x_out[o] = y_out[o]


@jit.inline
def _layer_backward(layer, u, width, dilation, W, relu, residual, source, y, dx, dsource,
                    dpre, gW, gc, with_source):
    """Backward of one output position: ``dx`` (its gradient, float32[d]) into ``gW``,
    ``gc`` and (``with_source``) ``dsource`` rows."""
    d = y.shape[0]
    nonzero = False
    for o in range(d):
        if relu:
            dpre[o] = dx[o] if y[o] > 0.0 else np.float32(0.0)
        else:
            dpre[o] = dx[o] * (np.float32(1.0) - y[o] * y[o])
        gc[layer, o] += dpre[o]
        if dpre[o] != 0.0:
            nonzero = True
    if residual:
        target = u - 1 if layer == 0 else u
        if target >= 0:
            for i in range(d):
                dsource[target, i] += dx[i]
    if not nonzero:
        return
    for a in range(width):
        index = u - _tap_offset(layer, a, width, dilation)
        if index < 0:
            continue
        if with_source:
            for o in range(d):
                g = dpre[o]
                for i in range(d):
                    gW[layer, a, o, i] += g * source[index, i]
                    dsource[index, i] += W[layer, a, o, i] * g
        else:
            for o in range(d):
                g = dpre[o]
                for i in range(d):
                    gW[layer, a, o, i] += g * source[index, i]


@jit.serial
def cnn_prefix(length, W_t, c, widths, dilations, relu, residual, table, table_y):
    """The activations of an all-padding sequence at positions ``0..length``.

    ``table, table_y`` : float32[n_layers, >= length + 1, d] receive ``X_l`` and
    ``f(pre)`` of every layer (layer ``l`` at index ``l - 1``).
    """
    n_layers = widths.shape[0]
    d = c.shape[1]
    zeros = np.zeros((length + 1, d), dtype=np.float32)
    for layer in range(n_layers):
        source = zeros if layer == 0 else table[layer - 1]
        for u in range(length + 1):
            _layer_forward(layer, u, widths[layer], dilations[layer], W_t, c, relu,
                           residual, source, table_y[layer, u], table[layer, u],
                           -1 if layer == 0 else u)


@jit.serial
def cnn_prefix_backward(length, W, widths, dilations, relu, residual, table, table_y, gT,
                            gW, gc):
    """Send one worker's table gradients ``gT`` (float32[n_layers, >= length + 1, d],
    zeroed here) through the prefix computation (``cnn_prefix``) into ``gW, gc``."""
    n_layers = widths.shape[0]
    d = table.shape[2]
    dx = np.zeros((n_layers, length + 1, d), dtype=np.float32)
    dpre = np.empty(d, dtype=np.float32)
    for layer in range(n_layers):
        for u in range(length + 1):
            for o in range(d):
                dx[layer, u, o] = gT[layer, u, o]
                gT[layer, u, o] = 0.0
    unused = np.zeros((length + 1, d), dtype=np.float32)
    for layer in range(n_layers - 1, -1, -1):
        source = unused if layer == 0 else table[layer - 1]
        dsource = unused if layer == 0 else dx[layer - 1]
        for u in range(length, -1, -1):
            _layer_backward(layer, u, widths[layer], dilations[layer], W, relu,
                            residual and layer > 0, source, table_y[layer, u], dx[layer, u],
                            dsource, dpre, gW, gc, layer > 0)


@jit.inline
def _sequence_forward(s_items, pads, stop, E, W_t, c, widths, dilations, relu, residual,
                      reach, table, X, Y):
    """Fill ``X[0..n_layers], Y`` of one sequence for positions up to ``stop`` (< length
    + 1); table positions ``max(0, pads - reach) .. pads`` are copied from ``table``."""
    n_layers = widths.shape[0]
    d = E.shape[1]
    n = s_items.shape[0]
    low = max(0, pads - reach)
    for t in range(low, pads + n):
        if t < pads:
            for i in range(d):
                X[0, t, i] = 0.0
        else:
            item = s_items[t - pads]
            for i in range(d):
                X[0, t, i] = E[item, i]
    for layer in range(n_layers):
        for u in range(low, pads + 1):
            for o in range(d):
                X[layer + 1, u, o] = table[layer, u, o]
        for u in range(pads + 1, stop + 1):
            _layer_forward(layer, u, widths[layer], dilations[layer], W_t, c, relu,
                           residual, X[layer], Y[layer, u], X[layer + 1, u],
                           u - 1 if layer == 0 else u)


@jit.serial
def cnn_batch(batch, indptr, items, pads, E, Eo, b, W_t, W, c, widths, dilations, relu,
              residual, reach, table, mode, n_negatives, scale, state, gE, gEo, gb, gW, gc,
              gT, touched):
    """Gradient of one minibatch of the CNN representation, added to one worker's buffers;
    returns ``(state, summed unscaled loss)``.

    Parameters not listed here are those of ``sequence.pooling_batch``.

    Parameters
    ----------
    pads : int32[n_sequences]
        Leading padding of each sequence.
    W_t, W : float32[n_layers, max_width, d, d]
        ``[l, a, i, o]`` and ``[l, a, o, i]`` layouts of the weights.
    c : float32[n_layers, d]
        Biases of the layers.
    widths, dilations : int32[n_layers]
        Kernel width and dilation of each layer.
    relu, residual : bool
        ReLU instead of tanh; residual connections.
    reach : int
        Total look-back ``sum((width - 1) * dilation) + 1``.
    table : float32[n_layers, >= max pads + 1, d]
        ``cnn_prefix`` of (at least) the batch's longest padding.
    gW, gc : float32, shaped like ``W`` and ``c``
        Gradient buffers of the weights and biases.
    gT : float32[n_layers, >= max pads + 1, d]
        Gradient reaching the prefix table (for ``cnn_prefix_backward``).
    """
    n_layers = widths.shape[0]
    d = E.shape[1]
    longest = longest_sequence(batch, indptr, pads)
    X = np.zeros((n_layers + 1, longest + 1, d), dtype=np.float32)
    Y = np.zeros((n_layers, longest + 1, d), dtype=np.float32)
    dX = np.zeros((n_layers + 1, longest + 1, d), dtype=np.float32)
    dr = np.empty(d, dtype=np.float32)
    dpre = np.empty(d, dtype=np.float32)
    loss = 0.0
    for k in range(batch.shape[0]):
        s = batch[k]
        s_items = items[indptr[s]:indptr[s + 1]]
        p = pads[s]
        n = s_items.shape[0]
        T = p + n
        low = max(0, p - reach)
        _sequence_forward(s_items, p, T - 1, E, W_t, c, widths, dilations, relu, residual,
                          reach, table, X, Y)
        for layer in range(n_layers + 1):
            for u in range(low, T + 1):
                for o in range(d):
                    dX[layer, u, o] = 0.0
        top = X[n_layers]
        for u in range(p, T):
            target = s_items[u - p]
            if target == 0:
                continue
            dr[:] = 0.0
            state, value = dot_head(top[u], target, mode, n_negatives, state, Eo, b, scale, dr,
                                    gEo, gb, touched)
            loss += value
            for o in range(d):
                dX[n_layers, u, o] = dr[o]
        for layer in range(n_layers - 1, -1, -1):
            for u in range(T - 1, p, -1):
                _layer_backward(layer, u, widths[layer], dilations[layer], W, relu, residual,
                                X[layer], Y[layer, u], dX[layer + 1, u], dX[layer], dpre, gW,
                                gc, True)
            for u in range(low, p + 1):
                for o in range(d):
                    gT[layer, u, o] += dX[layer + 1, u, o]
        for t in range(p, T):
            item = s_items[t - p]
            if item == 0:
                continue
            for i in range(d):
                gE[item, i] += dX[0, t, i]
            touched[item] = 1
    return state, loss


@jit.parallel
def cnn_epoch(order, batch_starts, scales, indptr, items, pads, E, Eo, b, tied, hashes,
              theta, widths, dilations, relu, residual, mode, n_negatives, optimizer,
              learning_rate, beta1, beta2, epsilon, l2, steps, mE, vE, mEo, vEo, mb, vb,
              m_theta, v_theta, g_theta, chunk_bounds, chunk_starts, chunk_states,
              wait_factor, stats, E_items, gE, gEo, gb, touched, table_grads, table_touched,
              batch_loss):
    """One epoch of the CNN representation in synchronous minibatches
    (``sequence_sync``): ``sequence_recurrent.recurrent_epoch``'s arguments, with the
    layer weights in ``theta`` (float32: ``W`` [l, a, o, i] of shape (n_layers, max
    width, d, d) then ``c`` (n_layers, d))."""
    n_workers = gE.shape[0] // 2          # two buffer slots per worker
    n_batches = batch_starts.shape[0] - 1
    n_layers = widths.shape[0]
    width = 0
    reach = 1
    for layer in range(n_layers):
        width = max(width, widths[layer])
        reach += (widths[layer] - 1) * dilations[layer]
    d = E.shape[1]
    size_W = n_layers * width * d * d
    max_pads = pads.max() if pads.shape[0] else 0
    W = theta[:size_W].reshape((n_layers, width, d, d))
    c = theta[size_W:size_W + n_layers * d].reshape((n_layers, d))
    claimed = np.zeros(n_batches, dtype=np.int64)
    completed = np.zeros(n_batches, dtype=np.int64)
    released = np.zeros(n_batches, dtype=np.int64)
    step_claims = np.zeros(n_batches, dtype=np.int64)
    chunk_loss = np.zeros(chunk_states.shape[0], dtype=np.float64)
    for w in prange(n_workers):
        W_snapshot = np.empty((n_layers, width, d, d), dtype=np.float32)
        W_t = np.empty((n_layers, width, d, d), dtype=np.float32)
        c_snapshot = np.empty((n_layers, d), dtype=np.float32)
        table = np.zeros((n_layers, max_pads + 1, d), dtype=np.float32)
        table_y = np.zeros((n_layers, max_pads + 1, d), dtype=np.float32)
        gT = np.zeros((n_layers, max_pads + 1, d), dtype=np.float32)
        for k in range(n_batches):
            first, n_chunks, j = begin_minibatch(k, claimed, released, stats, wait_factor,
                                                 order, chunk_bounds, chunk_starts, indptr)
            done = 0
            if j < n_chunks:
                slot = (k % 2) * n_workers + w
                g = g_theta[slot]
                gW = g[:size_W].reshape((n_layers, width, d, d))
                gc = g[size_W:size_W + n_layers * d].reshape((n_layers, d))
                gE_w = gE[slot]
                gEo_w = gE_w if tied else gEo[slot]
                # sequence.minibatch_rows written out: called here, it made this epoch 4-10%
                # slower (interleaved A/B, 60 rounds, when workers took whole minibatches).
                if hashes is None:
                    E_in = E
                else:
                    E_in = E_items[w]
                    hashed_rows(E, hashes, E_in)
                E_out = E_in if tied else Eo
                # The weights of this minibatch (after the previous step, unless
                # begin_minibatch stopped waiting for it).
                for layer in range(n_layers):
                    for a in range(width):
                        for o in range(d):
                            for i in range(d):
                                value = W[layer, a, o, i]
                                W_snapshot[layer, a, o, i] = value
                                W_t[layer, a, i, o] = value
                    for o in range(d):
                        c_snapshot[layer, o] = c[layer, o]
                # The shared padding prefix, as in sequence_recurrent.recurrent_epoch.
                batch_pads = longest_padding(pads, order[batch_starts[k]:batch_starts[k + 1]])
                cnn_prefix(batch_pads, W_t, c_snapshot, widths, dilations, relu, residual,
                           table, table_y)
                while j < n_chunks:
                    started = monotonic_ns()
                    chunk = order[chunk_bounds[first + j]:chunk_bounds[first + j + 1]]
                    _, loss = cnn_batch(chunk, indptr, items, pads, E_in, E_out, b, W_t,
                                        W_snapshot, c_snapshot, widths, dilations, relu,
                                        residual, reach, table, mode, n_negatives, scales[k],
                                        chunk_states[first + j], gE_w, gEo_w, gb[slot],
                                        gW, gc, gT, touched[slot])
                    chunk_loss[first + j] = loss
                    note_chunk(stats, started, chunk_items(order, chunk_bounds, indptr, first + j))
                    done += 1
                    j = claim(claimed, k)
                cnn_prefix_backward(batch_pads, W_snapshot, widths, dilations, relu, residual,
                                    table, table_y, gT, gW, gc)
            end_minibatch(k, done, chunk_starts, completed, released, step_claims, stats,
                          chunk_loss, batch_loss, steps, theta, g_theta, m_theta, v_theta, E,
                          Eo, b, tied, hashes, E_items, gE, gEo, gb, touched, table_grads,
                          table_touched, mE, vE, mEo, vEo, mb, vb, optimizer, learning_rate,
                          beta1, beta2, epsilon, l2)


@jit.serial
def cnn_state(s_items, pads, E, W_t, c, widths, dilations, relu, residual, reach, table, X, Y,
              out):
    """The representation after the whole sequence (``R[pads + n]``) into ``out``;
    ``X, Y`` are scratch of at least ``pads + n + 1`` positions."""
    n_layers = widths.shape[0]
    T = pads + s_items.shape[0]
    _sequence_forward(s_items, pads, T, E, W_t, c, widths, dilations, relu, residual, reach,
                      table, X, Y)
    for o in range(out.shape[0]):
        out[o] = X[n_layers, T, o]


@jit.parallel
def cnn_states(indptr, items, pads, E, W_t, c, widths, dilations, relu, residual, reach,
               table, max_length, out):
    """``cnn_state`` of every sequence (rows of ``out``, float32[n_sequences, d])."""
    n_layers = widths.shape[0]
    d = E.shape[1]
    n_sequences = indptr.shape[0] - 1
    n_tasks = min(n_sequences, 64)
    for task in prange(n_tasks):
        X = np.zeros((n_layers + 1, max_length + 1, d), dtype=np.float32)
        Y = np.zeros((n_layers, max_length + 1, d), dtype=np.float32)
        for s in range(task * n_sequences // n_tasks, (task + 1) * n_sequences // n_tasks):
            cnn_state(items[indptr[s]:indptr[s + 1]], pads[s], E, W_t, c, widths, dilations,
                      relu, residual, reach, table, X, Y, out[s])
