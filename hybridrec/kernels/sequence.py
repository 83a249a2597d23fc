"""Hogwild epoch kernel of the pooling sequence model (Spotlight's 'pooling' representation).

A user's state before position ``t`` of its sequence is the mean of the input embeddings
of the (at most ``max_history``) preceding items; the score of a next item ``j`` is
``state . output[j] + bias[j]``. Each example ``(sequence, t)`` is trained with BPR
against ``n_negatives`` uniformly drawn items (``adaptive`` picks the highest-scoring of
them, Spotlight's adaptive hinge idea applied to BPR). Updates use adagrad
(accumulators start at 1), like the LightFM kernels.
"""

import numpy as np
from numba import prange

from . import _jit as jit
from ._rng import draw_below


@jit.serial
def _adagrad_axpy(params, accum, row, direction, scale, learning_rate):
    """params[row] -= lr / sqrt(accum[row]) * scale * direction; accum += (scale*dir)^2."""
    lr = np.float32(learning_rate)
    s = np.float32(scale)
    for c in range(params.shape[1]):
        grad = s * direction[c]
        acc = accum[row, c]
        params[row, c] -= (lr / np.sqrt(acc)) * grad
        accum[row, c] = acc + grad * grad


@jit.serial
def _adagrad_scalar(params, accum, row, grad, learning_rate):
    acc = accum[row]
    params[row] -= (np.float32(learning_rate) / np.sqrt(acc)) * np.float32(grad)
    accum[row] = acc + np.float32(grad * grad)


@jit.parallel
def fit_pooling_epoch(indptr, items, example_sequence, example_position, order,
                      input_embeddings, input_accum, output_embeddings, output_accum,
                      biases, bias_accum, learning_rate, max_history, n_negatives, adaptive,
                      rng_states):
    """One pass over the examples in ``order``.

    Parameters
    ----------
    indptr : int64[n_sequences + 1]
        Sequence boundaries in ``items``.
    items : int32[n]
        Item ids of all sequences, each sequence in time order.
    example_sequence, example_position : int32[m], int64[m]
        Example ``e`` predicts ``items[indptr[s] + p]`` from the items before it
        (``p >= 1``).
    order : int64[m']
        Examples to visit (shuffled).
    input_embeddings, output_embeddings : float32[n_items, d]
    input_accum, output_accum : float32[n_items, d]
    biases, bias_accum : float32[n_items]
    learning_rate : float
    max_history : int
        Items pooled into the state (the most recent ones).
    n_negatives : int
    adaptive : bool
        Use the highest-scoring of the negatives (else the first).
    rng_states : uint64[n_blocks]
    """
    n_items, d = output_embeddings.shape
    n = order.shape[0]
    n_blocks = rng_states.shape[0]
    for block in prange(n_blocks):
        state_vector = np.empty(d, dtype=np.float32)
        difference = np.empty(d, dtype=np.float32)
        rng = rng_states[block]
        for k in range((block * n) // n_blocks, ((block + 1) * n) // n_blocks):
            e = order[k]
            start = indptr[example_sequence[e]]
            target = start + example_position[e]
            first = max(start, target - max_history)
            length = target - first
            for c in range(d):
                state_vector[c] = 0.0
            for q in range(first, target):
                item = items[q]
                for c in range(d):
                    state_vector[c] += input_embeddings[item, c]
            inverse = np.float32(1.0 / length)
            for c in range(d):
                state_vector[c] *= inverse
            positive = items[target]
            positive_score = biases[positive] + 0.0
            for c in range(d):
                positive_score += state_vector[c] * output_embeddings[positive, c]
            negative = -1
            negative_score = -np.inf
            for _ in range(n_negatives):
                rng, candidate = draw_below(rng, n_items)
                if candidate == positive:
                    continue
                score = biases[candidate] + 0.0
                for c in range(d):
                    score += state_vector[c] * output_embeddings[candidate, c]
                if negative < 0 or (adaptive and score > negative_score):
                    negative = candidate
                    negative_score = score
                if not adaptive:
                    break
            if negative < 0:
                continue
            # BPR: loss = -log sigmoid(x), x = s_pos - s_neg; dloss/dx = -(1 - sigmoid(x)).
            g = 1.0 / (1.0 + np.exp(positive_score - negative_score))
            for c in range(d):
                difference[c] = output_embeddings[positive, c] - output_embeddings[negative, c]
            _adagrad_axpy(output_embeddings, output_accum, positive, state_vector, -g,
                          learning_rate)
            _adagrad_axpy(output_embeddings, output_accum, negative, state_vector, g,
                          learning_rate)
            _adagrad_scalar(biases, bias_accum, positive, -g, learning_rate)
            _adagrad_scalar(biases, bias_accum, negative, g, learning_rate)
            share = -g / length
            for q in range(first, target):
                _adagrad_axpy(input_embeddings, input_accum, items[q], difference, share,
                              learning_rate)
        rng_states[block] = rng
