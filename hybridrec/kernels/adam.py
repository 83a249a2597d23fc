"""Optimiser steps of the minibatch sequence models: Adam (PyTorch's, Spotlight's default)
and adagrad, applied to a parameter from per-worker gradient buffers.

Each step sums the workers' gradient slices (in worker order), adds L2 as PyTorch's
``weight_decay`` does (``g += l2 * theta``), updates the parameter, and zeroes the
slices for the next minibatch.

* Adam, as ``torch.optim.Adam`` (``amsgrad=False``): ``m = b1 m + (1 - b1) g``,
  ``v = b2 v + (1 - b2) g^2``, ``theta -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t)
  + eps)``. It is dense, as Spotlight's (``sparse=False``) is: every row of an
  embedding moves on every step, its moments decaying when it received no gradient.
* adagrad, the package's (``kernels.updates``): ``theta -= lr / sqrt(G) g``,
  ``G += g^2`` with ``G`` starting at 1; only rows that received a gradient step.

Row ``frozen_row`` (the padding item, -1 for none) is never changed.
"""

import numpy as np
from numba import prange

from . import _jit as jit

#: Rows per parallel task.
_CHUNK = 256


@jit.serial
def _bias_corrections(beta1, beta2, t):
    return 1.0 - beta1 ** t, 1.0 - beta2 ** t


@jit.parallel
def adam_rows(params, grads, touched, m, v, learning_rate, beta1, beta2, epsilon, l2, t,
              frozen_row):
    """Adam step on a row matrix (embeddings).

    Parameters
    ----------
    params, m, v : float32[n_rows, d]
    grads : float32[n_workers, n_rows, d]
        Zeroed on the rows that are ``touched``.
    touched : uint8[n_rows]
        Rows with a gradient in ``grads`` (others are read as zero); reset to 0.
    learning_rate, beta1, beta2, epsilon, l2 : float
    t : int
        Step number, starting at 1.
    frozen_row : int
    """
    n_workers = grads.shape[0]
    n_rows, d = params.shape
    correction1, correction2 = _bias_corrections(beta1, beta2, t)
    step_size = np.float32(learning_rate / correction1)
    root2 = np.float32(np.sqrt(correction2))
    b1 = np.float32(beta1)
    b2 = np.float32(beta2)
    eps = np.float32(epsilon)
    decay = np.float32(l2)
    n_chunks = (n_rows + _CHUNK - 1) // _CHUNK
    for chunk in prange(n_chunks):
        gradient = np.empty(d, dtype=np.float32)
        for r in range(chunk * _CHUNK, min((chunk + 1) * _CHUNK, n_rows)):
            if r == frozen_row:
                touched[r] = 0
                continue
            gradient[:] = 0.0
            if touched[r] != 0:
                for w in range(n_workers):
                    for c in range(d):
                        gradient[c] += grads[w, r, c]
                        grads[w, r, c] = 0.0
                touched[r] = 0
            for c in range(d):
                g = gradient[c] + decay * params[r, c]
                mc = b1 * m[r, c] + (np.float32(1.0) - b1) * g
                vc = b2 * v[r, c] + (np.float32(1.0) - b2) * g * g
                m[r, c] = mc
                v[r, c] = vc
                params[r, c] -= step_size * mc / (np.sqrt(vc) / root2 + eps)


@jit.serial
def adam_dense(params, grads, m, v, learning_rate, beta1, beta2, epsilon, l2, t):
    """Adam step on a flat parameter (layer weights): ``params, m, v`` float32[n],
    ``grads`` float32[n_workers, n] (zeroed)."""
    n_workers = grads.shape[0]
    correction1, correction2 = _bias_corrections(beta1, beta2, t)
    step_size = np.float32(learning_rate / correction1)
    root2 = np.float32(np.sqrt(correction2))
    b1 = np.float32(beta1)
    b2 = np.float32(beta2)
    eps = np.float32(epsilon)
    decay = np.float32(l2)
    for j in range(params.shape[0]):
        g = np.float32(0.0)
        for w in range(n_workers):
            g += grads[w, j]
            grads[w, j] = 0.0
        g += decay * params[j]
        mj = b1 * m[j] + (np.float32(1.0) - b1) * g
        vj = b2 * v[j] + (np.float32(1.0) - b2) * g * g
        m[j] = mj
        v[j] = vj
        params[j] -= step_size * mj / (np.sqrt(vj) / root2 + eps)


@jit.parallel
def adagrad_rows(params, grads, touched, accum, learning_rate, l2, frozen_row):
    """Adagrad step on the ``touched`` rows of a row matrix (``accum`` like ``params``,
    starting at 1); the other rows are left as they are."""
    n_workers = grads.shape[0]
    n_rows, d = params.shape
    lr = np.float32(learning_rate)
    decay = np.float32(l2)
    for r in prange(n_rows):
        if touched[r] == 0:
            continue
        touched[r] = 0
        if r == frozen_row:
            for w in range(n_workers):
                for c in range(d):
                    grads[w, r, c] = 0.0
            continue
        for c in range(d):
            g = np.float32(0.0)
            for w in range(n_workers):
                g += grads[w, r, c]
                grads[w, r, c] = 0.0
            g += decay * params[r, c]
            a = accum[r, c]
            params[r, c] -= lr / np.sqrt(a) * g
            accum[r, c] = a + g * g


@jit.serial
def adagrad_dense(params, grads, accum, learning_rate, l2):
    """Adagrad step on a flat parameter (``params, accum`` float32[n], ``grads``
    float32[n_workers, n], zeroed)."""
    n_workers = grads.shape[0]
    lr = np.float32(learning_rate)
    decay = np.float32(l2)
    for j in range(params.shape[0]):
        g = np.float32(0.0)
        for w in range(n_workers):
            g += grads[w, j]
            grads[w, j] = 0.0
        g += decay * params[j]
        a = accum[j]
        params[j] -= lr / np.sqrt(a) * g
        accum[j] = a + g * g


@jit.parallel
def hashed_rows(table, hashes, out):
    """Bloom embeddings: ``out[i] = sum_h table[hashes[i, h]]`` (float32[n_items, d])."""
    d = table.shape[1]
    for i in prange(hashes.shape[0]):
        for c in range(d):
            out[i, c] = 0.0
        for h in range(hashes.shape[1]):
            row = hashes[i, h]
            for c in range(d):
                out[i, c] += table[row, c]


@jit.serial
def scatter_hashed(grads, touched, hashes, table_grads, table_touched):
    """Move the item-row gradients ``grads`` (float32[n_workers, n_items, d], zeroed)
    onto the hashed table rows (``table_grads`` float32[1, n_rows, d])."""
    n_workers = grads.shape[0]
    d = grads.shape[2]
    for i in range(hashes.shape[0]):
        if touched[i] == 0:
            continue
        touched[i] = 0
        for h in range(hashes.shape[1]):
            row = hashes[i, h]
            table_touched[row] = 1
            for w in range(n_workers):
                for c in range(d):
                    table_grads[0, row, c] += grads[w, i, c]
        for w in range(n_workers):
            for c in range(d):
                grads[w, i, c] = 0.0
