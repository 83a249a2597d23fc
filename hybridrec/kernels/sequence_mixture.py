"""Mixture-of-tastes LSTM representation (Spotlight's ``MixtureLSTMNet``).

The LSTM of ``sequence_lstm`` runs over the sequence; a 1x1 projection maps each hidden
state to ``2 m`` vectors of size ``d``: ``r = P h + bP`` (float32[2 m d]), component
``k`` being ``r[k d:(k + 1) d]``, the first ``m`` the tastes ``t_k`` and the last ``m``
the attention vectors ``a_k``. An item ``j`` with embedding ``e`` is scored

    ``w = softmax_k(a_k . e)``, ``s = (sum_k w_k t_k) . e + b[j]``,

so each item is matched with the tastes that suit it. The projection is computed only
where a target needs it.
"""

import numpy as np
from numba import prange

from . import _jit as jit
from ._atomic import fetch_add
from ._rng import draw_below
from .adam import hashed_rows, step_flat, step_items
from .sequence import is_adaptive, loss_gradient
from .sequence_lstm import (
    add_product,
    fold_gradients,
    lstm_prefix,
    lstm_prefix_backward,
    lstm_sequence_backward,
    lstm_sequence_forward,
    outer_gradients,
    snapshot_lstm,
    transposed_product,
)


@jit.inline
def segment_dot(r, base, Eo, item):
    """Dot product of ``r[base:base + d]`` with ``Eo[item]`` in float64, four products
    at a time summed pairwise (a quarter of the sequential chain of additions of a plain
    loop)."""
    d = Eo.shape[1]
    total = 0.0
    c = 0
    while c + 4 <= d:
        total += ((np.float64(r[base + c] * Eo[item, c])
                   + np.float64(r[base + c + 1] * Eo[item, c + 1]))
                  + (np.float64(r[base + c + 2] * Eo[item, c + 2])
                     + np.float64(r[base + c + 3] * Eo[item, c + 3])))
        c += 4
    while c < d:
        total += np.float64(r[base + c] * Eo[item, c])
        c += 1
    return total


@jit.inline
def mixture_score(r, Eo, b, item, m, weights, user):
    """Score of ``item``; leaves the softmax ``weights`` (float64[m]) and the mixed taste
    ``user`` (float64[d]) of that item."""
    d = Eo.shape[1]
    largest = -np.inf
    for k in range(m):
        logit = segment_dot(r, (m + k) * d, Eo, item)
        weights[k] = logit
        largest = max(largest, logit)
    total = 0.0
    for k in range(m):
        weights[k] = np.exp(weights[k] - largest)
        total += weights[k]
    for k in range(m):
        weights[k] /= total
    for c in range(d):
        user[c] = 0.0
    for k in range(m):
        wk = weights[k]
        base = k * d
        for c in range(d):
            user[c] += wk * r[base + c]
    value = np.float64(b[item])
    for c in range(d):
        value += user[c] * Eo[item, c]
    return value


@jit.inline
def mixture_score_backward(r, Eo, item, g, m, weights, user, dweights, dr, gEo, gb,
                           touched):
    """Add ``g`` times the gradient of ``mixture_score(item)`` (recomputed first) to
    ``dr``, ``gEo[item]``, ``gb[item]``."""
    d = Eo.shape[1]
    gb[item] += np.float32(g)
    touched[item] = 1
    # d s / d t_k = w_k e ; d s / d w_k = t_k . e ; softmax: dl_k = w_k (dw_k - w . dw).
    mean = 0.0
    for k in range(m):
        dweights[k] = g * segment_dot(r, k * d, Eo, item)
        mean += weights[k] * dweights[k]
    for k in range(m):
        dlogit = weights[k] * (dweights[k] - mean)
        taste = k * d
        attention = (m + k) * d
        wg = weights[k] * g
        for c in range(d):
            e = Eo[item, c]
            dr[taste + c] += np.float32(wg * e)
            dr[attention + c] += np.float32(dlogit * e)
            gEo[item, c] += np.float32(dlogit * r[attention + c])
    for c in range(d):
        gEo[item, c] += np.float32(g * user[c])


@jit.inline
def mixture_head(r, positive, mode, n_negatives, state, Eo, b, scale, m, weights, user,
                 dweights, dr, gEo, gb, touched):
    """``dot_head`` (``kernels.sequence``) for the mixture score."""
    n_items = b.shape[0]
    s_pos = mixture_score(r, Eo, b, positive, m, weights, user)
    state, negative = draw_below(state, n_items)
    s_neg = mixture_score(r, Eo, b, negative, m, weights, user)
    if is_adaptive(mode):
        for _ in range(1, n_negatives):
            state, candidate = draw_below(state, n_items)
            value = mixture_score(r, Eo, b, candidate, m, weights, user)
            if value > s_neg:
                s_neg = value
                negative = candidate
    loss, g_pos, g_neg = loss_gradient(mode, s_pos, s_neg)
    if g_pos != 0.0:
        mixture_score(r, Eo, b, positive, m, weights, user)
        mixture_score_backward(r, Eo, positive, g_pos * scale, m, weights, user, dweights,
                               dr, gEo, gb, touched)
    if g_neg != 0.0 and negative != 0:
        mixture_score(r, Eo, b, negative, m, weights, user)
        mixture_score_backward(r, Eo, negative, g_neg * scale, m, weights, user, dweights,
                               dr, gEo, gb, touched)
    return state, loss


@jit.inline
def project(h, P_t, bP, out):
    """``out = P h + bP`` (``P_t`` float32[d, 2 m d] is ``P`` transposed)."""
    for c in range(out.shape[0]):
        out[c] = bP[c]
    add_product(P_t, h, out)


@jit.inline
def fold_projection(gP_t, gbP, offset, g):
    """Write the projection's gradients (``gP_t`` transposed, float32[d, 2md]; ``gbP``)
    into the flat gradient ``g`` at ``offset`` (``P`` (2md, d) then ``bP``) and zero
    them."""
    d = gP_t.shape[0]
    width = gP_t.shape[1]
    for c in range(width):
        for i in range(d):
            g[offset + c * d + i] = gP_t[i, c]
        g[offset + width * d + c] = gbP[c]
    gP_t[:] = 0.0
    gbP[:] = 0.0


@jit.serial
def mixture_batch(batch, indptr, items, pads, E, Eo, b, W_ih_t, W_hh_t, W_ih, W_hh, bias, P_t,
                  P, bP, m, table_h, table_c, table_tanh, table_gates, mode, n_negatives,
                  scale, state, gE, gEo, gb, gW_ih_t, gW_hh_t, gbias, gP_t, gbP, gT_h, gT_c,
                  touched):
    """Gradient of one minibatch of the mixture representation:
    ``sequence_lstm.lstm_batch`` plus the projection ``P_t`` (float32[d, 2md]), ``P``
    (float32[2md, d]), ``bP`` (float32[2md]), ``m`` tastes, and their gradients ``gP_t``
    (transposed, float32[d, 2md], as the LSTM's weight gradients), ``gbP``
    (float32[2md])."""
    d = E.shape[1]
    width = P.shape[0]
    longest = 0
    for k in range(batch.shape[0]):
        s = batch[k]
        longest = max(longest, pads[s] + indptr[s + 1] - indptr[s])
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
            dr = dR[u]
            dr[:] = 0.0
            target = s_items[u - p]
            if target == 0:
                dH[u, :] = 0.0
                continue
            project(H[u], P_t, bP, r)
            state, value = mixture_head(r, target, mode, n_negatives, state, Eo, b, scale, m,
                                        weights, user, dweights, dr, gEo, gb, touched)
            loss += value
            for c in range(width):
                gbP[c] += dr[c]
            transposed_product(P, dr, dH[u])
        # gP += dr (x) h over the sequence's steps, in one pass (masked steps add zero).
        outer_gradients(p, T - 1, dR, H, 0, gP_t)
        lstm_sequence_backward(s_items, p, T, W_ih, W_hh, Z, H, C, TC, G, dH, dG, dh,
                               dh_prev, dc, dc_prev, gE, gW_ih_t, gW_hh_t, gbias, gT_h, gT_c,
                               touched)
    return state, loss


@jit.parallel
def mixture_epoch(order, batch_starts, scales, indptr, items, pads, E, Eo, b, tied, hashes,
                  theta, m, mode, n_negatives, optimizer, learning_rate, beta1, beta2, epsilon,
                  l2, steps, mE, vE, mEo, vEo, mb, vb, m_theta, v_theta, g_theta, rng_states,
                  E_items, gE, gEo, gb, touched, table_grads, table_touched, batch_loss):
    """One epoch of the mixture representation: ``sequence_lstm.lstm_epoch`` with ``theta``
    holding the LSTM weights then ``P`` (2md, d) and ``bP`` (2md); ``m`` tastes."""
    n_workers = gE.shape[0]
    n_batches = rng_states.shape[0]
    d = E.shape[1]
    n = 4 * d * d
    width = 2 * m * d
    offset = 2 * n + 8 * d
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
        g = g_theta[w]
        gW_ih_t = np.zeros((d, 4 * d), dtype=np.float32)
        gW_hh_t = np.zeros((d, 4 * d), dtype=np.float32)
        gP_t = np.zeros((d, width), dtype=np.float32)
        gbP = np.zeros(width, dtype=np.float32)
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
            for c in range(width):
                for i in range(d):
                    value = theta[offset + c * d + i]
                    P[c, i] = value
                    P_t[i, c] = value
                bP[c] = theta[offset + width * d + c]
            batch = order[batch_starts[k]:batch_starts[k + 1]]
            batch_pads = 0
            for j in range(batch.shape[0]):
                batch_pads = max(batch_pads, pads[batch[j]])
            lstm_prefix(batch_pads, W_ih_t, W_hh_t, bias, table_h, table_c, table_tanh,
                        table_gates)
            state, loss = mixture_batch(batch, indptr, items, pads, E_in, E_out, b, W_ih_t,
                                        W_hh_t, W_ih, W_hh, bias, P_t, P, bP, m, table_h,
                                        table_c, table_tanh, table_gates, mode, n_negatives,
                                        scales[k], rng_states[k], gE_w, gEo_w, gb[w], gW_ih_t,
                                        gW_hh_t, gbias, gP_t, gbP, gT_h, gT_c, touched[w])
            lstm_prefix_backward(batch_pads, W_hh, table_h, table_c, table_tanh, table_gates,
                                 gT_h, gT_c, gW_hh_t, gbias)
            fold_gradients(gW_ih_t, gW_hh_t, gbias, g)
            fold_projection(gP_t, gbP, offset, g)
            rng_states[k] = state
            batch_loss[k] = loss
            t = fetch_add(steps, 1) + 1
            step_flat(theta, g, m_theta, v_theta, optimizer, learning_rate, beta1, beta2,
                      epsilon, l2, t)
            step_items(E, Eo, b, tied, hashes, E_in, gE_w, gEo_w, gb[w], touched[w],
                       table_grads[w], table_touched[w], mE, vE, mEo, vEo, mb, vb, optimizer,
                       learning_rate, beta1, beta2, epsilon, l2, t)
            k = fetch_add(next_batch, 1)
