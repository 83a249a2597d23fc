"""Training kernels of the two LSTM representations: the plain LSTM (Spotlight's
``LSTMNet``: ``m = 0``) and the mixture of tastes (``MixtureLSTMNet``: ``m`` tastes).

They run the same recurrence (``sequence_lstm``) over the same minibatches and differ
only in the head that scores a target from the hidden state ``h``: the plain LSTM scores
``h . e + b`` (``sequence.dot_head``), the mixture first projects ``r = P h + bP`` and
scores ``r`` with ``sequence_mixture.mixture_head``. With ``m = 0`` the projection is
empty (``P`` has no rows), so its snapshot, gradient and fold are loops of no iterations.

``theta`` holds the LSTM weights ``W_ih`` (4d, d), ``W_hh`` (4d, d), ``b_ih`` (4d),
``b_hh`` (4d), then, for the mixture, ``P`` (2md, d) and ``bP`` (2md).
"""

import numpy as np
from numba import prange

from . import _jit as jit
from ._clock import monotonic_ns
from .sequence import dot_head, longest_padding, longest_sequence, minibatch_rows
from .sequence_lstm import (
    fold_gradients,
    lstm_prefix,
    lstm_prefix_backward,
    lstm_sequence_backward,
    lstm_sequence_forward,
    outer_gradients,
    snapshot_lstm,
    transposed_product,
)
from .sequence_mixture import fold_projection, mixture_head, project
from .sequence_sync import begin_minibatch, chunk_items, claim, end_minibatch, note_chunk


@jit.serial
def recurrent_batch(batch, indptr, items, pads, E, Eo, b, W_ih_t, W_hh_t, W_ih, W_hh, bias,
                    P_t, P, bP, m, table_h, table_c, table_tanh, table_gates, mode,
                    n_negatives, scale, state, gE, gEo, gb, gW_ih_t, gW_hh_t, gbias, gP_t, gbP,
                    gT_h, gT_c, touched):
    """Gradient of one minibatch of an LSTM representation, added to one worker's
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
    P_t, P, bP : float32[d, 2md], float32[2md, d], float32[2md]
        The mixture's projection (transposed, as it is, its bias); empty when ``m`` is 0.
    m : int
        Number of tastes; 0 for the plain LSTM.
    table_h, table_c, table_tanh : float32[>= max pads + 1, d]
        ``sequence_lstm.lstm_prefix`` of (at least) the batch's longest padding.
    table_gates : float32[>= max pads + 1, 4d]
        The prefix's gates.
    gW_ih_t, gW_hh_t : float32[d, 4d]
        Gradient buffers of the weights, transposed (``sequence_lstm.outer_gradients``).
    gbias : float32[4d]
        Gradient of ``b_ih`` and of ``b_hh`` alike.
    gP_t, gbP : float32[d, 2md], float32[2md]
        Gradient buffers of the projection (``P``'s transposed).
    gT_h, gT_c : float32[>= max pads + 1, d]
        Gradient reaching the prefix states (for ``sequence_lstm.lstm_prefix_backward``).
    """
    d = E.shape[1]
    width = P.shape[0]
    longest = longest_sequence(batch, indptr, pads)
    H = np.zeros((longest + 1, d), dtype=np.float32)
    C = np.zeros((longest + 1, d), dtype=np.float32)
    TC = np.zeros((longest + 1, d), dtype=np.float32)
    G = np.zeros((longest + 1, 4 * d), dtype=np.float32)
    Z = np.zeros((longest + 1, d), dtype=np.float32)
    dH = np.zeros((longest + 1, d), dtype=np.float32)
    dG = np.zeros((longest + 1, 4 * d), dtype=np.float32)
    dh = np.empty(d, dtype=np.float32)
    dh_prev = np.empty(d, dtype=np.float32)
    dc = np.empty(d, dtype=np.float32)
    dc_prev = np.empty(d, dtype=np.float32)
    # The mixture's head: its state r, the gradient reaching r at every step (kept for
    # the projection's weight gradient), the tastes' weights and the user vector.
    r = np.empty(width, dtype=np.float32)
    dR = np.zeros((longest + 1, width), dtype=np.float32)
    weights = np.empty(m, dtype=np.float64)
    dweights = np.empty(m, dtype=np.float64)
    user = np.empty(d, dtype=np.float64)
    loss = 0.0
    for k in range(batch.shape[0]):
        s = batch[k]
        s_items = items[indptr[s]:indptr[s + 1]]
        p = pads[s]
        T = p + s_items.shape[0]
        lstm_sequence_forward(s_items, p, T - 1, E, W_ih_t, W_hh_t, bias, table_h, table_c,
                              table_tanh, table_gates, Z, H, C, TC, G)
        for u in range(p, T):
            # dH[u] receives the gradient of h[u]; masked steps must add zero (also to
            # the projection's gradient, which sums dR over every step).
            dH[u, :] = 0.0
            dR[u, :] = 0.0
            target = s_items[u - p]
            if target == 0:
                continue
            if m == 0:
                state, value = dot_head(H[u], target, mode, n_negatives, state, Eo, b, scale,
                                        dH[u], gEo, gb, touched)
            else:
                dr = dR[u]
                project(H[u], P_t, bP, r)
                state, value = mixture_head(r, target, mode, n_negatives, state, Eo, b, scale,
                                            m, weights, user, dweights, dr, gEo, gb, touched)
                for c in range(width):
                    gbP[c] += dr[c]
                transposed_product(P, dr, dH[u])
            loss += value
        if m > 0:
            # gP += dr (x) h over the sequence's steps, in one pass.
            outer_gradients(p, T - 1, dR, H, 0, gP_t)
        lstm_sequence_backward(s_items, p, T, W_ih, W_hh, Z, H, C, TC, G, dH, dG, dh,
                               dh_prev, dc, dc_prev, gE, gW_ih_t, gW_hh_t, gbias, gT_h, gT_c,
                               touched)
    return state, loss


@jit.parallel
def recurrent_epoch(order, batch_starts, scales, indptr, items, pads, E, Eo, b, tied, hashes,
                    theta, m, mode, n_negatives, optimizer, learning_rate, beta1, beta2,
                    epsilon, l2, steps, mE, vE, mEo, vEo, mb, vb, m_theta, v_theta, g_theta,
                    chunk_bounds, chunk_starts, chunk_states, wait_factor, stats, E_items,
                    gE, gEo, gb, touched, table_grads, table_touched, batch_loss):
    """One epoch of an LSTM representation in synchronous minibatches
    (``sequence_sync``): ``sequence.pooling_epoch``'s arguments, with the layer weights
    in ``theta`` (float32, the module docstring's layout), ``m`` tastes (0: the plain
    LSTM), their optimiser state ``m_theta, v_theta`` and per-slot gradients
    ``g_theta`` (float32[2 n_workers, len]); the minibatches' chunks ``chunk_bounds``
    (int64[n_chunks + 1], positions in ``order``), ``chunk_starts`` (int64[n_batches +
    1]) and their streams ``chunk_states`` (uint64[n_chunks]); ``wait_factor`` and
    ``stats`` as ``sequence_sync.begin_minibatch``. The gradient buffers have two slots
    per worker (leading axis ``2 n_workers``)."""
    n_workers = gE.shape[0] // 2          # two buffer slots per worker
    n_batches = batch_starts.shape[0] - 1
    d = E.shape[1]
    width = 2 * m * d
    offset = 8 * d * d + 8 * d        # where P starts in theta
    max_pads = pads.max() if pads.shape[0] else 0
    claimed = np.zeros(n_batches, dtype=np.int64)
    completed = np.zeros(n_batches, dtype=np.int64)
    released = np.zeros(n_batches, dtype=np.int64)
    step_claims = np.zeros(n_batches, dtype=np.int64)
    chunk_loss = np.zeros(chunk_states.shape[0], dtype=np.float64)
    for w in prange(n_workers):
        W_ih = np.empty((4 * d, d), dtype=np.float32)
        W_hh = np.empty((4 * d, d), dtype=np.float32)
        W_ih_t = np.empty((d, 4 * d), dtype=np.float32)
        W_hh_t = np.empty((d, 4 * d), dtype=np.float32)
        bias = np.empty(4 * d, dtype=np.float32)
        P = np.empty((width, d), dtype=np.float32)
        P_t = np.empty((d, width), dtype=np.float32)
        bP = np.empty(width, dtype=np.float32)
        table_h = np.zeros((max_pads + 1, d), dtype=np.float32)
        table_c = np.zeros((max_pads + 1, d), dtype=np.float32)
        table_tanh = np.zeros((max_pads + 1, d), dtype=np.float32)
        table_gates = np.zeros((max_pads + 1, 4 * d), dtype=np.float32)
        gT_h = np.zeros((max_pads + 1, d), dtype=np.float32)
        gT_c = np.zeros((max_pads + 1, d), dtype=np.float32)
        gbias = np.zeros(4 * d, dtype=np.float32)
        gW_ih_t = np.zeros((d, 4 * d), dtype=np.float32)
        gW_hh_t = np.zeros((d, 4 * d), dtype=np.float32)
        gP_t = np.zeros((d, width), dtype=np.float32)
        gbP = np.zeros(width, dtype=np.float32)
        for k in range(n_batches):
            first, n_chunks, j = begin_minibatch(k, claimed, released, stats, wait_factor,
                                                 order, chunk_bounds, chunk_starts, indptr)
            done = 0
            if j < n_chunks:
                slot = (k % 2) * n_workers + w
                g = g_theta[slot]
                gE_w = gE[slot]
                gEo_w = gE_w if tied else gEo[slot]
                E_in, E_out = minibatch_rows(E, Eo, tied, hashes, E_items[w])
                # The weights of this minibatch (after the previous step, unless
                # begin_minibatch stopped waiting for it).
                snapshot_lstm(theta, d, W_ih, W_hh, W_ih_t, W_hh_t, bias)
                for c in range(width):
                    for i in range(d):
                        value = theta[offset + c * d + i]
                        P[c, i] = value
                        P_t[i, c] = value
                    bP[c] = theta[offset + width * d + c]
                # Every worker of the minibatch computes the shared padding prefix (its
                # length: the whole minibatch's longest padding) and backpropagates its
                # own chunks' share through it.
                batch_pads = longest_padding(pads, order[batch_starts[k]:batch_starts[k + 1]])
                lstm_prefix(batch_pads, W_ih_t, W_hh_t, bias, table_h, table_c, table_tanh,
                            table_gates)
                while j < n_chunks:
                    started = monotonic_ns()
                    chunk = order[chunk_bounds[first + j]:chunk_bounds[first + j + 1]]
                    _, loss = recurrent_batch(
                        chunk, indptr, items, pads, E_in, E_out, b, W_ih_t, W_hh_t, W_ih,
                        W_hh, bias, P_t, P, bP, m, table_h, table_c, table_tanh, table_gates,
                        mode, n_negatives, scales[k], chunk_states[first + j], gE_w, gEo_w,
                        gb[slot], gW_ih_t, gW_hh_t, gbias, gP_t, gbP, gT_h, gT_c,
                        touched[slot])
                    chunk_loss[first + j] = loss
                    note_chunk(stats, started, chunk_items(order, chunk_bounds, indptr, first + j))
                    done += 1
                    j = claim(claimed, k)
                lstm_prefix_backward(batch_pads, W_hh, table_h, table_c, table_tanh,
                                     table_gates, gT_h, gT_c, gW_hh_t, gbias)
                fold_gradients(gW_ih_t, gW_hh_t, gbias, g)
                fold_projection(gP_t, gbP, offset, g)
            end_minibatch(k, done, chunk_starts, completed, released, step_claims, stats,
                          chunk_loss, batch_loss, steps, theta, g_theta, m_theta, v_theta, E,
                          Eo, b, tied, hashes, E_items, gE, gEo, gb, touched, table_grads,
                          table_touched, mE, vE, mEo, vEo, mb, vb, optimizer, learning_rate,
                          beta1, beta2, epsilon, l2)
