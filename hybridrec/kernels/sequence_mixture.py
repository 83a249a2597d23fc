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

from . import _jit as jit
from ._rng import draw_below
from .sequence import is_adaptive, loss_gradient
from .sequence_lstm import add_product


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
