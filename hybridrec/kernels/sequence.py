"""Sequence models, shared parts and the pooling representation (Spotlight's ``PoolNet``).

Conventions of every sequence kernel (``sequence_cnn``, ``sequence_lstm``,
``sequence_mixture`` follow them too):

* Item id 0 is the padding item: its embedding row and bias are zero and never receive
  a gradient. A sequence ``s`` is stored as ``pads[s]`` leading padding positions (not
  stored) followed by ``items[indptr[s]:indptr[s + 1]]`` (interior zeros allowed); its
  padded length is ``T = pads[s] + n``. The representation ``R[u]`` (``u = 0..T``) is
  computed from the items before padded position ``u`` and scores the target ``x[u]``;
  targets that are 0 are masked, as Spotlight masks ``sequence == PADDING_IDX``.
* A training call is one epoch: one parallel launch of ``prange(n_workers)`` workers.
  In the pooling epoch here the workers take whole minibatches (``batch_size``
  sequences of the per-epoch shuffle) from an atomic counter, compute a minibatch's
  gradient with the parameters they read (the loss is the mean over the minibatch's
  unmasked targets, as Spotlight's masked losses, or their sum) into their own buffers,
  and apply the optimiser step themselves (``kernels.adam``) to the shared parameters,
  without locks (Hogwild): with several threads a minibatch may be computed from
  parameters one step old; with one thread this is exactly Spotlight's sequential
  minibatch training. Minibatch ``k`` draws its negatives from ``rng_states[k]``, so they
  never depend on the thread that ran it. The epochs with layer weights (CNN, LSTM,
  mixture) share each minibatch between the workers instead (``sequence_sync``).
* Negatives are drawn uniformly from ``[0, n_items)`` (the padding item and the target
  itself included), one per target, or ``n_negatives`` for the adaptive losses, and
  only for unmasked targets.
"""

import numpy as np
from numba import prange

from . import _jit as jit
from ._atomic import fetch_add
from ._rng import draw_below
from .adam import hashed_rows, step_worker
from .representation import dot_row

#: ``mode`` values: Spotlight's losses (``spotlight.losses``) and hybridrec's log-BPR.
POINTWISE = 0          # (1 - sigmoid(s+)) + sigmoid(s-)
BPR = 1                # 1 - sigmoid(s+ - s-)
HINGE = 2              # max(0, 1 - s+ + s-)
ADAPTIVE_HINGE = 3     # hinge against the highest-scoring of n_negatives
ADAPTIVE_BPR = 4       # -log sigmoid(s+ - s-) against the highest-scoring of n_negatives


@jit.serial
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@jit.serial
def is_adaptive(mode):
    """Whether ``mode`` draws ``n_negatives`` per target (else one)."""
    return mode == ADAPTIVE_HINGE or mode == ADAPTIVE_BPR


@jit.serial
def loss_gradient(mode, s_pos, s_neg):
    """``(loss, dloss/ds_pos, dloss/ds_neg)`` of one target against one (the chosen)
    negative, in float64."""
    if mode == POINTWISE:
        p = _sigmoid(s_pos)
        n = _sigmoid(s_neg)
        return (1.0 - p) + n, -p * (1.0 - p), n * (1.0 - n)
    x = s_pos - s_neg
    if mode == BPR:
        p = _sigmoid(x)
        g = p * (1.0 - p)
        return 1.0 - p, -g, g
    if mode == ADAPTIVE_BPR:
        # -log sigmoid(x) = log(1 + exp(-x)), computed without overflow.
        if x > 0.0:
            loss = np.log1p(np.exp(-x))
        else:
            loss = -x + np.log1p(np.exp(x))
        g = _sigmoid(-x)
        return loss, -g, g
    margin = 1.0 - x
    if margin > 0.0:
        return margin, -1.0, 1.0
    return 0.0, 0.0, 0.0


@jit.inline
def draw_negative(state, mode, n_negatives, n_items, r, Eo, b):
    """Draw the negative(s) of one target; returns ``(state, negative, its score)`` (the
    highest-scoring draw, first on ties, for the adaptive losses)."""
    state, negative = draw_below(state, n_items)
    best = dot_row(r, Eo, negative) + np.float64(b[negative])
    if is_adaptive(mode):
        for _ in range(1, n_negatives):
            state, candidate = draw_below(state, n_items)
            value = dot_row(r, Eo, candidate) + np.float64(b[candidate])
            if value > best:
                best = value
                negative = candidate
    return state, negative, best


@jit.inline
def dot_head(r, positive, mode, n_negatives, state, Eo, b, scale, dr, gEo, gb, touched):
    """Score ``positive`` and its negative(s) by ``r @ Eo[j] + b[j]``, and add the
    scaled loss gradient to ``dr`` (float32[d]), ``gEo[j]`` and ``gb[j]``.

    Returns ``(state, unscaled loss)``.
    """
    d = r.shape[0]
    n_items = b.shape[0]
    s_pos = dot_row(r, Eo, positive) + np.float64(b[positive])
    state, negative, s_neg = draw_negative(state, mode, n_negatives, n_items, r, Eo, b)
    loss, g_pos, g_neg = loss_gradient(mode, s_pos, s_neg)
    gp = np.float32(g_pos * scale)
    gn = np.float32(g_neg * scale)
    if gp != 0.0:
        for c in range(d):
            dr[c] += gp * Eo[positive, c]
            gEo[positive, c] += gp * r[c]
        gb[positive] += gp
        touched[positive] = 1
    if gn != 0.0 and negative != 0:
        for c in range(d):
            dr[c] += gn * Eo[negative, c]
            gEo[negative, c] += gn * r[c]
        gb[negative] += gn
        touched[negative] = 1
    return state, loss


@jit.serial
def pooling_batch(batch, indptr, items, E, Eo, b, window, shrink, mode, n_negatives, scale,
                  state, gE, gEo, gb, touched):
    """Gradient of one minibatch of the pooling representation, added to one worker's
    buffers; returns ``(state, summed unscaled loss)``.

    ``R[u] = sum(E[x_j] for j in the window before u) / (count of non-padding x_j +
    shrink)`` (0 where the divisor is 0); ``window = 0`` pools every preceding item
    (Spotlight's cumulative mean, ``shrink = 1``), ``window = w`` the ``w`` most recent.
    Leading padding does not change the pooled sums, so the pads are not needed here.

    Parameters
    ----------
    batch : int32[B]
        Sequence ids of the minibatch.
    indptr : int64[n_sequences + 1]
    items : int32[nnz]
        The sequences' items after their leading padding (0 = padding item).
    E, Eo : float32[n_items, d]
        Input and output item embeddings (the same array when tied).
    b : float32[n_items]
    window : int
    shrink : float
    mode, n_negatives : int
        Loss (``POINTWISE`` ...) and draws per target for the adaptive losses.
    scale : float
        Factor of every target's loss gradient (1 / targets for the mean).
    state : uint64
        The minibatch's random stream.
    gE, gEo : float32[n_items, d]
        The worker's gradient buffers (the same array when tied); gb : float32[n_items].
    touched : uint8[n_items]
    """
    d = E.shape[1]
    longest = 0
    for k in range(batch.shape[0]):
        longest = max(longest, indptr[batch[k] + 1] - indptr[batch[k]])
    pooled = np.empty(d, dtype=np.float32)
    dr = np.empty(d, dtype=np.float32)
    sums = np.empty(d, dtype=np.float64)
    acc = np.empty(d, dtype=np.float64)
    step = np.empty((longest + 1, d), dtype=np.float64)
    loss = 0.0
    for k in range(batch.shape[0]):
        s = batch[k]
        start = indptr[s]
        n = indptr[s + 1] - start
        sums[:] = 0.0
        count = 0
        for q in range(n):
            target = items[start + q]
            denominator = count + shrink
            for c in range(d):
                step[q, c] = 0.0
            if target != 0:
                inverse = 1.0 / denominator if denominator > 0.0 else 0.0
                for c in range(d):
                    pooled[c] = np.float32(sums[c] * inverse)
                    dr[c] = 0.0
                state, value = dot_head(pooled, target, mode, n_negatives, state, Eo, b,
                                        scale, dr, gEo, gb, touched)
                loss += value
                for c in range(d):
                    step[q, c] = dr[c] * inverse
                count += 1
                for c in range(d):
                    sums[c] += E[target, c]
            if window > 0 and q - window >= 0:
                leaving = items[start + q - window]
                if leaving != 0:
                    count -= 1
                    for c in range(d):
                        sums[c] -= E[leaving, c]
        # dE[x_j] = sum of step[q] over the representations q that pool x_j.
        acc[:] = 0.0
        for j in range(n - 1, -1, -1):
            if j + 1 < n:
                for c in range(d):
                    acc[c] += step[j + 1, c]
            if window > 0 and j + 1 + window < n:
                for c in range(d):
                    acc[c] -= step[j + 1 + window, c]
            item = items[start + j]
            if item != 0:
                for c in range(d):
                    gE[item, c] += np.float32(acc[c])
                touched[item] = 1
    return state, loss


@jit.parallel
def pooling_epoch(order, batch_starts, scales, indptr, items, E, Eo, b, tied, hashes, window,
                  shrink, mode, n_negatives, optimizer, learning_rate, beta1, beta2, epsilon,
                  l2, steps, mE, vE, mEo, vEo, mb, vb, rng_states, E_items, gE, gEo, gb,
                  touched, table_grads, table_touched, batch_loss):
    """One epoch of the pooling representation (conventions in the module docstring).

    Parameters
    ----------
    order : int32[n]
        Shuffled sequence ids; minibatch ``k`` is ``order[batch_starts[k]:batch_starts[k +
        1]]`` (int64[n_batches + 1]), its gradient scaled by ``scales[k]``.
    indptr, items : the sequences (``pooling_batch``).
    E : float32[n_rows, d]
        Item embeddings, or the hashed table when ``hashes`` (int32[n_items, n_hashes])
        is not None (Bloom); ``Eo`` the output embeddings when not ``tied``; ``b``
        float32[n_items].
    window, shrink, mode, n_negatives : as ``pooling_batch``.
    optimizer, learning_rate, beta1, beta2, epsilon, l2 : ``kernels.adam``.
    steps : int64[1]
        Optimiser steps so far (Adam's bias correction); incremented per minibatch.
    mE, vE, mEo, vEo, mb, vb : optimiser state of ``E``, ``Eo``, ``b``.
    rng_states : uint64[n_batches]
        One stream per minibatch.
    E_items : float32[n_workers, n_items, d]
        Bloom only: each worker's effective item rows (else unused, may be empty).
    gE, gEo : float32[n_workers, n_items, d]; gb : float32[n_workers, n_items];
    touched : uint8[n_workers, n_items]
        Per-worker gradient buffers (zero on entry and exit).
    table_grads : float32[n_workers, n_rows, d]; table_touched : uint8[n_workers, n_rows]
        Bloom only.
    batch_loss : float64[n_batches]
        Receives each minibatch's summed unscaled loss.
    """
    n_workers = gE.shape[0]
    n_batches = rng_states.shape[0]
    next_batch = np.zeros(1, dtype=np.int64)
    for w in prange(n_workers):
        gE_w = gE[w]
        gEo_w = gE_w if tied else gEo[w]
        k = fetch_add(next_batch, 1)
        while k < n_batches:
            E_in, E_out = minibatch_rows(E, Eo, tied, hashes, E_items[w])
            batch = order[batch_starts[k]:batch_starts[k + 1]]
            state, loss = pooling_batch(batch, indptr, items, E_in, E_out, b, window, shrink,
                                        mode, n_negatives, scales[k], rng_states[k], gE_w,
                                        gEo_w, gb[w], touched[w])
            rng_states[k] = state
            batch_loss[k] = loss
            step_worker(steps, None, None, None, None, E, Eo, b, tied, hashes, E_in, gE_w,
                        gEo_w, gb[w], touched[w], table_grads[w], table_touched[w], mE, vE,
                        mEo, vEo, mb, vb, optimizer, learning_rate, beta1, beta2, epsilon, l2)
            k = fetch_add(next_batch, 1)


@jit.inline
def minibatch_rows(E, Eo, tied, hashes, E_items):
    """The input and output item rows a minibatch reads: ``E`` itself, or with Bloom
    (``hashes`` not None) the sums of its hashed rows, computed into the worker's
    ``E_items`` (float32[n_items, d]); the output rows are the input ones when ``tied``,
    else ``Eo``."""
    if hashes is None:
        E_in = E
    else:
        E_in = E_items
        hashed_rows(E, hashes, E_in)
    E_out = E_in if tied else Eo
    return E_in, E_out


@jit.inline
def longest_padding(pads, sequences):
    """The largest ``pads[s]`` of the ``sequences`` (0 when there are none)."""
    longest = 0
    for j in range(sequences.shape[0]):
        longest = max(longest, pads[sequences[j]])
    return longest


@jit.inline
def longest_sequence(batch, indptr, pads):
    """The largest padded length ``pads[s] + n`` of the sequences ``s`` in ``batch``."""
    longest = 0
    for k in range(batch.shape[0]):
        s = batch[k]
        longest = max(longest, pads[s] + indptr[s + 1] - indptr[s])
    return longest


@jit.serial
def pooling_state(items, E, window, shrink, out):
    """The representation after the whole sequence ``items`` (float32[d] into ``out``)."""
    d = E.shape[1]
    n = items.shape[0]
    first = 0 if window == 0 else max(0, n - window)
    count = 0
    for c in range(d):
        out[c] = 0.0
    sums = np.zeros(d, dtype=np.float64)
    for q in range(first, n):
        item = items[q]
        if item != 0:
            count += 1
            for c in range(d):
                sums[c] += E[item, c]
    denominator = count + shrink
    if denominator > 0.0:
        for c in range(d):
            out[c] = np.float32(sums[c] / denominator)


@jit.parallel
def pooling_states(indptr, items, E, window, shrink, out):
    """``pooling_state`` of every sequence (rows of ``out``, float32[n_sequences, d])."""
    for s in prange(indptr.shape[0] - 1):
        pooling_state(items[indptr[s]:indptr[s + 1]], E, window, shrink, out[s])
