"""Optimiser steps of the minibatch sequence models: Adam (PyTorch's, Spotlight's default)
and adagrad, applied by one worker from its own gradient buffers.

Each step adds L2 as PyTorch's ``weight_decay`` does (``g += l2 * theta``), updates the
parameter in place and zeroes the gradient buffer for the worker's next minibatch.

* Adam, as ``torch.optim.Adam`` (``amsgrad=False``): ``m = b1 m + (1 - b1) g``,
  ``v = b2 v + (1 - b2) g^2``, ``theta -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t)
  + eps)``. Dense, as Spotlight's (``sparse=False``): every row of an embedding moves
  on every step, its moments decaying when it received no gradient.
* adagrad, the package's (``kernels.updates``): ``theta -= lr / sqrt(G) g``,
  ``G += g^2`` with ``G`` starting at 1; only rows that received a gradient step.

Row 0 of the item tables (the padding item) is never changed.
"""

import numpy as np

from . import _jit as jit
from ._atomic import fetch_add

#: ``optimizer`` flags.
ADAM = 0
ADAGRAD = 1


@jit.serial
def step_rows(params, grads, touched, m, v, optimizer, learning_rate, beta1, beta2, epsilon,
              l2, t):
    """One step of a row table from one worker's buffer.

    Parameters
    ----------
    params, m, v : float32[n_rows, d]
        ``v`` is unused by adagrad (``m`` is its accumulator).
    grads : float32[n_rows, d]
        Read (and zeroed) on the ``touched`` rows only.
    touched : uint8[n_rows]
        Left as it is (the caller resets it after every table of the step).
    optimizer : int
        ``ADAM`` or ``ADAGRAD``.
    t : int
        Adam's step number, from 1.
    """
    n_rows, d = params.shape
    lr = np.float32(learning_rate)
    decay = np.float32(l2)
    if touched[0] != 0:       # the frozen padding row (a Bloom table's row 0 collects some)
        for c in range(d):
            grads[0, c] = 0.0
    if optimizer == ADAGRAD:
        for r in range(1, n_rows):
            if touched[r] == 0:
                continue
            for c in range(d):
                g = grads[r, c] + decay * params[r, c]
                grads[r, c] = 0.0
                a = m[r, c]
                params[r, c] -= lr / np.sqrt(a) * g
                m[r, c] = a + g * g
        return
    step_size = np.float32(learning_rate / (1.0 - beta1 ** t))
    root2 = np.float32(np.sqrt(1.0 - beta2 ** t))
    b1 = np.float32(beta1)
    b2 = np.float32(beta2)
    one = np.float32(1.0)
    eps = np.float32(epsilon)
    for r in range(1, n_rows):
        has = touched[r] != 0
        for c in range(d):
            g = decay * params[r, c]
            if has:
                g += grads[r, c]
                grads[r, c] = 0.0
            mc = b1 * m[r, c] + (one - b1) * g
            vc = b2 * v[r, c] + (one - b2) * g * g
            m[r, c] = mc
            v[r, c] = vc
            params[r, c] -= step_size * mc / (np.sqrt(vc) / root2 + eps)


@jit.serial
def step_flat(params, grads, m, v, optimizer, learning_rate, beta1, beta2, epsilon, l2, t):
    """One step of a flat parameter vector (the layer weights) from one worker's buffer
    (``grads`` float32[n], zeroed)."""
    n = params.shape[0]
    lr = np.float32(learning_rate)
    decay = np.float32(l2)
    if optimizer == ADAGRAD:
        for j in range(n):
            g = grads[j] + decay * params[j]
            grads[j] = 0.0
            a = m[j]
            params[j] -= lr / np.sqrt(a) * g
            m[j] = a + g * g
        return
    step_size = np.float32(learning_rate / (1.0 - beta1 ** t))
    root2 = np.float32(np.sqrt(1.0 - beta2 ** t))
    b1 = np.float32(beta1)
    b2 = np.float32(beta2)
    one = np.float32(1.0)
    eps = np.float32(epsilon)
    for j in range(n):
        g = grads[j] + decay * params[j]
        grads[j] = 0.0
        mj = b1 * m[j] + (one - b1) * g
        vj = b2 * v[j] + (one - b2) * g * g
        m[j] = mj
        v[j] = vj
        params[j] -= step_size * mj / (np.sqrt(vj) / root2 + eps)


@jit.serial
def hashed_rows(table, hashes, out):
    """Bloom embeddings: ``out[i] = sum_h table[hashes[i, h]]`` (float32[n_items, d])."""
    d = table.shape[1]
    for i in range(hashes.shape[0]):
        for c in range(d):
            out[i, c] = 0.0
        for h in range(hashes.shape[1]):
            row = hashes[i, h]
            for c in range(d):
                out[i, c] += table[row, c]


@jit.serial
def scatter_hashed(grads, touched, hashes, table_grads, table_touched):
    """Move one worker's item-row gradients ``grads`` (float32[n_items, d], zeroed on the
    touched rows) onto the hashed table rows (``table_grads`` float32[n_rows, d])."""
    d = grads.shape[1]
    for i in range(hashes.shape[0]):
        if touched[i] == 0:
            continue
        for h in range(hashes.shape[1]):
            row = hashes[i, h]
            table_touched[row] = 1
            for c in range(d):
                table_grads[row, c] += grads[i, c]
        for c in range(d):
            grads[i, c] = 0.0


@jit.inline
def step_items(E, Eo, b, tied, hashes, E_items, gE, gEo, gb, touched, table_grads,
               table_touched, mE, vE, mEo, vEo, mb, vb, optimizer, learning_rate, beta1,
               beta2, epsilon, l2, t):
    """The item part of one worker's step: embeddings (the hashed table with Bloom:
    ``hashes`` not None, ``E_items`` then the worker's effective rows), output
    embeddings (untied), biases; resets ``touched``."""
    if hashes is None:
        step_rows(E, gE, touched, mE, vE, optimizer, learning_rate, beta1, beta2, epsilon,
                  l2, t)
    else:
        scatter_hashed(gE, touched, hashes, table_grads, table_touched)
        step_rows(E, table_grads, table_touched, mE, vE, optimizer, learning_rate, beta1,
                  beta2, epsilon, l2, t)
        table_touched[:] = 0
    if not tied:
        step_rows(Eo, gEo, touched, mEo, vEo, optimizer, learning_rate, beta1, beta2,
                  epsilon, l2, t)
    n_items = b.shape[0]
    step_rows(b.reshape((n_items, 1)), gb.reshape((n_items, 1)), touched,
              mb.reshape((n_items, 1)), vb.reshape((n_items, 1)), optimizer, learning_rate,
              beta1, beta2, epsilon, l2, t)
    touched[:] = 0


@jit.inline
def step_worker(steps, theta, g, m_theta, v_theta, E, Eo, b, tied, hashes, E_items, gE, gEo,
                gb, touched, table_grads, table_touched, mE, vE, mEo, vEo, mb, vb, optimizer,
                learning_rate, beta1, beta2, epsilon, l2):
    """One worker's whole step after its minibatch: takes the next step number from
    ``steps`` (int64[1], shared), then steps the layer weights ``theta`` from ``g``
    (``step_flat``; skipped when ``theta`` is None, as for pooling) and the item tables
    (``step_items``)."""
    t = fetch_add(steps, 1) + 1
    if theta is not None:
        step_flat(theta, g, m_theta, v_theta, optimizer, learning_rate, beta1, beta2,
                  epsilon, l2, t)
    step_items(E, Eo, b, tied, hashes, E_items, gE, gEo, gb, touched, table_grads,
               table_touched, mE, vE, mEo, vEo, mb, vb, optimizer, learning_rate, beta1,
               beta2, epsilon, l2, t)
