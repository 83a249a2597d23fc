"""One Hogwild epoch kernel per loss family: logistic, BPR, WARP, WARP-kOS and the
explicit-feedback losses (regression, Poisson) and Spotlight's sampled losses.

All share one argument layout (documented on ``fit_logistic``) and the same shape:
``order`` is cut into ``n_blocks = rng_states.shape[0]`` contiguous blocks, block ``b``
covering ``order[b * n // n_blocks:(b + 1) * n // n_blocks]`` with its own RNG stream
``rng_states[b]``. Workers, each with its own scratch buffers, take the next block from a
shared atomic counter until none is left, and write model parameters without locks (the
deliberate Hogwild race). prange runs ``n_blocks`` workers (numba's thread count cannot
be read in cached code): each thread has one running and the rest find the counter
exhausted. This is dynamic scheduling: a thread slowed by other processes takes fewer
blocks instead of holding up the call, as with prange's static split. What a block
computes depends only on its index and the parameters it reads, so one thread (blocks
in index order) is bit-for-bit reproducible, and the random streams do not depend on
the thread count. Examples with zero sample weight are skipped entirely, so they change
neither parameters nor accumulators.

Frozen rows: ``user_trainable`` / ``item_trainable`` (uint8, one entry per feature row)
say which rows may change; a row whose entry is 0 is read (it scores, it is drawn as a
negative, it enters the other side's gradients) but never stepped, so its parameters and
accumulators stay bit-identical. An empty array (shape (0,)) means every row trains; it is
tested at run time rather than compiled as a ``None`` specialisation, which would double
the compiled variants of every kernel. A kernel given masks does not use the fused
identity steps. The L2 bookkeeping counts only the steps taken (see
``updates.update_row``), so an example that steps no trainable row adds no decay.

L2 regularisation is not applied here: each example adds ``log(1 + alpha * lr_avg)`` for
the user and item side to ``reg_log_decay[block]`` (``lr_avg`` being the mean learning
rate of the parameters it stepped, as in LightFM), and the caller multiplies all
parameters of the trainable rows by ``exp(-sum)`` after each chunk of examples
(``updates.decay_parameters``).
"""

import numpy as np
from numba import prange

from . import _jit as jit
from ._atomic import fetch_add
from ._rng import draw_below
from .representation import (
    compute_representation,
    dot,
    dot_inline,
    dot_row,
    is_positive,
    prefetch_csr_row,
    prefetch_features,
    prefetch_indptr,
    prefetch_read_1d,
    prefetch_row,
)
from .scoring import insert_top
from .updates import adagrad_pairwise_identity, adagrad_pointwise_identity, update_row

#: How many examples ahead to prefetch the parameter rows (identity features), or the
#: CSR rows' indices and data (the feature rows follow one example ahead).
_AHEAD = 2
#: How many examples ahead to prefetch the ``indptr`` entries of CSR feature rows.
_AHEAD_CSR = 4
#: How many examples ahead to prefetch the example's own entries (ids, value, weight):
#: ``order`` is shuffled, so these are random reads too, and the row prefetch ``_AHEAD``
#: examples ahead needs the ids before it can issue.
_AHEAD_IDS = 8


@jit.serial
def _sigmoid(x):
    # exp overflows to inf for x < -709, giving exactly 0.0, which is the right limit.
    return 1.0 / (1.0 + np.exp(-x))


@jit.serial
def _record_decay(decay, lr_sum, n_features, d, user_alpha, item_alpha, lr_lanes):
    """Add one example's L2 log-decay to the worker's ``decay`` (float64[2]); ``lr_sum``
    holds the bias rates, ``lr_lanes`` the embedding rates of the example's steps (reduced
    and reset here)."""
    if n_features > 0 and (user_alpha > 0.0 or item_alpha > 0.0):
        for c in range(lr_lanes.shape[0]):
            lr_sum += lr_lanes[c]
            lr_lanes[c] = 0.0
        lr_avg = lr_sum / ((d + 1) * n_features)
        decay[0] += np.log1p(user_alpha * lr_avg)
        decay[1] += np.log1p(item_alpha * lr_avg)


@jit.serial
def _flush_decay(reg_log_decay, block, decay):
    """Move a finished block's log-decay into its row of ``reg_log_decay``. It is kept in
    a worker-local array during the block: adjacent rows share a cache line, and blocks
    next to each other run at the same time on different threads."""
    reg_log_decay[block, 0] += decay[0]
    reg_log_decay[block, 1] += decay[1]
    decay[0] = 0.0
    decay[1] = 0.0


@jit.inline
def _item_score(user_repr, item_indptr, item_indices, item_data, item, item_embeddings,
                item_biases, scratch):
    """``dot(user_repr, repr(item)) + bias(item)``; ``scratch`` receives ``repr(item)`` unless
    the item features are the identity, where the row is read in place (no copy)."""
    if item_indptr is None:
        return dot_row(user_repr, item_embeddings, item) + np.float64(item_biases[item])
    bias = compute_representation(item_indptr, item_indices, item_data, item,
                                  item_embeddings, item_biases, scratch)
    return dot_inline(user_repr, scratch) + bias


@jit.inline
def _pair_difference(item_indptr, item_embeddings, positive, negative, positive_repr,
                     negative_repr, difference):
    """``difference = repr(negative) - repr(positive)`` before either row is stepped: read
    from the rows for identity item features, else from the representations computed
    while scoring (``_item_score``)."""
    d = difference.shape[0]
    if item_indptr is None:
        for c in range(d):
            difference[c] = item_embeddings[negative, c] - item_embeddings[positive, c]
    else:
        for c in range(d):
            difference[c] = negative_repr[c] - positive_repr[c]


@jit.serial
def _prefetch_ids(i, user_ids, item_ids, values, weights):
    prefetch_read_1d(user_ids, i)
    prefetch_read_1d(item_ids, i)
    prefetch_read_1d(values, i)
    prefetch_read_1d(weights, i)


@jit.inline
def _prefetch_examples(k, stop, order, user_ids, item_ids, values, weights,
                       user_indptr, user_indices, user_data, item_indptr, item_indices,
                       item_data, user_embeddings, user_embedding_accum, user_biases,
                       user_bias_accum, item_embeddings, item_embedding_accum, item_biases,
                       item_bias_accum):
    """Prefetch what the examples after ``k`` (positions in ``order``, block ending at
    ``stop``) will read and update: their ids ``_AHEAD_IDS`` ahead; for identity sides
    the parameter and accumulator rows ``_AHEAD`` ahead; for CSR sides the three stages
    of ``representation.prefetch_indptr`` at ``_AHEAD_CSR``, ``_AHEAD`` and 1 ahead."""
    if k + _AHEAD_IDS < stop:
        _prefetch_ids(order[k + _AHEAD_IDS], user_ids, item_ids, values, weights)
    if k + _AHEAD_CSR < stop:
        i = order[k + _AHEAD_CSR]
        prefetch_indptr(user_indptr, user_ids[i])
        prefetch_indptr(item_indptr, item_ids[i])
    if k + _AHEAD < stop:
        i = order[k + _AHEAD]
        user = user_ids[i]
        item = item_ids[i]
        prefetch_row(user_indptr, user, user_embeddings, user_biases, True)
        prefetch_row(user_indptr, user, user_embedding_accum, user_bias_accum, True)
        prefetch_row(item_indptr, item, item_embeddings, item_biases, True)
        prefetch_row(item_indptr, item, item_embedding_accum, item_bias_accum, True)
        prefetch_csr_row(user_indptr, user_indices, user_data, user)
        prefetch_csr_row(item_indptr, item_indices, item_data, item)
    if k + 1 < stop:
        i = order[k + 1]
        if user_indptr is not None:
            user = user_ids[i]
            prefetch_features(user_indptr, user_indices, user, user_embeddings, user_biases,
                              True)
            prefetch_features(user_indptr, user_indices, user, user_embedding_accum,
                              user_bias_accum, True)
        if item_indptr is not None:
            item = item_ids[i]
            prefetch_features(item_indptr, item_indices, item, item_embeddings, item_biases,
                              True)
            prefetch_features(item_indptr, item_indices, item, item_embedding_accum,
                              item_bias_accum, True)


@jit.inline
def _prefetch_item(item, item_indptr, item_indices, item_embeddings, item_embedding_accum,
                   item_biases, item_bias_accum):
    """Prefetch an item's parameter and accumulator rows for writing (for CSR features
    those of its features; reads the item's CSR row, so call it when that is cached)."""
    prefetch_features(item_indptr, item_indices, item, item_embeddings, item_biases, True)
    prefetch_features(item_indptr, item_indices, item, item_embedding_accum, item_bias_accum,
                      True)


@jit.parallel
def fit_logistic(user_ids, item_ids, values, weights, order,
                 user_indptr, user_indices, user_data,
                 item_indptr, item_indices, item_data,
                 user_embeddings, user_embedding_accum, user_embedding_momentum,
                 user_biases, user_bias_accum, user_bias_momentum,
                 item_embeddings, item_embedding_accum, item_embedding_momentum,
                 item_biases, item_bias_accum, item_bias_momentum,
                 user_trainable, item_trainable,
                 learning_rate, rho, epsilon, adadelta, user_alpha, item_alpha,
                 rng_states, reg_log_decay):
    """One pass of logistic loss over ``order``: label 1 if value > 0, else 0.

    Parameters
    ----------
    user_ids, item_ids : int32[nnz]
        Interaction coordinates.
    values, weights : float32[nnz]
        Interaction values and sample weights.
    order : int64[m]
        Positions into the interactions to visit, in order (a shuffled chunk).
    user_indptr, user_indices, user_data
        User feature CSR (int64 indptr, int32 indices, float32), or three ``None`` for the identity
        (a compile-time specialisation: no CSR indirection); same for items.
    user_embeddings ... item_bias_momentum : float32 arrays
        Model parameters and accumulators, updated in place.
    user_trainable, item_trainable : uint8[n_features] or uint8[0]
        Per feature row, nonzero if the row may change (see the module docstring); empty:
        every row trains.
    learning_rate, rho, epsilon : float
    adadelta : bool
    user_alpha, item_alpha : float
        L2 strengths; only used to accumulate ``reg_log_decay``.
    rng_states : uint64[n_blocks]
        One RNG state per block; its length sets the number of blocks, the unit of work
        taken by the threads (the states are unused by this loss). Every other kernel
        writes each block's final state back.
    reg_log_decay : float64[n_blocks, 2]
        Accumulates (user, item) log-decay per block.
    """
    d = item_embeddings.shape[1]
    n = order.shape[0]
    n_blocks = rng_states.shape[0]
    # Identity features, adagrad and no frozen rows: one fused pass over the rows (the
    # common case; the fused steps know no masks).
    fused = (user_indptr is None and item_indptr is None and not adadelta
             and user_trainable.shape[0] == 0 and item_trainable.shape[0] == 0)
    next_task = np.zeros(1, dtype=np.int64)
    for _worker in prange(n_blocks):  # surplus workers find the counter exhausted
        user_repr = np.empty(d, dtype=np.float32)
        lr_lanes = np.zeros(d, dtype=np.float32)
        item_repr = np.empty(d, dtype=np.float32)
        decay = np.zeros(2, dtype=np.float64)
        block = fetch_add(next_task, 1)
        while block < n_blocks:
            stop = ((block + 1) * n) // n_blocks
            for k in range((block * n) // n_blocks, stop):
                _prefetch_examples(k, stop, order, user_ids, item_ids, values, weights,
                                   user_indptr, user_indices, user_data, item_indptr,
                                   item_indices, item_data, user_embeddings,
                                   user_embedding_accum, user_biases, user_bias_accum,
                                   item_embeddings, item_embedding_accum, item_biases,
                                   item_bias_accum)
                i = order[k]
                weight = weights[i]
                if weight == 0.0:
                    continue
                user = user_ids[i]
                item = item_ids[i]
                user_bias = compute_representation(user_indptr, user_indices, user_data,
                                                   user, user_embeddings,
                                                   user_biases, user_repr)
                item_bias = compute_representation(item_indptr, item_indices, item_data,
                                                   item, item_embeddings,
                                                   item_biases, item_repr)
                score = dot(user_repr, item_repr) + user_bias + item_bias
                label = 1.0 if values[i] > 0.0 else 0.0
                g = weight * (_sigmoid(score) - label)
                if fused:
                    lr_bias = adagrad_pointwise_identity(user, item, g, user_embeddings,
                                               user_embedding_accum, user_biases, user_bias_accum,
                                               item_embeddings, item_embedding_accum, item_biases,
                                               item_bias_accum, learning_rate, lr_lanes)
                    _record_decay(decay, lr_bias, 2, d, user_alpha, item_alpha,
                                  lr_lanes)
                    continue
                lr_i, n_i = update_row(item_indptr, item_indices, item_data, item,
                                       user_repr, g, g, item_embeddings, item_embedding_accum,
                                       item_embedding_momentum, item_biases, item_bias_accum,
                                       item_bias_momentum, item_trainable, learning_rate, rho,
                                       epsilon, adadelta, lr_lanes)
                lr_u, n_u = update_row(user_indptr, user_indices, user_data, user,
                                       item_repr, g, g, user_embeddings, user_embedding_accum,
                                       user_embedding_momentum, user_biases, user_bias_accum,
                                       user_bias_momentum, user_trainable, learning_rate, rho,
                                       epsilon, adadelta, lr_lanes)
                _record_decay(decay, lr_i + lr_u, n_i + n_u, d,
                              user_alpha, item_alpha, lr_lanes)
            _flush_decay(reg_log_decay, block, decay)
            block = fetch_add(next_task, 1)


@jit.parallel
def fit_bpr(user_ids, item_ids, values, weights, order,
            user_indptr, user_indices, user_data,
            item_indptr, item_indices, item_data,
            user_embeddings, user_embedding_accum, user_embedding_momentum,
            user_biases, user_bias_accum, user_bias_momentum,
            item_embeddings, item_embedding_accum, item_embedding_momentum,
            item_biases, item_bias_accum, item_bias_momentum,
            user_trainable, item_trainable,
            learning_rate, rho, epsilon, adadelta, user_alpha, item_alpha,
            rng_states, reg_log_decay,
            positives_indptr, positives_indices, positives_bits, negative_pool, max_redraws):
    """One pass of BPR over the positive (value > 0) examples of ``order``.

    Parameters not listed here are as in ``fit_logistic``.

    Parameters
    ----------
    positives_indptr, positives_indices : int64, int32
        CSR of the items never used as a user's negative, sorted within rows (the model
        passes every stored entry of the user, as LightFM does).
    positives_bits : uint64[n_users, ceil(n_items / 64)] or uint64[0, 0]
        The same items as a bit table (``epoch_inputs.positives_bitset``), for the
        "is this draw a positive?" test; an empty table (large catalogues) falls back to
        a binary search of the CSR row.
    negative_pool : int32[p]
        Item ids of the interactions (``p`` may pass 2**31: ``draw_below`` draws 64 bits
        for such a pool) (the model passes those of every stored entry):
        drawing uniformly from it samples negatives from the empirical item
        distribution, as LightFM does.
    max_redraws : int
        Redraws allowed while the sampled item is a positive of the user.
    """
    d = item_embeddings.shape[1]
    n = order.shape[0]
    n_blocks = rng_states.shape[0]
    # Identity features, adagrad and no frozen rows: one fused pass over the rows (the
    # common case; the fused steps know no masks).
    fused = (user_indptr is None and item_indptr is None and not adadelta
             and user_trainable.shape[0] == 0 and item_trainable.shape[0] == 0)
    pool_size = negative_pool.shape[0]
    next_task = np.zeros(1, dtype=np.int64)
    for _worker in prange(n_blocks):  # surplus workers find the counter exhausted
        user_repr = np.empty(d, dtype=np.float32)
        lr_lanes = np.zeros(d, dtype=np.float32)
        positive_repr = np.empty(d, dtype=np.float32)
        negative_repr = np.empty(d, dtype=np.float32)
        difference = np.empty(d, dtype=np.float32)
        decay = np.zeros(2, dtype=np.float64)
        block = fetch_add(next_task, 1)
        while block < n_blocks:
            state = rng_states[block]
            stop = ((block + 1) * n) // n_blocks
            for k in range((block * n) // n_blocks, stop):
                _prefetch_examples(k, stop, order, user_ids, item_ids, values, weights,
                                   user_indptr, user_indices, user_data, item_indptr,
                                   item_indices, item_data, user_embeddings,
                                   user_embedding_accum, user_biases, user_bias_accum,
                                   item_embeddings, item_embedding_accum, item_biases,
                                   item_bias_accum)
                i = order[k]
                weight = weights[i]
                if weight == 0.0 or not values[i] > 0.0:
                    continue
                user = user_ids[i]
                positive = item_ids[i]
                row_start = positives_indptr[user]
                row_stop = positives_indptr[user + 1]
                negative = positive
                for _ in range(max_redraws):
                    state, r = draw_below(state, pool_size)
                    negative = negative_pool[r]
                    if not is_positive(positives_bits, positives_indices, row_start, row_stop,
                                       user, negative):
                        break
                # Peek at the stream (a copy of the state: the draws themselves are unchanged):
                # the next draw is usually the next example's negative, so start loading its
                # rows, and the pool entry of the draw after it (both are random accesses).
                peek, r = draw_below(state, pool_size)
                if item_indptr is None:
                    _prefetch_item(negative_pool[r], item_indptr, item_indices, item_embeddings,
                                   item_embedding_accum, item_biases, item_bias_accum)
                else:  # its CSR row is not cached yet: the first stage only
                    prefetch_indptr(item_indptr, negative_pool[r])
                peek, r = draw_below(peek, pool_size)
                prefetch_read_1d(negative_pool, r)
                compute_representation(user_indptr, user_indices, user_data, user,
                                       user_embeddings, user_biases, user_repr)
                positive_score = _item_score(user_repr, item_indptr, item_indices, item_data,
                                             positive, item_embeddings, item_biases,
                                             positive_repr)
                negative_score = _item_score(user_repr, item_indptr, item_indices, item_data,
                                             negative, item_embeddings, item_biases,
                                             negative_repr)
                difference_score = positive_score - negative_score
                g = weight * (1.0 - _sigmoid(difference_score))
                # LightFM's warp_update: push positive up and negative down for user (g >= 0
                # weighs the violated pair; all gradients use the pre-step representations;
                # the user bias gets +g as in LightFM, it cancels in every comparison).
                # Written out in each kernel: an out-of-line helper taking ~30 arrays costs
                # more in argument passing than the update itself.
                if fused:
                    lr_bias = adagrad_pairwise_identity(user, positive, negative, g,
                                                        user_embeddings,
                                              user_embedding_accum, user_biases,
                                              user_bias_accum, item_embeddings,
                                              item_embedding_accum, item_biases,
                                              item_bias_accum, learning_rate, lr_lanes)
                    _record_decay(decay, lr_bias, 3, d, user_alpha, item_alpha,
                                  lr_lanes)
                    continue
                _pair_difference(item_indptr, item_embeddings, positive, negative, positive_repr,
                                 negative_repr, difference)
                lr_p, n_p = update_row(item_indptr, item_indices, item_data, positive,
                                       user_repr, -g, -g, item_embeddings, item_embedding_accum,
                                       item_embedding_momentum, item_biases, item_bias_accum,
                                       item_bias_momentum, item_trainable, learning_rate, rho,
                                       epsilon, adadelta, lr_lanes)
                lr_n, n_n = update_row(item_indptr, item_indices, item_data, negative,
                                       user_repr, g, g, item_embeddings, item_embedding_accum,
                                       item_embedding_momentum, item_biases, item_bias_accum,
                                       item_bias_momentum, item_trainable, learning_rate, rho,
                                       epsilon, adadelta, lr_lanes)
                lr_u, n_u = update_row(user_indptr, user_indices, user_data, user,
                                       difference, g, g, user_embeddings, user_embedding_accum,
                                       user_embedding_momentum, user_biases, user_bias_accum,
                                       user_bias_momentum, user_trainable, learning_rate, rho,
                                       epsilon, adadelta, lr_lanes)
                lr_sum = lr_p + lr_n + lr_u
                n_features = n_p + n_n + n_u
                _record_decay(decay, lr_sum, n_features, d, user_alpha, item_alpha,
                              lr_lanes)
            rng_states[block] = state
            _flush_decay(reg_log_decay, block, decay)
            block = fetch_add(next_task, 1)


@jit.inline
def _warp_search(state, user, positive, positive_score, user_repr, negative_repr,
                 item_indptr, item_indices, item_data,
                 item_embeddings, item_biases, positives_indices, positives_bits, row_start,
                 row_stop, n_items, max_sampled):
    """Draw items uniformly until one violates the margin against ``positive_score``.

    Returns ``(state, negative, sampled)``; ``negative == -1`` when none was found within
    ``max_sampled`` draws. A violating draw that is a positive of the user is rejected
    but still counts as a draw (LightFM's rule).
    """
    # Draw candidates ahead and prefetch their rows: each draw is a random row, i.e. a
    # cache miss, and this overlaps them. The pending draws (and the states after them)
    # are kept in a queue, so every draw is computed once; ``state`` is always the state
    # after the candidate being scored, as if drawn on the spot.
    if item_indptr is None:
        # Identity: one load stage (the row), two draws ahead.
        state_1, candidate_1 = draw_below(state, n_items)
        prefetch_row(item_indptr, candidate_1, item_embeddings, item_biases, False)
        state_2, candidate_2 = draw_below(state_1, n_items)
        prefetch_row(item_indptr, candidate_2, item_embeddings, item_biases, False)
        for sampled in range(1, max_sampled + 1):
            state_3, candidate_3 = draw_below(state_2, n_items)
            prefetch_row(item_indptr, candidate_3, item_embeddings, item_biases, False)
            state = state_1
            negative = candidate_1
            state_1, candidate_1 = state_2, candidate_2
            state_2, candidate_2 = state_3, candidate_3
            negative_score = _item_score(user_repr, item_indptr, item_indices, item_data,
                                         negative, item_embeddings, item_biases,
                                         negative_repr)
            if negative_score > positive_score - 1.0:
                if is_positive(positives_bits, positives_indices, row_start, row_stop, user,
                               negative):
                    continue
                return state, negative, sampled
        return state, -1, max_sampled
    # CSR: three dependent load stages (indptr, the row's indices, the feature rows), so
    # three draws are pending: the newest gets its indptr prefetched, the next its indices
    # and data, the next its feature rows (each stage finds the previous one's data
    # loaded, see ``representation.prefetch_indptr``).
    state_1, candidate_1 = draw_below(state, n_items)
    state_2, candidate_2 = draw_below(state_1, n_items)
    state_3, candidate_3 = draw_below(state_2, n_items)
    prefetch_indptr(item_indptr, candidate_1)
    prefetch_indptr(item_indptr, candidate_2)
    prefetch_indptr(item_indptr, candidate_3)
    prefetch_csr_row(item_indptr, item_indices, item_data, candidate_1)
    prefetch_csr_row(item_indptr, item_indices, item_data, candidate_2)
    for sampled in range(1, max_sampled + 1):
        state_4, candidate_4 = draw_below(state_3, n_items)
        prefetch_indptr(item_indptr, candidate_4)
        prefetch_csr_row(item_indptr, item_indices, item_data, candidate_3)
        prefetch_features(item_indptr, item_indices, candidate_2, item_embeddings,
                          item_biases, False)
        state = state_1
        negative = candidate_1
        state_1, candidate_1 = state_2, candidate_2
        state_2, candidate_2 = state_3, candidate_3
        state_3, candidate_3 = state_4, candidate_4
        negative_score = _item_score(user_repr, item_indptr, item_indices, item_data,
                                     negative, item_embeddings, item_biases, negative_repr)
        if negative_score > positive_score - 1.0:
            if is_positive(positives_bits, positives_indices, row_start, row_stop, user,
                           negative):
                continue
            return state, negative, sampled
    return state, -1, max_sampled


@jit.inline
def _warp_search_mixing(state, user, positive_score, user_repr, negative_repr,
                        item_indptr, item_indices, item_data,
                        item_embeddings, item_biases, positives_indices, positives_bits,
                        row_start, row_stop,
                        n_items, max_sampled, negatives_indices, known_start, n_known,
                        negative_mixing):
    """``_warp_search`` with negative feedback (``negative_mixing``).

    Each draw is, with probability ``negative_mixing``, an item drawn uniformly from the
    user's known negatives ``negatives_indices[known_start:known_start + n_known]``,
    otherwise an item drawn uniformly from ``[0, n_items)`` as in ``_warp_search``. One
    draw of 2**24 decides the source, and is made only when the user has known
    negatives (``n_known > 0``); a user without any draws exactly the stream of
    ``_warp_search``. Draws from either source count alike towards ``sampled`` (and the
    ``max_sampled`` budget), and a violating draw that is a positive of the user is
    rejected whatever its source, so a positive is never used as a negative.

    The draws are made on the spot (no look-ahead prefetch): the source of the next
    draw is not known before the current one is decided.
    """
    for sampled in range(1, max_sampled + 1):
        if n_known > 0:
            state, r = draw_below(state, 16777216)
            if r < negative_mixing * 16777216.0:
                state, r = draw_below(state, n_known)
                negative = np.int64(negatives_indices[known_start + r])
            else:
                state, negative = draw_below(state, n_items)
        else:
            state, negative = draw_below(state, n_items)
        negative_score = _item_score(user_repr, item_indptr, item_indices, item_data,
                                     negative, item_embeddings, item_biases, negative_repr)
        if negative_score > positive_score - 1.0:
            if is_positive(positives_bits, positives_indices, row_start, row_stop, user,
                           negative):
                continue
            return state, negative, sampled
    return state, np.int64(-1), max_sampled


@jit.serial
def _warp_loss(n_items, sampled, weight, max_loss):
    # log of the estimated rank floor((N - 1) / sampled), never below log(1) = 0.
    estimated_rank = max(1.0, np.floor((n_items - 1) / sampled))
    return min(weight * np.log(estimated_rank), max_loss)


@jit.parallel
def fit_warp(user_ids, item_ids, values, weights, order,
             user_indptr, user_indices, user_data,
             item_indptr, item_indices, item_data,
             user_embeddings, user_embedding_accum, user_embedding_momentum,
             user_biases, user_bias_accum, user_bias_momentum,
             item_embeddings, item_embedding_accum, item_embedding_momentum,
             item_biases, item_bias_accum, item_bias_momentum,
             user_trainable, item_trainable,
             learning_rate, rho, epsilon, adadelta, user_alpha, item_alpha,
             rng_states, reg_log_decay,
             positives_indptr, positives_indices, positives_bits, n_items, max_sampled,
             max_loss,
             negatives_indptr, negatives_indices, negative_mixing):
    """One pass of WARP over the positive (value > 0) examples of ``order``.

    Parameters not listed here are as in ``fit_logistic``.

    Parameters
    ----------
    positives_indptr, positives_indices : int64, int32
        CSR of each user's positive items, sorted within rows.
    positives_bits : uint64[n_users, ceil(n_items / 64)] or uint64[0, 0]
        The same positives as a bit table (``epoch_inputs.positives_bitset``), for the
        "is this draw a positive?" test; an empty table (large catalogues) falls back to
        a binary search of the CSR row.
    n_items : int
        Negatives are drawn uniformly from ``[0, n_items)``.
    max_sampled : int
        Draws allowed per example.
    max_loss : float
        Cap on the loss weight ``weight * log(floor((n_items - 1) / sampled))``.
    negatives_indptr, negatives_indices : int64, int32 or None
        CSR of each user's known negatives (items with value < 0), sorted within rows;
        ``None`` for LightFM's WARP (a compile-time specialisation: the default path
        is the plain search, with no mixing code at all).
    negative_mixing : float
        Negative feedback (used only with the CSR above): each draw of the negative
        search is, with this probability, taken uniformly from the user's known
        negatives instead of uniformly from the items (``_warp_search_mixing``).

    Notes
    -----
    The rank estimate with mixing: draws from the known negatives count like uniform
    draws, so a violator found at draw ``sampled`` gets the weight
    ``log(floor((n_items - 1) / sampled))`` whatever list it came from. For a known
    negative this overstates the positive's rank in the whole catalogue (dislikes are
    drawn far more often than uniform sampling would), i.e. a violated dislike is
    weighted as heavily as a uniform violator found as early; this is deliberate: the
    user told us that pair is ordered wrongly, and the cap ``max_loss`` bounds it. With
    ``negative_mixing = 0`` or a user without known negatives the estimate is WARP's.
    """
    d = item_embeddings.shape[1]
    n = order.shape[0]
    n_blocks = rng_states.shape[0]
    # Identity features, adagrad and no frozen rows: one fused pass over the rows (the
    # common case; the fused steps know no masks).
    fused = (user_indptr is None and item_indptr is None and not adadelta
             and user_trainable.shape[0] == 0 and item_trainable.shape[0] == 0)
    next_task = np.zeros(1, dtype=np.int64)
    for _worker in prange(n_blocks):  # surplus workers find the counter exhausted
        user_repr = np.empty(d, dtype=np.float32)
        lr_lanes = np.zeros(d, dtype=np.float32)
        positive_repr = np.empty(d, dtype=np.float32)
        negative_repr = np.empty(d, dtype=np.float32)
        difference = np.empty(d, dtype=np.float32)
        decay = np.zeros(2, dtype=np.float64)
        block = fetch_add(next_task, 1)
        while block < n_blocks:
            state = rng_states[block]
            stop = ((block + 1) * n) // n_blocks
            for k in range((block * n) // n_blocks, stop):
                _prefetch_examples(k, stop, order, user_ids, item_ids, values, weights,
                                   user_indptr, user_indices, user_data, item_indptr,
                                   item_indices, item_data, user_embeddings,
                                   user_embedding_accum, user_biases, user_bias_accum,
                                   item_embeddings, item_embedding_accum, item_biases,
                                   item_bias_accum)
                i = order[k]
                weight = weights[i]
                if weight == 0.0 or not values[i] > 0.0:
                    continue
                user = user_ids[i]
                positive = item_ids[i]
                compute_representation(user_indptr, user_indices, user_data, user,
                                       user_embeddings, user_biases, user_repr)
                positive_score = _item_score(user_repr, item_indptr, item_indices, item_data,
                                             positive, item_embeddings, item_biases,
                                             positive_repr)
                if negatives_indptr is None:  # compile-time: LightFM's WARP
                    state, negative, sampled = _warp_search(
                        state, user, positive, positive_score, user_repr, negative_repr,
                        item_indptr, item_indices, item_data,
                        item_embeddings, item_biases, positives_indices, positives_bits,
                        positives_indptr[user], positives_indptr[user + 1], n_items, max_sampled)
                else:
                    known_start = negatives_indptr[user]
                    state, negative, sampled = _warp_search_mixing(
                        state, user, positive_score, user_repr, negative_repr,
                        item_indptr, item_indices, item_data,
                        item_embeddings, item_biases, positives_indices, positives_bits,
                        positives_indptr[user], positives_indptr[user + 1], n_items, max_sampled,
                        negatives_indices, known_start, negatives_indptr[user + 1] - known_start,
                        negative_mixing)
                if item_indptr is not None:
                    # The next example's search starts from this state: start loading the
                    # CSR rows of its first draws while this example updates.
                    peek, r = draw_below(state, n_items)
                    prefetch_indptr(item_indptr, r)
                    peek, r = draw_below(peek, n_items)
                    prefetch_indptr(item_indptr, r)
                if negative < 0:
                    continue
                # The search read the violator's embedding row; its accumulators (about to be
                # written) are still a cache miss: start it before the positive's step.
                _prefetch_item(negative, item_indptr, item_indices, item_embeddings,
                               item_embedding_accum, item_biases, item_bias_accum)
                g = _warp_loss(n_items, sampled, weight, max_loss)
                # LightFM's warp_update: push positive up and negative down for user (g >= 0
                # weighs the violated pair; all gradients use the pre-step representations;
                # the user bias gets +g as in LightFM, it cancels in every comparison).
                # Written out in each kernel: an out-of-line helper taking ~30 arrays costs
                # more in argument passing than the update itself.
                if fused:
                    lr_bias = adagrad_pairwise_identity(user, positive, negative, g,
                                                        user_embeddings,
                                              user_embedding_accum, user_biases,
                                              user_bias_accum, item_embeddings,
                                              item_embedding_accum, item_biases,
                                              item_bias_accum, learning_rate, lr_lanes)
                    _record_decay(decay, lr_bias, 3, d, user_alpha, item_alpha,
                                  lr_lanes)
                    continue
                _pair_difference(item_indptr, item_embeddings, positive, negative, positive_repr,
                                 negative_repr, difference)
                lr_p, n_p = update_row(item_indptr, item_indices, item_data, positive,
                                       user_repr, -g, -g, item_embeddings, item_embedding_accum,
                                       item_embedding_momentum, item_biases, item_bias_accum,
                                       item_bias_momentum, item_trainable, learning_rate, rho,
                                       epsilon, adadelta, lr_lanes)
                lr_n, n_n = update_row(item_indptr, item_indices, item_data, negative,
                                       user_repr, g, g, item_embeddings, item_embedding_accum,
                                       item_embedding_momentum, item_biases, item_bias_accum,
                                       item_bias_momentum, item_trainable, learning_rate, rho,
                                       epsilon, adadelta, lr_lanes)
                lr_u, n_u = update_row(user_indptr, user_indices, user_data, user,
                                       difference, g, g, user_embeddings, user_embedding_accum,
                                       user_embedding_momentum, user_biases, user_bias_accum,
                                       user_bias_momentum, user_trainable, learning_rate, rho,
                                       epsilon, adadelta, lr_lanes)
                lr_sum = lr_p + lr_n + lr_u
                n_features = n_p + n_n + n_u
                _record_decay(decay, lr_sum, n_features, d, user_alpha, item_alpha,
                              lr_lanes)
            rng_states[block] = state
            _flush_decay(reg_log_decay, block, decay)
            block = fetch_add(next_task, 1)


@jit.parallel
def fit_warp_kos(user_ids, item_ids, values, weights, order,
                 user_indptr, user_indices, user_data,
                 item_indptr, item_indices, item_data,
                 user_embeddings, user_embedding_accum, user_embedding_momentum,
                 user_biases, user_bias_accum, user_bias_momentum,
                 item_embeddings, item_embedding_accum, item_embedding_momentum,
                 item_biases, item_bias_accum, item_bias_momentum,
                 user_trainable, item_trainable,
                 learning_rate, rho, epsilon, adadelta, user_alpha, item_alpha,
                 rng_states, reg_log_decay,
                 positives_indptr, positives_indices, positives_bits, n_items, max_sampled,
                 max_loss,
                 k, n, negatives_indptr, negatives_indices, negative_mixing):
    """One pass of WARP-kOS: for the user of each positive example of ``order``, draw
    ``min(n, #positives)`` of the user's positives with replacement, take the
    ``min(k, drawn)``-th highest-scoring as the positive, then run the WARP step.

    Extra parameters as ``fit_warp``, plus ``k`` and ``n``; the explicit negatives
    (``negatives_indptr, negatives_indices, negative_mixing``) enter the negative search
    only, exactly as in ``fit_warp`` (the positive is still drawn from the positives).
    """
    d = item_embeddings.shape[1]
    n_examples = order.shape[0]
    n_blocks = rng_states.shape[0]
    # Identity features, adagrad and no frozen rows: one fused pass over the rows (the
    # common case; the fused steps know no masks).
    fused = (user_indptr is None and item_indptr is None and not adadelta
             and user_trainable.shape[0] == 0 and item_trainable.shape[0] == 0)
    next_task = np.zeros(1, dtype=np.int64)
    for _worker in prange(n_blocks):  # surplus workers find the counter exhausted
        user_repr = np.empty(d, dtype=np.float32)
        lr_lanes = np.zeros(d, dtype=np.float32)
        positive_repr = np.empty(d, dtype=np.float32)
        negative_repr = np.empty(d, dtype=np.float32)
        difference = np.empty(d, dtype=np.float32)
        drawn_items = np.empty(n, dtype=np.int32)
        drawn_scores = np.empty(n, dtype=np.float64)
        drawn_raw = np.empty(n, dtype=np.int32)
        decay = np.zeros(2, dtype=np.float64)
        block = fetch_add(next_task, 1)
        while block < n_blocks:
            state = rng_states[block]
            stop = ((block + 1) * n_examples) // n_blocks
            for j in range((block * n_examples) // n_blocks, stop):
                if j + _AHEAD_IDS < stop:
                    _prefetch_ids(order[j + _AHEAD_IDS], user_ids, item_ids, values, weights)
                if j + _AHEAD < stop:
                    # The positive is not known ahead (it is drawn), but the user and the
                    # start of their positives list are.
                    ahead = user_ids[order[j + _AHEAD]]
                    prefetch_row(user_indptr, ahead, user_embeddings, user_biases, True)
                    prefetch_row(user_indptr, ahead, user_embedding_accum, user_bias_accum, True)
                    prefetch_read_1d(positives_indices, positives_indptr[ahead])
                i = order[j]
                weight = weights[i]
                if weight == 0.0 or not values[i] > 0.0:
                    continue
                user = user_ids[i]
                row_start = positives_indptr[user]
                row_stop = positives_indptr[user + 1]
                n_positives = row_stop - row_start
                if n_positives == 0:
                    continue
                compute_representation(user_indptr, user_indices, user_data, user,
                                       user_embeddings, user_biases, user_repr)
                n_drawn = min(n, n_positives)
                # Draw with replacement (all draws first, so that their rows, random cache
                # misses, load in parallel), then keep the draws sorted by descending score.
                for m in range(n_drawn):
                    state, r = draw_below(state, n_positives)
                    item = positives_indices[row_start + r]
                    drawn_raw[m] = item
                    prefetch_row(item_indptr, item, item_embeddings, item_biases, False)
                for m in range(n_drawn):
                    item = drawn_raw[m]
                    score = _item_score(user_repr, item_indptr, item_indices, item_data, item,
                                        item_embeddings, item_biases, positive_repr)
                    insert_top(drawn_scores, drawn_items, m, score, item)
                chosen = min(k, n_drawn) - 1
                positive = drawn_items[chosen]
                positive_score = drawn_scores[chosen]
                # Its accumulators will be written after the search: start loading them now.
                _prefetch_item(positive, item_indptr, item_indices, item_embeddings,
                               item_embedding_accum, item_biases, item_bias_accum)
                if item_indptr is not None:  # identity rows are read in place instead
                    compute_representation(item_indptr, item_indices, item_data,
                                           positive, item_embeddings, item_biases, positive_repr)
                if negatives_indptr is None:  # compile-time: plain WARP-kOS
                    state, negative, sampled = _warp_search(
                        state, user, positive, positive_score, user_repr, negative_repr,
                        item_indptr, item_indices, item_data,
                        item_embeddings, item_biases, positives_indices, positives_bits,
                        row_start, row_stop, n_items, max_sampled)
                else:
                    known_start = negatives_indptr[user]
                    state, negative, sampled = _warp_search_mixing(
                        state, user, positive_score, user_repr, negative_repr,
                        item_indptr, item_indices, item_data,
                        item_embeddings, item_biases, positives_indices, positives_bits,
                        row_start, row_stop, n_items, max_sampled,
                        negatives_indices, known_start, negatives_indptr[user + 1] - known_start,
                        negative_mixing)
                if negative < 0:
                    continue
                # The search read the violator's embedding row; its accumulators (about to be
                # written) are still a cache miss: start it before the positive's step.
                _prefetch_item(negative, item_indptr, item_indices, item_embeddings,
                               item_embedding_accum, item_biases, item_bias_accum)
                g = _warp_loss(n_items, sampled, weight, max_loss)
                # LightFM's warp_update: push positive up and negative down for user (g >= 0
                # weighs the violated pair; all gradients use the pre-step representations;
                # the user bias gets +g as in LightFM, it cancels in every comparison).
                # Written out in each kernel: an out-of-line helper taking ~30 arrays costs
                # more in argument passing than the update itself.
                if fused:
                    lr_bias = adagrad_pairwise_identity(user, positive, negative, g,
                                                        user_embeddings,
                                              user_embedding_accum, user_biases,
                                              user_bias_accum, item_embeddings,
                                              item_embedding_accum, item_biases,
                                              item_bias_accum, learning_rate, lr_lanes)
                    _record_decay(decay, lr_bias, 3, d, user_alpha, item_alpha,
                                  lr_lanes)
                    continue
                _pair_difference(item_indptr, item_embeddings, positive, negative, positive_repr,
                                 negative_repr, difference)
                lr_p, n_p = update_row(item_indptr, item_indices, item_data, positive,
                                       user_repr, -g, -g, item_embeddings, item_embedding_accum,
                                       item_embedding_momentum, item_biases, item_bias_accum,
                                       item_bias_momentum, item_trainable, learning_rate, rho,
                                       epsilon, adadelta, lr_lanes)
                lr_n, n_n = update_row(item_indptr, item_indices, item_data, negative,
                                       user_repr, g, g, item_embeddings, item_embedding_accum,
                                       item_embedding_momentum, item_biases, item_bias_accum,
                                       item_bias_momentum, item_trainable, learning_rate, rho,
                                       epsilon, adadelta, lr_lanes)
                lr_u, n_u = update_row(user_indptr, user_indices, user_data, user,
                                       difference, g, g, user_embeddings, user_embedding_accum,
                                       user_embedding_momentum, user_biases, user_bias_accum,
                                       user_bias_momentum, user_trainable, learning_rate, rho,
                                       epsilon, adadelta, lr_lanes)
                lr_sum = lr_p + lr_n + lr_u
                n_features = n_p + n_n + n_u
                _record_decay(decay, lr_sum, n_features, d, user_alpha, item_alpha,
                              lr_lanes)
            rng_states[block] = state
            _flush_decay(reg_log_decay, block, decay)
            block = fetch_add(next_task, 1)


@jit.parallel
def fit_explicit(user_ids, item_ids, values, weights, order,
                 user_indptr, user_indices, user_data,
                 item_indptr, item_indices, item_data,
                 user_embeddings, user_embedding_accum, user_embedding_momentum,
                 user_biases, user_bias_accum, user_bias_momentum,
                 item_embeddings, item_embedding_accum, item_embedding_momentum,
                 item_biases, item_bias_accum, item_bias_momentum,
                 user_trainable, item_trainable,
                 learning_rate, rho, epsilon, adadelta, user_alpha, item_alpha,
                 rng_states, reg_log_decay, poisson):
    """One pass of an explicit-feedback loss over ``order`` (every stored value is a
    target, e.g. a rating).

    ``poisson=False``: squared error ``(score - value)^2 / 2``, gradient
    ``weight * (score - value)``. ``poisson=True``: Poisson negative log-likelihood with
    a log link, ``exp(score) - value * score``, gradient ``weight * (exp(score) - value)``
    (the rate is ``exp(score)``). The step is the logistic one with this gradient; see
    ``fit_logistic`` for the arguments (``rng_states`` only sets the number of blocks).
    """
    d = item_embeddings.shape[1]
    n = order.shape[0]
    n_blocks = rng_states.shape[0]
    # Identity features, adagrad and no frozen rows: one fused pass over the rows (the
    # common case; the fused steps know no masks).
    fused = (user_indptr is None and item_indptr is None and not adadelta
             and user_trainable.shape[0] == 0 and item_trainable.shape[0] == 0)
    next_task = np.zeros(1, dtype=np.int64)
    for _worker in prange(n_blocks):  # surplus workers find the counter exhausted
        user_repr = np.empty(d, dtype=np.float32)
        lr_lanes = np.zeros(d, dtype=np.float32)
        item_repr = np.empty(d, dtype=np.float32)
        decay = np.zeros(2, dtype=np.float64)
        block = fetch_add(next_task, 1)
        while block < n_blocks:
            stop = ((block + 1) * n) // n_blocks
            for k in range((block * n) // n_blocks, stop):
                _prefetch_examples(k, stop, order, user_ids, item_ids, values, weights,
                                   user_indptr, user_indices, user_data, item_indptr,
                                   item_indices, item_data, user_embeddings,
                                   user_embedding_accum, user_biases, user_bias_accum,
                                   item_embeddings, item_embedding_accum, item_biases,
                                   item_bias_accum)
                i = order[k]
                weight = weights[i]
                if weight == 0.0:
                    continue
                user = user_ids[i]
                item = item_ids[i]
                user_bias = compute_representation(user_indptr, user_indices, user_data,
                                                   user, user_embeddings,
                                                   user_biases, user_repr)
                item_bias = compute_representation(item_indptr, item_indices, item_data,
                                                   item, item_embeddings,
                                                   item_biases, item_repr)
                score = dot(user_repr, item_repr) + user_bias + item_bias
                if poisson:
                    g = weight * (np.exp(score) - values[i])
                else:
                    g = weight * (score - values[i])
                if fused:
                    lr_bias = adagrad_pointwise_identity(user, item, g, user_embeddings,
                                               user_embedding_accum, user_biases, user_bias_accum,
                                               item_embeddings, item_embedding_accum, item_biases,
                                               item_bias_accum, learning_rate, lr_lanes)
                    _record_decay(decay, lr_bias, 2, d, user_alpha, item_alpha,
                                  lr_lanes)
                    continue
                lr_i, n_i = update_row(item_indptr, item_indices, item_data, item,
                                       user_repr, g, g, item_embeddings, item_embedding_accum,
                                       item_embedding_momentum, item_biases, item_bias_accum,
                                       item_bias_momentum, item_trainable, learning_rate, rho,
                                       epsilon, adadelta, lr_lanes)
                lr_u, n_u = update_row(user_indptr, user_indices, user_data, user,
                                       item_repr, g, g, user_embeddings, user_embedding_accum,
                                       user_embedding_momentum, user_biases, user_bias_accum,
                                       user_bias_momentum, user_trainable, learning_rate, rho,
                                       epsilon, adadelta, lr_lanes)
                _record_decay(decay, lr_i + lr_u, n_i + n_u, d,
                              user_alpha, item_alpha, lr_lanes)
            _flush_decay(reg_log_decay, block, decay)
            block = fetch_add(next_task, 1)


@jit.serial
def _sampled_pairwise_step(user, positive, negative, g, user_indptr, user_indices,
                           user_data, item_indptr, item_indices, item_data,
                           user_embeddings, user_embedding_accum, user_embedding_momentum,
                           user_biases, user_bias_accum, user_bias_momentum,
                           item_embeddings, item_embedding_accum, item_embedding_momentum,
                           item_biases, item_bias_accum, item_bias_momentum,
                           user_trainable, item_trainable,
                           learning_rate, rho, epsilon, adadelta, user_repr, positive_repr,
                           negative_repr, difference, lr_lanes):
    """LightFM's pairwise step (as in ``fit_bpr``) with the pre-step representations;
    returns ``(sum of bias rates, n features)`` for ``_record_decay``."""
    d = difference.shape[0]
    for c in range(d):
        difference[c] = negative_repr[c] - positive_repr[c]
    lr_p, n_p = update_row(item_indptr, item_indices, item_data, positive,
                           user_repr, -g, -g, item_embeddings, item_embedding_accum,
                           item_embedding_momentum, item_biases, item_bias_accum,
                           item_bias_momentum, item_trainable, learning_rate, rho,
                           epsilon, adadelta, lr_lanes)
    lr_n, n_n = update_row(item_indptr, item_indices, item_data, negative,
                           user_repr, g, g, item_embeddings, item_embedding_accum,
                           item_embedding_momentum, item_biases, item_bias_accum,
                           item_bias_momentum, item_trainable, learning_rate, rho,
                           epsilon, adadelta, lr_lanes)
    lr_u, n_u = update_row(user_indptr, user_indices, user_data, user,
                           difference, g, g, user_embeddings, user_embedding_accum,
                           user_embedding_momentum, user_biases, user_bias_accum,
                           user_bias_momentum, user_trainable, learning_rate, rho,
                           epsilon, adadelta, lr_lanes)
    return lr_p + lr_n + lr_u, n_p + n_n + n_u


@jit.serial
def _sampled_pointwise_step(user, item, g, user_indptr, user_indices, user_data,
                            item_indptr, item_indices, item_data,
                            user_embeddings, user_embedding_accum, user_embedding_momentum,
                            user_biases, user_bias_accum, user_bias_momentum,
                            item_embeddings, item_embedding_accum, item_embedding_momentum,
                            item_biases, item_bias_accum, item_bias_momentum,
                            user_trainable, item_trainable,
                            learning_rate, rho, epsilon, adadelta, user_repr, item_repr,
                            lr_lanes):
    """The logistic step of ``fit_logistic`` with gradient ``g`` on the score."""
    lr_i, n_i = update_row(item_indptr, item_indices, item_data, item,
                           user_repr, g, g, item_embeddings, item_embedding_accum,
                           item_embedding_momentum, item_biases, item_bias_accum,
                           item_bias_momentum, item_trainable, learning_rate, rho,
                           epsilon, adadelta, lr_lanes)
    lr_u, n_u = update_row(user_indptr, user_indices, user_data, user,
                           item_repr, g, g, user_embeddings, user_embedding_accum,
                           user_embedding_momentum, user_biases, user_bias_accum,
                           user_bias_momentum, user_trainable, learning_rate, rho,
                           epsilon, adadelta, lr_lanes)
    return lr_i + lr_u, n_i + n_u


#: ``mode`` values of ``fit_sampled``.
SAMPLED_POINTWISE = 0
SAMPLED_BPR = 1
SAMPLED_HINGE = 2
SAMPLED_ADAPTIVE_HINGE = 3


@jit.parallel
def fit_sampled(user_ids, item_ids, values, weights, order,
                user_indptr, user_indices, user_data,
                item_indptr, item_indices, item_data,
                user_embeddings, user_embedding_accum, user_embedding_momentum,
                user_biases, user_bias_accum, user_bias_momentum,
                item_embeddings, item_embedding_accum, item_embedding_momentum,
                item_biases, item_bias_accum, item_bias_momentum,
                user_trainable, item_trainable,
                learning_rate, rho, epsilon, adadelta, user_alpha, item_alpha,
                rng_states, reg_log_decay,
                positives_indptr, positives_indices, positives_bits, negative_pool, max_redraws,
                n_negatives, mode, negatives_indptr, negatives_indices, negative_mixing):
    """Spotlight's implicit losses with ``n_negatives`` sampled negatives per positive
    (value > 0) example of ``order``.

    For each example, ``n_negatives`` items are drawn uniformly from ``negative_pool``
    (redrawn up to ``max_redraws`` times while a positive of the user, as in
    ``fit_bpr``); ``s(i)`` is the score ``user_repr . item_repr + biases`` and ``w`` the
    sample weight. Then, by ``mode``:

    * ``SAMPLED_POINTWISE``: logistic log-loss, label 1 on the positive and 0 on each
      negative: one logistic step on the positive with gradient ``w (sigmoid(s) - 1)``,
      then one per negative with ``(w / n_negatives) sigmoid(s)``.
    * ``SAMPLED_BPR``: for each negative in turn, a BPR step
      ``g = (w / n_negatives) (1 - sigmoid(s(p) - s(n)))`` (the average of the pairs'
      losses; each step scores with the current parameters).
    * ``SAMPLED_HINGE``: the same with the hinge ``max(0, 1 - s(p) + s(n))``, i.e.
      ``g = w / n_negatives`` when the margin is violated and no step otherwise.
    * ``SAMPLED_ADAPTIVE_HINGE``: the hinge on the highest-scoring of the negatives only
      (first drawn on ties), ``g = w``.

    Pairwise steps are LightFM's (``fit_bpr``). Extra parameters: ``fit_bpr``'s, plus
    ``n_negatives`` and ``mode``, and the explicit negatives: ``negatives_indptr,
    negatives_indices`` (int64 / int32 CSR of each user's items with value < 0) and
    ``negative_mixing``: for a user with explicit negatives, each negative is, with this
    probability, drawn uniformly from them instead of from ``negative_pool`` (one draw
    of 2**24 decides; with ``negative_mixing == 0`` no extra draw is made).
    """
    d = item_embeddings.shape[1]
    n = order.shape[0]
    n_blocks = rng_states.shape[0]
    pool_size = negative_pool.shape[0]
    share = 1.0 / n_negatives
    next_task = np.zeros(1, dtype=np.int64)
    for _worker in prange(n_blocks):  # surplus workers find the counter exhausted
        user_repr = np.empty(d, dtype=np.float32)
        lr_lanes = np.zeros(d, dtype=np.float32)
        positive_repr = np.empty(d, dtype=np.float32)
        negative_repr = np.empty(d, dtype=np.float32)
        difference = np.empty(d, dtype=np.float32)
        drawn = np.empty(n_negatives, dtype=np.int32)
        decay = np.zeros(2, dtype=np.float64)
        block = fetch_add(next_task, 1)
        while block < n_blocks:
            state = rng_states[block]
            stop = ((block + 1) * n) // n_blocks
            for k in range((block * n) // n_blocks, stop):
                _prefetch_examples(k, stop, order, user_ids, item_ids, values, weights,
                                   user_indptr, user_indices, user_data, item_indptr,
                                   item_indices, item_data, user_embeddings,
                                   user_embedding_accum, user_biases, user_bias_accum,
                                   item_embeddings, item_embedding_accum, item_biases,
                                   item_bias_accum)
                i = order[k]
                weight = weights[i]
                if weight == 0.0 or not values[i] > 0.0:
                    continue
                user = user_ids[i]
                positive = item_ids[i]
                row_start = positives_indptr[user]
                row_stop = positives_indptr[user + 1]
                known_start = negatives_indptr[user]
                n_known = negatives_indptr[user + 1] - known_start
                for m in range(n_negatives):
                    if negative_mixing > 0.0 and n_known > 0:
                        state, r = draw_below(state, 16777216)
                        if r < negative_mixing * 16777216.0:
                            state, r = draw_below(state, n_known)
                            negative = negatives_indices[known_start + r]
                            drawn[m] = negative
                            prefetch_row(item_indptr, negative, item_embeddings, item_biases,
                                         False)
                            continue
                    negative = positive
                    for _ in range(max_redraws):
                        state, r = draw_below(state, pool_size)
                        negative = negative_pool[r]
                        if not is_positive(positives_bits, positives_indices, row_start,
                                           row_stop, user, negative):
                            break
                    drawn[m] = negative
                    prefetch_row(item_indptr, negative, item_embeddings, item_biases, False)
                if mode == SAMPLED_POINTWISE:
                    user_bias = compute_representation(user_indptr, user_indices, user_data,
                                                       user, user_embeddings, user_biases,
                                                       user_repr)
                    item_bias = compute_representation(item_indptr, item_indices, item_data,
                                                       positive, item_embeddings, item_biases,
                                                       positive_repr)
                    score = dot(user_repr, positive_repr) + user_bias + item_bias
                    g = weight * (_sigmoid(score) - 1.0)
                    lr_sum, n_features = _sampled_pointwise_step(
                        user, positive, g, user_indptr, user_indices, user_data,
                        item_indptr, item_indices, item_data,
                        user_embeddings, user_embedding_accum, user_embedding_momentum,
                        user_biases, user_bias_accum, user_bias_momentum,
                        item_embeddings, item_embedding_accum, item_embedding_momentum,
                        item_biases, item_bias_accum, item_bias_momentum,
                        user_trainable, item_trainable,
                        learning_rate, rho, epsilon, adadelta, user_repr, positive_repr,
                        lr_lanes)
                    _record_decay(decay, lr_sum, n_features, d, user_alpha,
                                  item_alpha, lr_lanes)
                    for m in range(n_negatives):
                        negative = drawn[m]
                        user_bias = compute_representation(user_indptr, user_indices,
                                                           user_data, user, user_embeddings,
                                                           user_biases, user_repr)
                        item_bias = compute_representation(item_indptr, item_indices,
                                                           item_data, negative, item_embeddings,
                                                           item_biases, negative_repr)
                        score = dot(user_repr, negative_repr) + user_bias + item_bias
                        g = weight * share * _sigmoid(score)
                        lr_sum, n_features = _sampled_pointwise_step(
                            user, negative, g, user_indptr, user_indices, user_data,
                            item_indptr, item_indices, item_data,
                            user_embeddings, user_embedding_accum, user_embedding_momentum,
                            user_biases, user_bias_accum, user_bias_momentum,
                            item_embeddings, item_embedding_accum, item_embedding_momentum,
                            item_biases, item_bias_accum, item_bias_momentum,
                            user_trainable, item_trainable,
                            learning_rate, rho, epsilon, adadelta, user_repr, negative_repr,
                            lr_lanes)
                        _record_decay(decay, lr_sum, n_features, d, user_alpha,
                                      item_alpha, lr_lanes)
                    continue
                if mode == SAMPLED_ADAPTIVE_HINGE:
                    compute_representation(user_indptr, user_indices, user_data, user,
                                           user_embeddings, user_biases, user_repr)
                    best = drawn[0]
                    best_score = -np.inf
                    for m in range(n_negatives):
                        score = _item_score(user_repr, item_indptr, item_indices, item_data,
                                            drawn[m], item_embeddings, item_biases,
                                            negative_repr)
                        if score > best_score:
                            best_score = score
                            best = drawn[m]
                    drawn[0] = best
                    n_steps = 1
                    scale = 1.0
                else:
                    n_steps = n_negatives
                    scale = share
                for m in range(n_steps):
                    negative = drawn[m]
                    compute_representation(user_indptr, user_indices, user_data, user,
                                           user_embeddings, user_biases, user_repr)
                    positive_bias = compute_representation(
                        item_indptr, item_indices, item_data, positive, item_embeddings,
                        item_biases, positive_repr)
                    negative_bias = compute_representation(
                        item_indptr, item_indices, item_data, negative, item_embeddings,
                        item_biases, negative_repr)
                    x = (dot(user_repr, positive_repr) + positive_bias
                         - dot(user_repr, negative_repr) - negative_bias)
                    if mode == SAMPLED_BPR:
                        g = weight * scale * (1.0 - _sigmoid(x))
                    else:
                        if x >= 1.0:
                            continue
                        g = weight * scale
                    lr_sum, n_features = _sampled_pairwise_step(
                        user, positive, negative, g, user_indptr, user_indices, user_data,
                        item_indptr, item_indices, item_data,
                        user_embeddings, user_embedding_accum, user_embedding_momentum,
                        user_biases, user_bias_accum, user_bias_momentum,
                        item_embeddings, item_embedding_accum, item_embedding_momentum,
                        item_biases, item_bias_accum, item_bias_momentum,
                        user_trainable, item_trainable,
                        learning_rate, rho, epsilon, adadelta, user_repr, positive_repr,
                        negative_repr, difference, lr_lanes)
                    _record_decay(decay, lr_sum, n_features, d, user_alpha,
                                  item_alpha, lr_lanes)
            rng_states[block] = state
            _flush_decay(reg_log_decay, block, decay)
            block = fetch_add(next_task, 1)
