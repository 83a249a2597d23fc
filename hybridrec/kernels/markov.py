"""Sampling an n-th order Markov chain (``hybridrec.spotlight.datasets.synthetic``)."""

from . import _jit as jit


@jit.serial
def _mixed_cdf(cumulative, state, column):
    """Mean over the chain's last states of their cumulative transition probabilities at
    ``column``; the states are added in order and the sum divided by their number, the
    arithmetic of NumPy's ``cumulative[state].mean(axis=0)`` (so the same bits)."""
    total = cumulative[state[0], column]
    for m in range(1, state.shape[0]):
        total += cumulative[state[m], column]
    return total / state.shape[0]


@jit.serial
def sample_chain(cumulative, state, uniforms, out):
    """Draw ``out.shape[0]`` states of a Markov chain of order ``state.shape[0]``.

    Step ``t`` mixes the rows of ``cumulative`` (float64, ``(n_states, n_states)``, each
    row the cumulative sum of a transition distribution) of the current states
    (``state``, int64, most recent last; updated in place) by their mean, and takes
    the first column whose mixed value is ``>= uniforms[t]`` (float64), capped at
    ``n_states - 1``: NumPy's ``searchsorted(row, u)`` (side 'left') on the mixed row,
    found by bisection since the row is non-decreasing. ``out`` is int32.
    """
    n_states = cumulative.shape[0]
    order = state.shape[0]
    for t in range(out.shape[0]):
        u = uniforms[t]
        low = 0
        high = n_states
        while low < high:
            middle = (low + high) // 2
            if _mixed_cdf(cumulative, state, middle) < u:
                low = middle + 1
            else:
                high = middle
        new_state = min(n_states - 1, low)
        for m in range(order - 1):
            state[m] = state[m + 1]
        state[order - 1] = new_state
        out[t] = new_state
