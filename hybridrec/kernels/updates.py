"""Adagrad / adadelta steps on the features of one row, and the L2 decay.

Gradients follow LightFM: every active feature ``j`` (weight ``w_j``) of a row receives
``w_j * g`` for its bias and ``w_j * scale * direction[c]`` for embedding component ``c``.

* adagrad: ``lr_j = learning_rate / sqrt(G_j)``; ``theta_j -= lr_j * grad``;
  ``G_j += grad**2`` (accumulated after the step; ``G`` starts at 1).
* adadelta: ``G_j = rho G_j + (1 - rho) grad**2``;
  ``lr_j = sqrt(M_j + eps) / sqrt(G_j + eps)``; ``delta = lr_j grad``;
  ``M_j = rho M_j + (1 - rho) delta**2``; ``theta_j -= delta``.

Both return the sum of the per-parameter learning rates they used, from which the
caller derives the L2 decay of the step (see ``decay_parameters``).
"""

import numpy as np
from numba import prange

from . import _jit as jit

#: Values of a trainable mask (``update_row``): frozen, trainable, only the embedding
#: trains (bias frozen), only the bias trains (embedding frozen).
ROW_FROZEN = 0
ROW_TRAINABLE = 1
ROW_EMBEDDING_ONLY = 2
ROW_BIAS_ONLY = 3


@jit.inline
def _adagrad_feature(feature, weight, direction, scale, bias_gradient, embeddings,
                     embedding_accum, biases, bias_accum, learning_rate, lr_lanes):
    d = embeddings.shape[1]
    lr = np.float32(learning_rate)
    step_scale = np.float32(weight * scale)
    for c in range(d):
        grad = step_scale * direction[c]
        accum = embedding_accum[feature, c]
        local_lr = lr / np.sqrt(accum)
        embeddings[feature, c] -= local_lr * grad
        embedding_accum[feature, c] = accum + grad * grad
        # Per-lane sums (vectorisable); reduced once per example, only for L2.
        lr_lanes[c] += local_lr
    grad = np.float32(weight * bias_gradient)
    accum = bias_accum[feature]
    local_lr = lr / np.sqrt(accum)
    biases[feature] -= local_lr * grad
    bias_accum[feature] = accum + grad * grad
    return np.float64(local_lr)


@jit.inline
def _adadelta_feature(feature, weight, direction, scale, bias_gradient, embeddings,
                      embedding_accum, embedding_momentum, biases, bias_accum, bias_momentum,
                      rho, epsilon, lr_lanes):
    d = embeddings.shape[1]
    rho32 = np.float32(rho)
    one_minus_rho = np.float32(1.0 - rho)
    eps = np.float32(epsilon)
    step_scale = np.float32(weight * scale)
    for c in range(d):
        grad = step_scale * direction[c]
        accum = rho32 * embedding_accum[feature, c] + one_minus_rho * grad * grad
        embedding_accum[feature, c] = accum
        local_lr = np.sqrt(embedding_momentum[feature, c] + eps) / np.sqrt(accum + eps)
        delta = local_lr * grad
        embedding_momentum[feature, c] = (
            rho32 * embedding_momentum[feature, c] + one_minus_rho * delta * delta
        )
        embeddings[feature, c] -= delta
        lr_lanes[c] += local_lr
    grad = np.float32(weight * bias_gradient)
    accum = rho32 * bias_accum[feature] + one_minus_rho * grad * grad
    bias_accum[feature] = accum
    local_lr = np.sqrt(bias_momentum[feature] + eps) / np.sqrt(accum + eps)
    delta = local_lr * grad
    bias_momentum[feature] = rho32 * bias_momentum[feature] + one_minus_rho * delta * delta
    biases[feature] -= delta
    return np.float64(local_lr)


@jit.inline
def update_row(indptr, indices, data, row, direction, scale, bias_gradient,
               embeddings, embedding_accum, embedding_momentum, biases, bias_accum,
               bias_momentum, trainable, learning_rate, rho, epsilon, adadelta, lr_lanes):
    """Step every trainable feature of ``row`` against its gradient.

    Parameters
    ----------
    indptr, indices, data, row
        The row's features (``None`` for the identity), as in
        ``representation.compute_representation``.
    direction : float32[d]
        Embedding gradient direction; component ``c`` of the gradient is
        ``scale * direction[c]`` (before the feature weight).
    scale, bias_gradient : float
        Scalar parts of the embedding and bias gradients.
    embeddings, embedding_accum, embedding_momentum : float32[n_features, d]
    biases, bias_accum, bias_momentum : float32[n_features]
    trainable : uint8[n_features] or uint8[0]
        Features whose entry is 0 (``ROW_FROZEN``) are skipped (their parameters and
        accumulators are left exactly as they are); 1 (``ROW_TRAINABLE``) are stepped;
        2 (``ROW_EMBEDDING_ONLY``) / 3 (``ROW_BIAS_ONLY``) are stepped with a zero bias /
        embedding gradient, which leaves that part exactly as it is under adagrad and
        adadelta (adadelta's accumulators of the zero-gradient part still decay; they
        only scale zero steps). An empty array: every feature is stepped. A run-time
        test, not a ``None`` specialisation (which would double every kernel's compiled
        variants); without a mask the floats are those of the unmasked loop.
    learning_rate, rho, epsilon : float
    adadelta : bool
        Use adadelta (else adagrad; ``*_momentum`` then unused).
    lr_lanes : float32[d]
        Receives, per component, the sum of the embedding learning rates used (for the
        L2 bookkeeping; the caller reduces and resets it).

    Returns
    -------
    lr_sum : float
        Sum of the bias learning rates used (one per feature stepped).
    n_features : int
        Number of features stepped (frozen ones not counted), for the L2 bookkeeping.
    """
    masked = trainable.shape[0] > 0
    if indptr is None:
        # Fast path: the row is its own single feature with weight 1.
        row_scale, row_bias = scale, bias_gradient
        if masked:
            part = trainable[row]
            if part == ROW_FROZEN:
                return 0.0, 0
            row_scale, row_bias = _part_gradients(part, scale, bias_gradient)
        if adadelta:
            lr_sum = _adadelta_feature(
                row, np.float32(1.0), direction, row_scale, row_bias, embeddings,
                embedding_accum, embedding_momentum, biases, bias_accum, bias_momentum,
                rho, epsilon, lr_lanes,
            )
        else:
            lr_sum = _adagrad_feature(
                row, np.float32(1.0), direction, row_scale, row_bias, embeddings,
                embedding_accum, biases, bias_accum, learning_rate, lr_lanes,
            )
        return lr_sum, 1
    lr_sum = 0.0
    start = indptr[row]
    stop = indptr[row + 1]
    stepped = 0
    if adadelta:
        for position in range(start, stop):
            feature = indices[position]
            feature_scale, feature_bias = scale, bias_gradient
            if masked:
                part = trainable[feature]
                if part == ROW_FROZEN:
                    continue
                feature_scale, feature_bias = _part_gradients(part, scale, bias_gradient)
            lr_sum += _adadelta_feature(
                feature, data[position], direction, feature_scale, feature_bias,
                embeddings, embedding_accum, embedding_momentum, biases, bias_accum,
                bias_momentum, rho, epsilon, lr_lanes,
            )
            stepped += 1
    else:
        for position in range(start, stop):
            feature = indices[position]
            feature_scale, feature_bias = scale, bias_gradient
            if masked:
                part = trainable[feature]
                if part == ROW_FROZEN:
                    continue
                feature_scale, feature_bias = _part_gradients(part, scale, bias_gradient)
            lr_sum += _adagrad_feature(
                feature, data[position], direction, feature_scale, feature_bias,
                embeddings, embedding_accum, biases, bias_accum, learning_rate, lr_lanes,
            )
            stepped += 1
    return lr_sum, stepped


@jit.inline
def _part_gradients(part, scale, bias_gradient):
    """The (embedding scale, bias gradient) a feature with mask value ``part`` receives:
    the part that does not train gets a zero gradient (``x - x``: a zero of ``x``'s own
    type, so every branch returns the same types and the trained part's floats are
    those of the unmasked step)."""
    if part == ROW_EMBEDDING_ONLY:
        return scale, bias_gradient - bias_gradient
    if part == ROW_BIAS_ONLY:
        return scale - scale, bias_gradient
    return scale, bias_gradient


@jit.parallel
def decay_parameters(embeddings, biases, factor, trainable):
    """Multiply the embeddings and biases of one side's trainable rows by ``factor`` (the
    pending L2 decay).

    Parameters
    ----------
    embeddings : float32[n_features, d]
    biases : float32[n_features]
    factor : float
        ``exp(-sum of log(1 + alpha * lr_avg))`` over the examples since the last call.
    trainable : uint8[n_features] or uint8[0]
        As in ``update_row``: rows whose entry is 0 are left untouched (frozen), 2 decay
        only their embedding, 3 only their bias; empty: every row decays.
    """
    f = np.float32(factor)
    n, d = embeddings.shape
    masked = trainable.shape[0] > 0
    for row in prange(n):
        part = trainable[row] if masked else ROW_TRAINABLE
        if part == ROW_FROZEN:
            continue
        if part != ROW_BIAS_ONLY:
            for c in range(d):
                embeddings[row, c] *= f
        if part != ROW_EMBEDDING_ONLY:
            biases[row] *= f



@jit.inline
def _adagrad_bias(biases, bias_accum, row, grad, lr):
    """One adagrad step of a bias; returns the learning rate used."""
    accum = bias_accum[row]
    rate = lr / np.sqrt(accum)
    biases[row] -= rate * grad
    bias_accum[row] = accum + grad * grad
    return np.float64(rate)


@jit.inline
def adagrad_pairwise_identity(user, positive, negative, g, user_embeddings,
                              user_embedding_accum, user_biases, user_bias_accum,
                              item_embeddings, item_embedding_accum, item_biases,
                              item_bias_accum, learning_rate, lr_lanes):
    """The pairwise (BPR / WARP) adagrad step for identity features on both sides, fused.

    The same floats as ``update_row`` on the positive (direction = user row, scale and
    bias gradient -g), the negative (user row, +g) and the user (negative row - positive
    row, +g), in that order, all directions taken before any step. Each component depends
    only on the same component of the inputs, so one pass over ``c`` doing the three steps
    in that order is equivalent (also when negative == positive, which BPR allows after
    exhausted redraws) and needs no scratch copies of the rows. The embedding learning
    rates are added to ``lr_lanes`` (for L2); returns the sum of the three bias rates.
    """
    d = item_embeddings.shape[1]
    lr = np.float32(learning_rate)
    down = np.float32(-g)
    up = np.float32(g)
    for c in range(d):
        u = user_embeddings[user, c]
        difference = item_embeddings[negative, c] - item_embeddings[positive, c]
        grad = down * u
        accum = item_embedding_accum[positive, c]
        rate_positive = lr / np.sqrt(accum)
        item_embeddings[positive, c] -= rate_positive * grad
        item_embedding_accum[positive, c] = accum + grad * grad
        grad = up * u
        accum = item_embedding_accum[negative, c]
        rate_negative = lr / np.sqrt(accum)
        item_embeddings[negative, c] -= rate_negative * grad
        item_embedding_accum[negative, c] = accum + grad * grad
        grad = up * difference
        accum = user_embedding_accum[user, c]
        rate_user = lr / np.sqrt(accum)
        user_embeddings[user, c] -= rate_user * grad
        user_embedding_accum[user, c] = accum + grad * grad
        lr_lanes[c] += rate_positive + rate_negative + rate_user
    return (_adagrad_bias(item_biases, item_bias_accum, positive, down, lr)
            + _adagrad_bias(item_biases, item_bias_accum, negative, up, lr)
            + _adagrad_bias(user_biases, user_bias_accum, user, up, lr))


@jit.inline
def adagrad_pointwise_identity(user, item, g, user_embeddings, user_embedding_accum,
                               user_biases, user_bias_accum, item_embeddings,
                               item_embedding_accum, item_biases, item_bias_accum,
                               learning_rate, lr_lanes):
    """The logistic adagrad step for identity features on both sides, fused: the same
    floats as ``update_row`` on the item (direction = user row) then the user (item row),
    both with scale and bias gradient ``g`` and pre-step directions (see
    ``adagrad_pairwise_identity``). Embedding rates go to ``lr_lanes``; returns the sum
    of the two bias rates."""
    d = item_embeddings.shape[1]
    lr = np.float32(learning_rate)
    step = np.float32(g)
    for c in range(d):
        u = user_embeddings[user, c]
        v = item_embeddings[item, c]
        grad = step * u
        accum = item_embedding_accum[item, c]
        rate_item = lr / np.sqrt(accum)
        item_embeddings[item, c] = v - rate_item * grad
        item_embedding_accum[item, c] = accum + grad * grad
        grad = step * v
        accum = user_embedding_accum[user, c]
        rate_user = lr / np.sqrt(accum)
        user_embeddings[user, c] = u - rate_user * grad
        user_embedding_accum[user, c] = accum + grad * grad
        lr_lanes[c] += rate_item + rate_user
    return (_adagrad_bias(item_biases, item_bias_accum, item, step, lr)
            + _adagrad_bias(user_biases, user_bias_accum, user, step, lr))
