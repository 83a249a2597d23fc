"""Order-independent aggregation of per-user metric values.

``evaluate`` reports, per metric, the mean over users and its standard error. To make the
single-process result and a partitioned (e.g. Dask) result *identical*, the sums over
users are exact: each part of the users reduces its values to a few non-overlapping
floats whose exact sum is the exact sum of the values (Shewchuk's expansion, the
algorithm behind ``math.fsum``), and the parts' expansions are added by ``math.fsum``,
which rounds the exact total once. The exact total does not depend on how the users were
split or ordered, so neither does the reported mean (an average of averages would).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pandas as pd
from numba import njit

#: Non-overlapping float64 partials never exceed ~40 (2098 exponent bits / 53); the
#: buffer is larger so that the bound is never the limit.
_MAX_PARTIALS = 128


@njit(cache=True, nogil=True)
def _expansion(values, squares):  # pragma: no cover - numba
    """Shewchuk partials of ``values`` (or of their squares): exact sum, few floats."""
    partials = np.zeros(_MAX_PARTIALS)
    count = 0
    for index in range(values.shape[0]):
        x = values[index] * values[index] if squares else values[index]
        kept = 0
        for j in range(count):
            y = partials[j]
            if abs(x) < abs(y):
                x, y = y, x
            high = x + y
            low = y - (high - x)
            if low != 0.0:
                partials[kept] = low
                kept += 1
            x = high
        partials[kept] = x
        count = kept + 1
    return partials[:count].copy()


def exact_partials(values: np.ndarray, squares: bool = False) -> np.ndarray:
    """Floats whose exact sum is the exact sum of ``values`` (or of their squares).

    Parameters
    ----------
    values : array of finite floats
    squares : bool, default False
        Sum ``values ** 2`` (each square rounded to float64 first) instead.

    Returns
    -------
    float64 array
        At most a few dozen non-overlapping partials; ``math.fsum`` of them (together
        with other parts' partials) is the correctly rounded total.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("metric values must be finite to be summed exactly.")
    return _expansion(values, squares)


@dataclass
class EvaluationParts:
    """Everything ``evaluate`` needs from one part of the users, combinable exactly.

    ``sums[(metric, k)]`` holds the exact partials of the values and of their squares
    (``k`` is None for auc and reciprocal_rank); ``covered[k]`` marks the items present in
    some top-``k`` list.
    """

    metrics: tuple[str, ...]
    ks: tuple[int, ...]
    n_items: int
    n_users: int = 0
    sums: dict = field(default_factory=dict)
    covered: dict = field(default_factory=dict)

    def add_values(self, metric: str, k: int | None, values: np.ndarray) -> None:
        """Record one metric's per-user values (one per user of this part)."""
        self.sums[(metric, k)] = (exact_partials(values), exact_partials(values, True))

    def add_coverage(self, k: int, top_items: np.ndarray) -> None:
        """Record the items of the top-``k`` lists (``-1`` entries are padding)."""
        covered = np.zeros(self.n_items, dtype=bool)
        items = top_items[:, :k]
        covered[items[items >= 0]] = True
        self.covered[k] = covered


def combine_parts(parts: Sequence[EvaluationParts]) -> EvaluationParts:
    """One ``EvaluationParts`` for the union of the parts' (disjoint) users."""
    if not parts:
        raise ValueError("combine_parts needs at least one part.")
    first = parts[0]
    for part in parts[1:]:
        if (part.metrics, part.ks, part.n_items) != (first.metrics, first.ks, first.n_items):
            raise ValueError("parts evaluated different metrics, cut-offs or item counts.")
    total = EvaluationParts(first.metrics, first.ks, first.n_items,
                            sum(part.n_users for part in parts))
    for key in first.sums:
        total.sums[key] = tuple(np.concatenate([part.sums[key][i] for part in parts])
                                for i in (0, 1))
    for k in first.covered:
        total.covered[k] = np.logical_or.reduce([part.covered[k] for part in parts])
    return total


def _mean_and_stderr(partials: tuple[np.ndarray, np.ndarray], n: int
                     ) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    total = math.fsum(partials[0])
    if n == 1:
        return total / n, float("nan")
    # The variance from the two exact sums, in exact rational arithmetic so that the
    # subtraction does not cancel: sum(x^2) - sum(x)^2 / n, over n - 1, then / n.
    sum_x = Fraction(total)
    variance = (Fraction(math.fsum(partials[1])) - sum_x * sum_x / n) / (n - 1)
    return total / n, math.sqrt(max(float(variance), 0.0) / n)


def summarise(parts: EvaluationParts) -> pd.DataFrame:
    """The tidy table of ``evaluate``: ``metric, k, mean, stderr, n_users``."""
    rows = []
    n = parts.n_users
    for name in parts.metrics:
        cuts: Sequence[int | None] = (None,) if name in ("auc", "reciprocal_rank") \
            else parts.ks
        for cut in cuts:
            label = pd.NA if cut is None else cut
            if name == "coverage":
                share = parts.covered[cut].sum() / max(parts.n_items, 1)
                rows.append((name, label, float(share), float("nan"), n))
            else:
                rows.append((name, label, *_mean_and_stderr(parts.sums[(name, cut)], n), n))
    frame = pd.DataFrame(rows, columns=["metric", "k", "mean", "stderr", "n_users"])
    frame["k"] = frame["k"].astype("Int64")
    return frame
