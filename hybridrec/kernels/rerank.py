"""Re-ranking of candidate lists: maximal marginal relevance (MMR)."""

import numpy as np
from numba import prange

from . import _jit as jit


@jit.parallel
def mmr(candidates, relevance, unit_items, k, weight, out_items, out_positions):
    """Greedy maximal-marginal-relevance selection of ``k`` of each row's candidates.

    Step by step, the candidate maximising ``(1 - weight) * rel - weight * max_sim``
    is taken, where ``rel`` is the candidate's relevance min-max scaled to [0, 1] within
    its row and ``max_sim`` its largest cosine similarity to the items already taken
    (0 before the first); ties go to the earlier candidate (the better-ranked one).

    Parameters
    ----------
    candidates : int32[m, c]
        Candidate items per row, best first, ``-1`` padded.
    relevance : float32[m, c]
        Their relevance (e.g. the ranking score), ``-inf`` where padded.
    unit_items : float32[n_items, d]
        L2-normalised item vectors (cosine = dot product).
    k : int
        Items to select per row.
    weight : float
        Diversity weight in [0, 1]: 0 keeps the relevance order.
    out_items : int32[m, k]
        Receives the selected items (``-1`` when fewer than ``k`` candidates).
    out_positions : int32[m, k]
        Receives their positions in the row's candidates (``-1`` likewise).
    """
    m, c = candidates.shape
    d = unit_items.shape[1]
    for row in prange(m):
        valid = 0
        while valid < c and candidates[row, valid] >= 0:
            valid += 1
        low = np.inf
        high = -np.inf
        for j in range(valid):
            value = relevance[row, j]
            low = min(low, value)
            high = max(high, value)
        span = high - low
        taken = np.zeros(c, dtype=np.bool_)
        max_sim = np.zeros(c, dtype=np.float64)
        for step in range(k):
            best = -1
            best_value = -np.inf
            for j in range(valid):
                if taken[j]:
                    continue
                rel = (relevance[row, j] - low) / span if span > 0 else 1.0
                value = (1.0 - weight) * rel - weight * max_sim[j]
                if value > best_value:
                    best_value = value
                    best = j
            if best < 0:
                out_items[row, step] = -1
                out_positions[row, step] = -1
                continue
            taken[best] = True
            chosen = candidates[row, best]
            out_items[row, step] = chosen
            out_positions[row, step] = best
            for j in range(valid):
                if taken[j]:
                    continue
                item = candidates[row, j]
                similarity = 0.0
                for t in range(d):
                    similarity += unit_items[item, t] * unit_items[chosen, t]
                if similarity > max_sim[j]:
                    max_sim[j] = similarity
