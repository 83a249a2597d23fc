"""One Hogwild epoch kernel per loss family: logistic, BPR, WARP and WARP-kOS.

All four share one argument layout (documented on ``fit_logistic``) and the same shape:
``prange`` over ``n_blocks = rng_states.shape[0]`` contiguous blocks of the shuffled
``order``; each block owns scratch buffers and an RNG stream, and writes model parameters
without locks (the deliberate Hogwild race). Examples with zero sample weight are skipped
entirely, so they change neither parameters nor accumulators.

L2 regularisation is not applied here: each example adds ``log(1 + alpha * lr_avg)`` for
the user and item side to ``reg_log_decay[block]`` (``lr_avg`` being the mean learning
rate of the parameters it touched, as in LightFM), and the caller multiplies all
parameters by ``exp(-sum)`` after each chunk of examples (``updates.decay_parameters``).
"""

import numpy as np
from numba import prange

from . import _jit as jit
from ._rng import draw_below
from .representation import compute_representation, contains_sorted, dot, prefetch_row
from .updates import update_row

#: How many examples ahead to prefetch.
_AHEAD = 2


@jit.serial
def _sigmoid(x):
    # exp overflows to inf for x < -709, giving exactly 0.0, which is the right limit.
    return 1.0 / (1.0 + np.exp(-x))


@jit.serial
def _record_decay(reg_log_decay, block, lr_sum, n_features, d, user_alpha, item_alpha):
    if n_features > 0 and (user_alpha > 0.0 or item_alpha > 0.0):
        lr_avg = lr_sum / ((d + 1) * n_features)
        reg_log_decay[block, 0] += np.log1p(user_alpha * lr_avg)
        reg_log_decay[block, 1] += np.log1p(item_alpha * lr_avg)


@jit.serial
def _prefetch_example(user, item, user_indptr, item_indptr,
                      user_embeddings, user_embedding_accum, user_biases, user_bias_accum,
                      item_embeddings, item_embedding_accum, item_biases, item_bias_accum):
    """Prefetch the rows an example will read and update (identity sides only)."""
    prefetch_row(user_indptr, user, user_embeddings, user_biases, True)
    prefetch_row(user_indptr, user, user_embedding_accum, user_bias_accum, True)
    prefetch_row(item_indptr, item, item_embeddings, item_biases, True)
    prefetch_row(item_indptr, item, item_embedding_accum, item_bias_accum, True)


@jit.parallel
def fit_logistic(user_ids, item_ids, values, weights, order,
                 user_indptr, user_indices, user_data,
                 item_indptr, item_indices, item_data,
                 user_embeddings, user_embedding_accum, user_embedding_momentum,
                 user_biases, user_bias_accum, user_bias_momentum,
                 item_embeddings, item_embedding_accum, item_embedding_momentum,
                 item_biases, item_bias_accum, item_bias_momentum,
                 learning_rate, rho, epsilon, adadelta, user_alpha, item_alpha,
                 rng_states, reg_log_decay):
    """One pass of logistic loss over ``order``: label 1 if value > 0, else 0.

    Parameters
    ----------
    user_ids, item_ids : int32[nnz]
        Interaction coordinates.
    values, weights : float32[nnz]
        Interaction values and sample weights.
    order : int32[m]
        Indices into the interactions to visit, in order (a shuffled chunk).
    user_indptr, user_indices, user_data
        User feature CSR (int32, int32, float32), or three ``None`` for the identity
        (a compile-time specialisation: no CSR indirection); same for items.
    user_embeddings ... item_bias_momentum : float32 arrays
        Model parameters and accumulators, updated in place.
    learning_rate, rho, epsilon : float
    adadelta : bool
    user_alpha, item_alpha : float
        L2 strengths; only used to accumulate ``reg_log_decay``.
    rng_states : uint64[n_blocks]
        One RNG state per block; its length sets the number of blocks (unused by this loss
        but kept for a uniform layout).
    reg_log_decay : float64[n_blocks, 2]
        Accumulates (user, item) log-decay per block.
    """
    d = item_embeddings.shape[1]
    n = order.shape[0]
    n_blocks = rng_states.shape[0]
    track_lr = user_alpha > 0.0 or item_alpha > 0.0
    for block in prange(n_blocks):
        user_repr = np.empty(d, dtype=np.float32)
        item_repr = np.empty(d, dtype=np.float32)
        stop = ((block + 1) * n) // n_blocks
        for k in range((block * n) // n_blocks, stop):
            if k + _AHEAD < stop:
                ahead = order[k + _AHEAD]
                _prefetch_example(user_ids[ahead], item_ids[ahead], user_indptr, item_indptr,
                                  user_embeddings, user_embedding_accum, user_biases,
                                  user_bias_accum, item_embeddings, item_embedding_accum,
                                  item_biases, item_bias_accum)
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
            lr_i, n_i = update_row(item_indptr, item_indices, item_data, item,
                                   user_repr, g, g, item_embeddings, item_embedding_accum,
                                   item_embedding_momentum, item_biases, item_bias_accum,
                                   item_bias_momentum, learning_rate, rho, epsilon, adadelta,
                                   track_lr)
            lr_u, n_u = update_row(user_indptr, user_indices, user_data, user,
                                   item_repr, g, g, user_embeddings, user_embedding_accum,
                                   user_embedding_momentum, user_biases, user_bias_accum,
                                   user_bias_momentum, learning_rate, rho, epsilon, adadelta,
                                   track_lr)
            _record_decay(reg_log_decay, block, lr_i + lr_u, n_i + n_u, d,
                          user_alpha, item_alpha)


@jit.parallel
def fit_bpr(user_ids, item_ids, values, weights, order,
            user_indptr, user_indices, user_data,
            item_indptr, item_indices, item_data,
            user_embeddings, user_embedding_accum, user_embedding_momentum,
            user_biases, user_bias_accum, user_bias_momentum,
            item_embeddings, item_embedding_accum, item_embedding_momentum,
            item_biases, item_bias_accum, item_bias_momentum,
            learning_rate, rho, epsilon, adadelta, user_alpha, item_alpha,
            rng_states, reg_log_decay,
            positives_indptr, positives_indices, negative_pool, max_redraws):
    """One pass of BPR over the positive (value > 0) examples of ``order``.

    Extra parameters (see ``fit_logistic`` for the rest)
    ---------------------------------------------------
    positives_indptr, positives_indices : int32
        CSR of each user's positive items, sorted within rows.
    negative_pool : int32[p]
        Item ids of all positive interactions: drawing uniformly from it samples negatives
        from the empirical item distribution, as LightFM does.
    max_redraws : int
        Redraws allowed while the sampled item is a positive of the user.
    """
    d = item_embeddings.shape[1]
    n = order.shape[0]
    n_blocks = rng_states.shape[0]
    track_lr = user_alpha > 0.0 or item_alpha > 0.0
    pool_size = negative_pool.shape[0]
    for block in prange(n_blocks):
        user_repr = np.empty(d, dtype=np.float32)
        positive_repr = np.empty(d, dtype=np.float32)
        negative_repr = np.empty(d, dtype=np.float32)
        difference = np.empty(d, dtype=np.float32)
        state = rng_states[block]
        stop = ((block + 1) * n) // n_blocks
        for k in range((block * n) // n_blocks, stop):
            if k + _AHEAD < stop:
                ahead = order[k + _AHEAD]
                _prefetch_example(user_ids[ahead], item_ids[ahead], user_indptr, item_indptr,
                                  user_embeddings, user_embedding_accum, user_biases,
                                  user_bias_accum, item_embeddings, item_embedding_accum,
                                  item_biases, item_bias_accum)
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
                if not contains_sorted(positives_indices, row_start, row_stop, negative):
                    break
            compute_representation(user_indptr, user_indices, user_data, user,
                                   user_embeddings, user_biases, user_repr)
            positive_bias = compute_representation(item_indptr, item_indices, item_data,
                                                   positive, item_embeddings,
                                                   item_biases, positive_repr)
            negative_bias = compute_representation(item_indptr, item_indices, item_data,
                                                   negative, item_embeddings,
                                                   item_biases, negative_repr)
            difference_score = (dot(user_repr, positive_repr) + positive_bias
                                - dot(user_repr, negative_repr) - negative_bias)
            g = weight * (1.0 - _sigmoid(difference_score))
            # LightFM's warp_update: push positive up and negative down for user (g >= 0
            # weighs the violated pair; all gradients use the pre-step representations;
            # the user bias gets +g as in LightFM, it cancels in every comparison).
            # Written out in each kernel: an out-of-line helper taking ~30 arrays costs
            # more in argument passing than the update itself.
            for c in range(d):
                difference[c] = negative_repr[c] - positive_repr[c]
            lr_p, n_p = update_row(item_indptr, item_indices, item_data, positive,
                                   user_repr, -g, -g, item_embeddings, item_embedding_accum,
                                   item_embedding_momentum, item_biases, item_bias_accum,
                                   item_bias_momentum, learning_rate, rho, epsilon, adadelta,
                                   track_lr)
            lr_n, n_n = update_row(item_indptr, item_indices, item_data, negative,
                                   user_repr, g, g, item_embeddings, item_embedding_accum,
                                   item_embedding_momentum, item_biases, item_bias_accum,
                                   item_bias_momentum, learning_rate, rho, epsilon, adadelta,
                                   track_lr)
            lr_u, n_u = update_row(user_indptr, user_indices, user_data, user,
                                   difference, g, g, user_embeddings, user_embedding_accum,
                                   user_embedding_momentum, user_biases, user_bias_accum,
                                   user_bias_momentum, learning_rate, rho, epsilon, adadelta,
                                   track_lr)
            lr_sum = lr_p + lr_n + lr_u
            n_features = n_p + n_n + n_u
            _record_decay(reg_log_decay, block, lr_sum, n_features, d, user_alpha, item_alpha)
        rng_states[block] = state


@jit.inline
def _warp_search(state, user, positive, positive_score, user_repr, negative_repr,
                 item_indptr, item_indices, item_data,
                 item_embeddings, item_biases, positives_indices, row_start, row_stop,
                 n_items, max_sampled):
    """Draw items uniformly until one violates the margin against ``positive_score``.

    Returns ``(state, negative, sampled)``; ``negative == -1`` when none was found within
    ``max_sampled`` draws. A violating draw that is a positive of the user is rejected
    but still counts as a draw (LightFM's rule).
    """
    # Look two draws ahead (same stream, so the same draws) and prefetch that candidate's
    # row: each draw is a random row, i.e. a cache miss, and this overlaps them.
    ahead, candidate = draw_below(state, n_items)
    prefetch_row(item_indptr, candidate, item_embeddings, item_biases, False)
    ahead, candidate = draw_below(ahead, n_items)
    prefetch_row(item_indptr, candidate, item_embeddings, item_biases, False)
    for sampled in range(1, max_sampled + 1):
        ahead, candidate = draw_below(ahead, n_items)
        prefetch_row(item_indptr, candidate, item_embeddings, item_biases, False)
        state, negative = draw_below(state, n_items)
        negative_bias = compute_representation(item_indptr, item_indices, item_data,
                                               negative, item_embeddings,
                                               item_biases, negative_repr)
        negative_score = dot(user_repr, negative_repr) + negative_bias
        if negative_score > positive_score - 1.0:
            if contains_sorted(positives_indices, row_start, row_stop, negative):
                continue
            return state, negative, sampled
    return state, -1, max_sampled


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
             learning_rate, rho, epsilon, adadelta, user_alpha, item_alpha,
             rng_states, reg_log_decay,
             positives_indptr, positives_indices, n_items, max_sampled, max_loss):
    """One pass of WARP over the positive (value > 0) examples of ``order``.

    Extra parameters (see ``fit_logistic`` for the rest)
    ---------------------------------------------------
    positives_indptr, positives_indices : int32
        CSR of each user's positive items, sorted within rows.
    n_items : int
        Negatives are drawn uniformly from ``[0, n_items)``.
    max_sampled : int
        Draws allowed per example.
    max_loss : float
        Cap on the loss weight ``weight * log(floor((n_items - 1) / sampled))``.
    """
    d = item_embeddings.shape[1]
    n = order.shape[0]
    n_blocks = rng_states.shape[0]
    track_lr = user_alpha > 0.0 or item_alpha > 0.0
    for block in prange(n_blocks):
        user_repr = np.empty(d, dtype=np.float32)
        positive_repr = np.empty(d, dtype=np.float32)
        negative_repr = np.empty(d, dtype=np.float32)
        difference = np.empty(d, dtype=np.float32)
        state = rng_states[block]
        stop = ((block + 1) * n) // n_blocks
        for k in range((block * n) // n_blocks, stop):
            if k + _AHEAD < stop:
                ahead = order[k + _AHEAD]
                _prefetch_example(user_ids[ahead], item_ids[ahead], user_indptr, item_indptr,
                                  user_embeddings, user_embedding_accum, user_biases,
                                  user_bias_accum, item_embeddings, item_embedding_accum,
                                  item_biases, item_bias_accum)
            i = order[k]
            weight = weights[i]
            if weight == 0.0 or not values[i] > 0.0:
                continue
            user = user_ids[i]
            positive = item_ids[i]
            compute_representation(user_indptr, user_indices, user_data, user,
                                   user_embeddings, user_biases, user_repr)
            positive_bias = compute_representation(item_indptr, item_indices, item_data,
                                                   positive, item_embeddings,
                                                   item_biases, positive_repr)
            positive_score = dot(user_repr, positive_repr) + positive_bias
            state, negative, sampled = _warp_search(
                state, user, positive, positive_score, user_repr, negative_repr,
                item_indptr, item_indices, item_data,
                item_embeddings, item_biases, positives_indices,
                positives_indptr[user], positives_indptr[user + 1], n_items, max_sampled)
            if negative < 0:
                continue
            g = _warp_loss(n_items, sampled, weight, max_loss)
            # LightFM's warp_update: push positive up and negative down for user (g >= 0
            # weighs the violated pair; all gradients use the pre-step representations;
            # the user bias gets +g as in LightFM, it cancels in every comparison).
            # Written out in each kernel: an out-of-line helper taking ~30 arrays costs
            # more in argument passing than the update itself.
            for c in range(d):
                difference[c] = negative_repr[c] - positive_repr[c]
            lr_p, n_p = update_row(item_indptr, item_indices, item_data, positive,
                                   user_repr, -g, -g, item_embeddings, item_embedding_accum,
                                   item_embedding_momentum, item_biases, item_bias_accum,
                                   item_bias_momentum, learning_rate, rho, epsilon, adadelta,
                                   track_lr)
            lr_n, n_n = update_row(item_indptr, item_indices, item_data, negative,
                                   user_repr, g, g, item_embeddings, item_embedding_accum,
                                   item_embedding_momentum, item_biases, item_bias_accum,
                                   item_bias_momentum, learning_rate, rho, epsilon, adadelta,
                                   track_lr)
            lr_u, n_u = update_row(user_indptr, user_indices, user_data, user,
                                   difference, g, g, user_embeddings, user_embedding_accum,
                                   user_embedding_momentum, user_biases, user_bias_accum,
                                   user_bias_momentum, learning_rate, rho, epsilon, adadelta,
                                   track_lr)
            lr_sum = lr_p + lr_n + lr_u
            n_features = n_p + n_n + n_u
            _record_decay(reg_log_decay, block, lr_sum, n_features, d, user_alpha, item_alpha)
        rng_states[block] = state


@jit.parallel
def fit_warp_kos(user_ids, item_ids, values, weights, order,
                 user_indptr, user_indices, user_data,
                 item_indptr, item_indices, item_data,
                 user_embeddings, user_embedding_accum, user_embedding_momentum,
                 user_biases, user_bias_accum, user_bias_momentum,
                 item_embeddings, item_embedding_accum, item_embedding_momentum,
                 item_biases, item_bias_accum, item_bias_momentum,
                 learning_rate, rho, epsilon, adadelta, user_alpha, item_alpha,
                 rng_states, reg_log_decay,
                 positives_indptr, positives_indices, n_items, max_sampled, max_loss,
                 k, n):
    """One pass of WARP-kOS: for the user of each positive example of ``order``, draw
    ``min(n, #positives)`` of the user's positives with replacement, take the
    ``min(k, drawn)``-th highest-scoring as the positive, then run the WARP step.

    Extra parameters as ``fit_warp``, plus ``k`` and ``n``.
    """
    d = item_embeddings.shape[1]
    n_examples = order.shape[0]
    n_blocks = rng_states.shape[0]
    track_lr = user_alpha > 0.0 or item_alpha > 0.0
    for block in prange(n_blocks):
        user_repr = np.empty(d, dtype=np.float32)
        positive_repr = np.empty(d, dtype=np.float32)
        negative_repr = np.empty(d, dtype=np.float32)
        difference = np.empty(d, dtype=np.float32)
        drawn_items = np.empty(n, dtype=np.int32)
        drawn_scores = np.empty(n, dtype=np.float64)
        state = rng_states[block]
        for j in range((block * n_examples) // n_blocks,
                       ((block + 1) * n_examples) // n_blocks):
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
            # Draw with replacement and keep the draws sorted by descending score.
            for m in range(n_drawn):
                state, r = draw_below(state, n_positives)
                item = positives_indices[row_start + r]
                bias = compute_representation(item_indptr, item_indices, item_data,
                                              item, item_embeddings,
                                              item_biases, positive_repr)
                score = dot(user_repr, positive_repr) + bias
                slot = m
                while slot > 0 and drawn_scores[slot - 1] < score:
                    drawn_scores[slot] = drawn_scores[slot - 1]
                    drawn_items[slot] = drawn_items[slot - 1]
                    slot -= 1
                drawn_scores[slot] = score
                drawn_items[slot] = item
            chosen = min(k, n_drawn) - 1
            positive = drawn_items[chosen]
            positive_score = drawn_scores[chosen]
            compute_representation(item_indptr, item_indices, item_data,
                                   positive, item_embeddings, item_biases, positive_repr)
            state, negative, sampled = _warp_search(
                state, user, positive, positive_score, user_repr, negative_repr,
                item_indptr, item_indices, item_data,
                item_embeddings, item_biases, positives_indices,
                row_start, row_stop, n_items, max_sampled)
            if negative < 0:
                continue
            g = _warp_loss(n_items, sampled, weight, max_loss)
            # LightFM's warp_update: push positive up and negative down for user (g >= 0
            # weighs the violated pair; all gradients use the pre-step representations;
            # the user bias gets +g as in LightFM, it cancels in every comparison).
            # Written out in each kernel: an out-of-line helper taking ~30 arrays costs
            # more in argument passing than the update itself.
            for c in range(d):
                difference[c] = negative_repr[c] - positive_repr[c]
            lr_p, n_p = update_row(item_indptr, item_indices, item_data, positive,
                                   user_repr, -g, -g, item_embeddings, item_embedding_accum,
                                   item_embedding_momentum, item_biases, item_bias_accum,
                                   item_bias_momentum, learning_rate, rho, epsilon, adadelta,
                                   track_lr)
            lr_n, n_n = update_row(item_indptr, item_indices, item_data, negative,
                                   user_repr, g, g, item_embeddings, item_embedding_accum,
                                   item_embedding_momentum, item_biases, item_bias_accum,
                                   item_bias_momentum, learning_rate, rho, epsilon, adadelta,
                                   track_lr)
            lr_u, n_u = update_row(user_indptr, user_indices, user_data, user,
                                   difference, g, g, user_embeddings, user_embedding_accum,
                                   user_embedding_momentum, user_biases, user_bias_accum,
                                   user_bias_momentum, learning_rate, rho, epsilon, adadelta,
                                   track_lr)
            lr_sum = lr_p + lr_n + lr_u
            n_features = n_p + n_n + n_u
            _record_decay(reg_log_decay, block, lr_sum, n_features, d, user_alpha, item_alpha)
        rng_states[block] = state
