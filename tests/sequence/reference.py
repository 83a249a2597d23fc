"""Float64 NumPy reference of the sequence networks: forward, loss and backward.

Written directly from Spotlight's definitions (spotlight/sequence/representations.py and
spotlight/losses.py), one padded sequence at a time, over every position including the
padding (no shared-prefix shortcut, no per-item caches): the kernels must agree with it,
and its gradients are checked against finite differences.

Item id 0 is the padding item: its embedding row is zero and frozen, its bias zero.
A sequence ``x`` of length ``L`` gives representations ``R[0..L]``; ``R[u]`` is computed
from ``x[:u]`` and scores the target ``x[u]`` (``u < L``, masked where ``x[u] == 0``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tests import naive

POINTWISE, BPR, HINGE, ADAPTIVE_HINGE, ADAPTIVE_BPR = range(5)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Network:
    """Parameters (float64) and configuration of one representation."""

    kind: str                      # pooling | cnn | lstm | mixture
    params: dict
    window: int = 0                # pooling: 0 = every preceding item
    shrink: float = 1.0            # pooling: divide by count + shrink
    kernel_width: tuple = (3,)
    dilation: tuple = (1,)
    relu: bool = False
    residual: bool = True
    num_mixtures: int = 4
    hashes: np.ndarray | None = None   # Bloom: (n_items, n_hashes) rows of params["E"]
    tied: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def d(self) -> int:
        return self.params["E"].shape[1]

    def item_vectors(self) -> np.ndarray:
        """Effective item embeddings (sum of the hashed rows with Bloom)."""
        table = self.params["E"]
        if self.hashes is None:
            return table
        return table[self.hashes].sum(axis=1)

    def output_vectors(self) -> np.ndarray:
        return self.item_vectors() if self.tied else self.params["Eo"]


def init_network(kind: str, n_items: int, d: int, rng: np.random.Generator, *,
                 scale: float = 0.3, tied: bool = True, n_rows: int | None = None,
                 **config) -> Network:
    """Random parameters (padding row zero) for tests."""
    rows = n_items if n_rows is None else n_rows
    params = {"E": rng.normal(0, scale, (rows, d)), "b": rng.normal(0, scale, n_items)}
    params["E"][0] = 0.0
    params["b"][0] = 0.0
    if not tied:
        params["Eo"] = rng.normal(0, scale, (n_items, d))
        params["Eo"][0] = 0.0
    net = Network(kind, params, tied=tied, **config)
    if kind == "cnn":
        for layer, width in enumerate(net.kernel_width):
            params[f"W{layer}"] = rng.normal(0, scale, (width, d, d))   # [tap, out, in]
            params[f"c{layer}"] = rng.normal(0, scale, d)
    if kind in ("lstm", "mixture"):
        params["W_ih"] = rng.normal(0, scale, (4 * d, d))
        params["W_hh"] = rng.normal(0, scale, (4 * d, d))
        params["b_ih"] = rng.normal(0, scale, 4 * d)
        params["b_hh"] = rng.normal(0, scale, 4 * d)
    if kind == "mixture":
        m = net.num_mixtures
        params["P"] = rng.normal(0, scale, (2 * m * d, d))
        params["bP"] = rng.normal(0, scale, 2 * m * d)
    return net


# ----------------------------------------------------------------------------- forward

def forward(net: Network, row: np.ndarray) -> tuple[np.ndarray, dict]:
    """Representations ``R`` (L + 1, width) of one padded row, and the cache."""
    E = net.item_vectors()
    x = np.asarray(row)
    L = x.shape[0]
    h0 = E[x]                                     # (L, d); row 0 of E is zero
    cache = {"x": x, "h0": h0}
    if net.kind == "pooling":
        R = np.zeros((L + 1, net.d))
        denominators = np.zeros(L + 1)
        for u in range(L + 1):
            first = 0 if net.window == 0 else max(0, u - net.window)
            count = np.count_nonzero(x[first:u])
            denominators[u] = count + net.shrink
            if denominators[u] > 0:
                R[u] = h0[first:u].sum(axis=0) / denominators[u]
        cache["denominators"] = denominators
        return R, cache
    if net.kind == "cnn":
        return _cnn_forward(net, h0, cache)
    H, cache = _lstm_forward(net, h0, cache)
    if net.kind == "lstm":
        return H, cache
    proj = H @ net.params["P"].T + net.params["bP"]
    return proj, cache


def _tap(values: np.ndarray, index: int) -> np.ndarray:
    return values[index] if index >= 0 else np.zeros(values.shape[1])


def _cnn_forward(net, h0, cache):
    L = h0.shape[0]
    f = (lambda v: np.maximum(v, 0.0)) if net.relu else np.tanh
    current = None
    layers = []
    for layer, (width, dil) in enumerate(zip(net.kernel_width, net.dilation, strict=True)):
        W, c = net.params[f"W{layer}"], net.params[f"c{layer}"]
        pre = np.zeros((L + 1, net.d))
        for u in range(L + 1):
            pre[u] = c
            for a in range(width):
                if layer == 0:
                    source = _tap(h0, u - 1 - (width - 1 - a) * dil)
                else:
                    source = _tap(current, u - (width - 1 - a) * dil)
                pre[u] += W[a] @ source
        y = f(pre)
        if net.residual:
            if layer == 0:
                out = y + np.vstack([np.zeros((1, net.d)), h0])
            else:
                out = y + current
        else:
            out = y
        layers.append((current, pre, y))
        current = out
    cache["layers"] = layers
    return current, cache


def _lstm_forward(net, h0, cache):
    d = net.d
    L = h0.shape[0]
    z = np.vstack([np.zeros((1, d)), h0])         # (L + 1, d): the prepended zero
    p = net.params
    h = np.zeros(d)
    c = np.zeros(d)
    H = np.zeros((L + 1, d))
    steps = []
    for u in range(L + 1):
        gates = p["W_ih"] @ z[u] + p["b_ih"] + p["W_hh"] @ h + p["b_hh"]
        i, f, g, o = (sigmoid(gates[:d]), sigmoid(gates[d:2 * d]), np.tanh(gates[2 * d:3 * d]),
                      sigmoid(gates[3 * d:]))
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        steps.append((h, c, i, f, g, o, c_new))
        h, c = h_new, c_new
        H[u] = h
    cache["z"] = z
    cache["steps"] = steps
    cache["H"] = H
    return H, cache


# ------------------------------------------------------------------------- scoring head

def score(net: Network, r: np.ndarray, item: int) -> float:
    """Score of ``item`` given one representation row ``r``."""
    Eo = net.output_vectors()
    e = Eo[item]
    if net.kind != "mixture":
        return float(r @ e + net.params["b"][item])
    m, d = net.num_mixtures, net.d
    comps = r.reshape(2 * m, d)
    logits = comps[m:] @ e
    w = np.exp(logits - logits.max())
    w /= w.sum()
    return float((w @ comps[:m]) @ e + net.params["b"][item])


def score_backward(net: Network, r: np.ndarray, item: int, ds: float, dr: np.ndarray,
                   dEo: np.ndarray, db: np.ndarray) -> None:
    """Add d(score)/d(r, Eo[item], b[item]) times ``ds``."""
    Eo = net.output_vectors()
    e = Eo[item]
    db[item] += ds
    if net.kind != "mixture":
        dr += ds * e
        dEo[item] += ds * r
        return
    m, d = net.num_mixtures, net.d
    comps = r.reshape(2 * m, d)
    logits = comps[m:] @ e
    w = np.exp(logits - logits.max())
    w /= w.sum()
    user = w @ comps[:m]
    dcomps = dr.reshape(2 * m, d)
    dEo[item] += ds * user
    dcomps[:m] += ds * np.outer(w, e)
    dw = ds * (comps[:m] @ e)
    dlogits = w * (dw - w @ dw)
    dcomps[m:] += np.outer(dlogits, e)
    dEo[item] += dlogits @ comps[m:]


# --------------------------------------------------------------------------------- loss

def loss_terms(mode: int, s_pos: float, s_negs: np.ndarray) -> tuple[float, float, np.ndarray]:
    """``(loss, dl/ds_pos, dl/ds_negs)`` of one target position."""
    g_negs = np.zeros_like(s_negs)
    if mode == POINTWISE:
        loss = (1.0 - sigmoid(s_pos)) + sigmoid(s_negs[0])
        g_pos = -sigmoid(s_pos) * (1 - sigmoid(s_pos))
        g_negs[0] = sigmoid(s_negs[0]) * (1 - sigmoid(s_negs[0]))
        return loss, g_pos, g_negs
    if mode == BPR:
        x = s_pos - s_negs[0]
        loss = 1.0 - sigmoid(x)
        g = sigmoid(x) * (1 - sigmoid(x))
        g_negs[0] = g
        return loss, -g, g_negs
    k = int(np.argmax(s_negs)) if mode in (ADAPTIVE_HINGE, ADAPTIVE_BPR) else 0
    x = s_pos - s_negs[k]
    if mode == ADAPTIVE_BPR:
        loss = np.logaddexp(0.0, -x)               # -log sigmoid(x)
        g = sigmoid(-x)
        g_negs[k] = g
        return loss, -g, g_negs
    loss = max(0.0, 1.0 - x)
    g = 1.0 if 1.0 - x > 0 else 0.0
    g_negs[k] = g
    return loss, -g, g_negs


def draw_negatives(rows: list[np.ndarray], mode: int, n_negatives: int, n_items: int,
                   block_size: int, seeds: list[int]) -> list[list[np.ndarray | None]]:
    """The kernels' negatives: block ``b`` (rows ``b * block_size ...``, a minibatch) draws from
    ``seeds[b]``, rows in order, targets in order, masked targets drawing nothing."""
    count = n_negatives if mode in (ADAPTIVE_HINGE, ADAPTIVE_BPR) else 1
    out = []
    for b in range((len(rows) + block_size - 1) // block_size):
        state = seeds[b]
        for row in rows[b * block_size:(b + 1) * block_size]:
            per_position = []
            for t in range(len(row)):
                if row[t] == 0:
                    per_position.append(None)
                    continue
                drawn = np.empty(count, dtype=np.int64)
                for j in range(count):
                    state, drawn[j] = naive.draw_below(state, n_items)
                per_position.append(drawn)
            out.append(per_position)
    return out


def batch_loss(net: Network, rows: list[np.ndarray], negatives, mode: int) -> float:
    """Mean loss over the masked target positions of ``rows``."""
    total, count = 0.0, 0
    for row, negs in zip(rows, negatives, strict=True):
        R, _ = forward(net, row)
        for t in range(len(row)):
            if row[t] == 0:
                continue
            s_pos = score(net, R[t], row[t])
            s_negs = np.array([score(net, R[t], j) for j in negs[t]])
            total += loss_terms(mode, s_pos, s_negs)[0]
            count += 1
    return total / max(count, 1)


# ----------------------------------------------------------------------------- backward

def batch_gradients(net: Network, rows: list[np.ndarray], negatives, mode: int
                    ) -> tuple[float, dict]:
    """Mean loss and its gradient with respect to every parameter (padding rows zero)."""
    grads = {name: np.zeros_like(value) for name, value in net.params.items()}
    n_items = net.params["b"].shape[0]
    d = net.d
    dE_eff = np.zeros((n_items, d))
    dEo = dE_eff if net.tied else grads["Eo"]
    count = sum(int(np.count_nonzero(row)) for row in rows)
    scale = 1.0 / max(count, 1)
    total = 0.0
    for row, negs in zip(rows, negatives, strict=True):
        R, cache = forward(net, row)
        dR = np.zeros_like(R)
        for t in range(len(row)):
            if row[t] == 0:
                continue
            s_pos = score(net, R[t], row[t])
            s_negs = np.array([score(net, R[t], j) for j in negs[t]])
            loss, g_pos, g_negs = loss_terms(mode, s_pos, s_negs)
            total += loss
            score_backward(net, R[t], row[t], scale * g_pos, dR[t], dEo, grads["b"])
            for j, g in zip(negs[t], g_negs, strict=True):
                if g != 0.0:
                    score_backward(net, R[t], j, scale * g, dR[t], dEo, grads["b"])
        _representation_backward(net, cache, dR, dE_eff, grads)
    if net.hashes is None:
        grads["E"] += dE_eff
    else:
        for item in range(n_items):
            for h in net.hashes[item]:
                grads["E"][h] += dE_eff[item]
    grads["E"][0] = 0.0
    grads["b"][0] = 0.0
    if not net.tied:
        grads["Eo"][0] = 0.0
    return total * scale, grads


def _representation_backward(net, cache, dR, dE, grads):
    x = cache["x"]
    L = x.shape[0]
    if net.kind == "pooling":
        for u in range(L + 1):
            if cache["denominators"][u] <= 0:
                continue
            first = 0 if net.window == 0 else max(0, u - net.window)
            for j in range(first, u):
                dE[x[j]] += dR[u] / cache["denominators"][u]
        return
    if net.kind == "cnn":
        dh0 = _cnn_backward(net, cache, dR, grads)
        for t in range(L):
            dE[x[t]] += dh0[t]
        return
    dH = dR
    if net.kind == "mixture":
        grads["P"] += dR.T @ cache["H"]
        grads["bP"] += dR.sum(axis=0)
        dH = dR @ net.params["P"]
    dz = _lstm_backward(net, cache, dH, grads)
    for t in range(L):
        dE[x[t]] += dz[t + 1]


def _cnn_backward(net, cache, dR, grads):
    h0 = cache["h0"]
    L = h0.shape[0]
    d = net.d
    dh0 = np.zeros((L, d))
    dout = dR.copy()
    for layer in range(len(net.kernel_width) - 1, -1, -1):
        width, dil = net.kernel_width[layer], net.dilation[layer]
        W = net.params[f"W{layer}"]
        source, pre, y = cache["layers"][layer]
        dy = dout
        dpre = dy * ((pre > 0).astype(float) if net.relu else (1 - y * y))
        dsource = np.zeros((L + 1, d)) if layer > 0 else None
        if net.residual:
            if layer == 0:
                dh0 += dout[1:]
            else:
                dsource += dout
        grads[f"c{layer}"] += dpre.sum(axis=0)
        for u in range(L + 1):
            for a in range(width):
                if layer == 0:
                    index = u - 1 - (width - 1 - a) * dil
                    if index < 0:
                        continue
                    grads[f"W{layer}"][a] += np.outer(dpre[u], h0[index])
                    dh0[index] += W[a].T @ dpre[u]
                else:
                    index = u - (width - 1 - a) * dil
                    if index < 0:
                        continue
                    grads[f"W{layer}"][a] += np.outer(dpre[u], source[index])
                    dsource[index] += W[a].T @ dpre[u]
        dout = dsource
    return dh0


def _lstm_backward(net, cache, dH, grads):
    d = net.d
    p = net.params
    z = cache["z"]
    steps = cache["steps"]
    dz = np.zeros_like(z)
    dh_next = np.zeros(d)
    dc_next = np.zeros(d)
    for u in range(z.shape[0] - 1, -1, -1):
        h_prev, c_prev, i, f, g, o, c = steps[u]
        dh = dH[u] + dh_next
        tc = np.tanh(c)
        do = dh * tc
        dc = dh * o * (1 - tc * tc) + dc_next
        di = dc * g
        dg = dc * i
        df = dc * c_prev
        dgates = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g),
                                 do * o * (1 - o)])
        grads["W_ih"] += np.outer(dgates, z[u])
        grads["W_hh"] += np.outer(dgates, h_prev)
        grads["b_ih"] += dgates
        grads["b_hh"] += dgates
        dz[u] = p["W_ih"].T @ dgates
        dh_next = p["W_hh"].T @ dgates
        dc_next = dc * f
    return dz


def final_scores(net: Network, row: np.ndarray) -> np.ndarray:
    """Scores of every item after the whole row (Spotlight's ``predict``)."""
    R, _ = forward(net, row)
    n_items = net.params["b"].shape[0]
    return np.array([score(net, R[-1], j) for j in range(n_items)])
