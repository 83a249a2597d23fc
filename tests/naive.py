"""Plain NumPy / Python reference implementations of the kernels (float64, one example
at a time), written from the formulas in hybridrec.kernels' docstrings and LightFM's notes.

Tests run a kernel and its reference on the same tiny problem, with the same example
order and the same RNG seed, and compare every parameter array.
"""

from __future__ import annotations

import math

import numpy as np

_MASK = (1 << 64) - 1


def next_state(state: int) -> int:
    state ^= state >> 12
    state ^= (state << 25) & _MASK
    state ^= state >> 27
    return state


def draw_below(state: int, bound: int) -> tuple[int, int]:
    """31 high bits modulo ``bound`` up to ``bound = 2**31``, all 64 bits beyond."""
    state = next_state(state)
    value = (state * 0x2545F4914F6CDD1D) & _MASK
    if bound <= 1 << 31:
        value >>= 33
    return state, value % bound


def shuffle_slot(state: int, m: int) -> tuple[int, int]:
    """Where the inside-out Fisher-Yates shuffle puts its ``m``-th element, in [0, m]."""
    state = next_state(state)
    value = (state * 0x2545F4914F6CDD1D) & _MASK
    if m < 1 << 31:
        return state, ((value >> 33) * (m + 1)) >> 31
    return state, value % (m + 1)


class NaiveModel:
    """Parameters in float64 with dense feature matrices.

    ``trainable`` (optional) maps a side to a boolean array over its feature rows: rows
    marked False are frozen, i.e. read as usual but never stepped, and not counted among
    the features an example stepped (the L2 bookkeeping). ``parts`` (optional) maps a
    side to the kernels' per-row values instead (0 frozen, 1 trainable, 2 embedding
    only, 3 bias only): the part that does not train is stepped with a zero gradient.
    """

    def __init__(self, params: dict[str, np.ndarray], user_features: np.ndarray,
                 item_features: np.ndarray, learning_rate: float, rho: float, epsilon: float,
                 adadelta: bool, trainable: dict[str, np.ndarray] | None = None,
                 parts: dict[str, np.ndarray] | None = None) -> None:
        self.p = {name: value.astype(np.float64).copy() for name, value in params.items()}
        self.features = {"user": user_features.astype(np.float64),
                         "item": item_features.astype(np.float64)}
        self.learning_rate = learning_rate
        self.rho = rho
        self.epsilon = epsilon
        self.adadelta = adadelta
        self.trainable = {side: np.ones(self.features[side].shape[1], dtype=bool)
                          for side in ("user", "item")}
        for side, rows in (trainable or {}).items():
            self.trainable[side] = np.asarray(rows, dtype=bool)
        self.parts = {side: np.ones(self.features[side].shape[1], dtype=np.uint8)
                      for side in ("user", "item")}
        for side, values in (parts or {}).items():
            self.parts[side] = np.asarray(values, dtype=np.uint8)
            self.trainable[side] = self.parts[side] > 0

    def representation(self, side: str, row: int) -> tuple[np.ndarray, float]:
        weights = self.features[side][row]
        return weights @ self.p[f"{side}_embeddings"], float(weights @ self.p[f"{side}_biases"])

    def _step(self, value: float, grad: float, accum: float, momentum: float
              ) -> tuple[float, float, float, float]:
        """One scalar step; returns (value, accum, momentum, learning rate used)."""
        if self.adadelta:
            accum = self.rho * accum + (1 - self.rho) * grad * grad
            rate = math.sqrt(momentum + self.epsilon) / math.sqrt(accum + self.epsilon)
            delta = rate * grad
            momentum = self.rho * momentum + (1 - self.rho) * delta * delta
            return value - delta, accum, momentum, rate
        rate = self.learning_rate / math.sqrt(accum)
        return value - rate * grad, accum + grad * grad, momentum, rate

    def update(self, side: str, row: int, direction: np.ndarray, scale: float,
               bias_gradient: float) -> tuple[float, int]:
        """Step every active trainable feature of ``row``; returns (sum of rates, n
        features stepped)."""
        emb = self.p[f"{side}_embeddings"]
        emb_acc = self.p[f"{side}_embedding_gradients"]
        emb_mom = self.p[f"{side}_embedding_momentum"]
        bias = self.p[f"{side}_biases"]
        bias_acc = self.p[f"{side}_bias_gradients"]
        bias_mom = self.p[f"{side}_bias_momentum"]
        rate_sum = 0.0
        active = np.flatnonzero(self.features[side][row] * self.trainable[side])
        for feature in active:
            weight = self.features[side][row, feature]
            part = self.parts[side][feature]
            feature_scale = 0.0 if part == 3 else scale
            feature_bias_gradient = 0.0 if part == 2 else bias_gradient
            for c in range(emb.shape[1]):
                grad = weight * feature_scale * direction[c]
                (emb[feature, c], emb_acc[feature, c], emb_mom[feature, c],
                 rate) = self._step(emb[feature, c], grad, emb_acc[feature, c],
                                    emb_mom[feature, c])
                rate_sum += rate
            grad = weight * feature_bias_gradient
            bias[feature], bias_acc[feature], bias_mom[feature], rate = self._step(
                bias[feature], grad, bias_acc[feature], bias_mom[feature])
            rate_sum += rate
        return rate_sum, len(active)

    def pairwise_update(self, g: float, user: int, positive: int, negative: int,
                        user_repr: np.ndarray, positive_repr: np.ndarray,
                        negative_repr: np.ndarray) -> tuple[float, int]:
        r1, n1 = self.update("item", positive, user_repr, -g, -g)
        r2, n2 = self.update("item", negative, user_repr, g, g)
        r3, n3 = self.update("user", user, negative_repr - positive_repr, g, g)
        return r1 + r2 + r3, n1 + n2 + n3


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _positives(user_ids, item_ids, values, n_users) -> list[set]:
    sets = [set() for _ in range(n_users)]
    for u, i, v in zip(user_ids, item_ids, values, strict=True):
        if v > 0:
            sets[u].add(int(i))
    return sets


def run_epoch(loss: str, model: NaiveModel, user_ids, item_ids, values, weights, order,
              n_users: int, n_items: int, seed: int, *, max_sampled: int = 10,
              k: int = 5, n: int = 10, max_loss: float = 10.0, max_redraws: int = 64,
              user_alpha: float = 0.0, item_alpha: float = 0.0,
              n_negatives: int = 1, uniform_pool: bool = False,
              negative_mixing: float = 0.0) -> tuple[float, float]:
    """One serial epoch of ``loss`` over ``order``; returns the (user, item) log-decay."""
    d = model.p["item_embeddings"].shape[1]
    positives = _positives(user_ids, item_ids, values, n_users)
    pool = [int(i) for i, v in zip(item_ids, values, strict=True) if v > 0]
    if uniform_pool:
        pool = list(range(n_items))
    sorted_positives = [sorted(s) for s in positives]
    # A dislike that is also a like is not an explicit negative (the model drops it).
    known_negatives = [sorted({int(j) for u, j, v in zip(user_ids, item_ids, values,
                                                        strict=True) if u == user and v < 0}
                              - positives[user])
                       for user in range(n_users)]
    state = seed
    log_decay = [0.0, 0.0]

    def record(rate_sum: float, n_features: int) -> None:
        if n_features and (user_alpha > 0 or item_alpha > 0):
            avg = rate_sum / ((d + 1) * n_features)
            log_decay[0] += math.log1p(user_alpha * avg)
            log_decay[1] += math.log1p(item_alpha * avg)

    def warp_search(user, u_repr, positive_score):
        # With negative_mixing, each draw comes from the user's known negatives with that
        # probability (one draw of 2**24 decides, made only for a user with known
        # negatives); draws from either source count alike in ``sampled``.
        nonlocal state
        known = known_negatives[user] if negative_mixing > 0 else []
        for sampled in range(1, max_sampled + 1):
            from_known = False
            if known:
                state, r = draw_below(state, 1 << 24)
                from_known = r < negative_mixing * (1 << 24)
            if from_known:
                state, r = draw_below(state, len(known))
                negative = known[r]
            else:
                state, negative = draw_below(state, n_items)
            neg_repr, neg_bias = model.representation("item", negative)
            if neg_repr @ u_repr + neg_bias > positive_score - 1.0:
                if negative in positives[user]:
                    continue
                return negative, sampled, neg_repr
        return -1, max_sampled, None

    for i in order:
        weight = float(weights[i])
        if weight == 0.0:
            continue
        user, item = int(user_ids[i]), int(item_ids[i])
        if loss == "logistic":
            u_repr, u_bias = model.representation("user", user)
            i_repr, i_bias = model.representation("item", item)
            score = u_repr @ i_repr + u_bias + i_bias
            g = weight * (_sigmoid(score) - (1.0 if values[i] > 0 else 0.0))
            r1, n1 = model.update("item", item, u_repr, g, g)
            r2, n2 = model.update("user", user, i_repr, g, g)
            record(r1 + r2, n1 + n2)
            continue
        if loss in ("regression", "poisson"):
            u_repr, u_bias = model.representation("user", user)
            i_repr, i_bias = model.representation("item", item)
            score = u_repr @ i_repr + u_bias + i_bias
            target = float(values[i])
            # d/ds of (s - y)^2 / 2, and of exp(s) - y s (Poisson NLL, log link).
            g = weight * ((math.exp(score) if loss == "poisson" else score) - target)
            r1, n1 = model.update("item", item, u_repr, g, g)
            r2, n2 = model.update("user", user, i_repr, g, g)
            record(r1 + r2, n1 + n2)
            continue
        if not values[i] > 0:
            continue
        if loss in ("pointwise", "hinge", "adaptive_hinge", "bpr-multi"):
            drawn = []
            known = known_negatives[user]
            for _ in range(n_negatives):
                if negative_mixing > 0 and known:
                    state, r = draw_below(state, 1 << 24)
                    if r < negative_mixing * (1 << 24):
                        state, r = draw_below(state, len(known))
                        drawn.append(known[r])
                        continue
                negative = item
                for _ in range(max_redraws):
                    state, r = draw_below(state, len(pool))
                    negative = pool[r]
                    if negative not in positives[user]:
                        break
                drawn.append(negative)
            if loss == "pointwise":
                steps = [(item, 1.0, 1.0)] + [(j, 0.0, 1.0 / n_negatives) for j in drawn]
                for target, label, scale in steps:
                    u_repr, u_bias = model.representation("user", user)
                    t_repr, t_bias = model.representation("item", target)
                    g = weight * scale * (_sigmoid(u_repr @ t_repr + u_bias + t_bias) - label)
                    r1, n1 = model.update("item", target, u_repr, g, g)
                    r2, n2 = model.update("user", user, t_repr, g, g)
                    record(r1 + r2, n1 + n2)
                continue
            scale = 1.0 / n_negatives
            if loss == "adaptive_hinge":
                u_repr, _ = model.representation("user", user)
                scores = [u_repr @ model.representation("item", j)[0]
                          + model.representation("item", j)[1] for j in drawn]
                drawn = [drawn[int(np.argmax(scores))]]  # first maximum
                scale = 1.0
            for negative in drawn:
                u_repr, _ = model.representation("user", user)
                p_repr, p_bias = model.representation("item", item)
                n_repr, n_bias = model.representation("item", negative)
                x = (u_repr @ p_repr + p_bias) - (u_repr @ n_repr + n_bias)
                if loss == "bpr-multi":
                    g = weight * scale * (1.0 - _sigmoid(x))
                elif x >= 1.0:
                    continue
                else:
                    g = weight * scale
                record(*model.pairwise_update(g, user, item, negative, u_repr, p_repr,
                                              n_repr))
            continue
        if loss == "bpr":
            negative = item
            for _ in range(max_redraws):
                state, r = draw_below(state, len(pool))
                negative = pool[r]
                if negative not in positives[user]:
                    break
            u_repr, _ = model.representation("user", user)
            p_repr, p_bias = model.representation("item", item)
            n_repr, n_bias = model.representation("item", negative)
            x = (u_repr @ p_repr + p_bias) - (u_repr @ n_repr + n_bias)
            g = weight * (1.0 - _sigmoid(x))
            record(*model.pairwise_update(g, user, item, negative, u_repr, p_repr, n_repr))
            continue
        u_repr, _ = model.representation("user", user)
        if loss == "warp":
            positive = item
        else:  # warp-kos
            row = sorted_positives[user]
            drawn = []
            for m in range(min(n, len(row))):
                state, r = draw_below(state, len(row))
                candidate = row[r]
                c_repr, c_bias = model.representation("item", candidate)
                drawn.append((u_repr @ c_repr + c_bias, m, candidate))
            # Descending score; ties keep the earlier draw first (the kernel's insertion
            # sort is stable for equal scores).
            drawn.sort(key=lambda t: (-t[0], t[1]))
            positive = drawn[min(k, len(drawn)) - 1][2]
        p_repr, p_bias = model.representation("item", positive)
        positive_score = u_repr @ p_repr + p_bias
        negative, sampled, n_repr = warp_search(user, u_repr, positive_score)
        if negative < 0:
            continue
        g = min(weight * math.log(max(1.0, math.floor((n_items - 1) / sampled))), max_loss)
        record(*model.pairwise_update(g, user, positive, negative, u_repr, p_repr, n_repr))
    return log_decay[0], log_decay[1]


def ranks(scores: np.ndarray, test: list[list[int]], train: list[set]) -> list[list[float]]:
    """LightFM's predict_rank: #(j != i, j not in train, score_j >= score_i)."""
    out = []
    for user, items in enumerate(test):
        row = []
        for item in items:
            count = 0
            for j in range(scores.shape[1]):
                if j != item and j not in train[user] and scores[user, j] >= scores[user, item]:
                    count += 1
            row.append(float(count))
        out.append(row)
    return out
