"""Per-thread random numbers: xorshift64* on a uint64 state passed by value.

Each parallel block copies its state out of a ``uint64`` array seeded in Python from the
estimator's generator, advances it locally and writes it back, so no two threads share a
stream and ``numpy.random`` is never called inside a kernel.
"""

import numpy as np

from . import _jit as jit

_SHIFT_A = np.uint64(12)
_SHIFT_B = np.uint64(25)
_SHIFT_C = np.uint64(27)
_MULTIPLIER = np.uint64(0x2545F4914F6CDD1D)
_HIGH_BITS = np.uint64(33)


@jit.serial
def next_state(state):
    """Advance a xorshift64* state (uint64, never 0) by one step."""
    state ^= state >> _SHIFT_A
    state ^= state << _SHIFT_B
    state ^= state >> _SHIFT_C
    return state


#: Bounds up to this are drawn from 31 bits; larger ones (a pool with one entry per
#: interaction, past 2**31 interactions) from all 64, or positions >= 2**31 could never
#: be drawn.
_NARROW_BOUND = 2**31


@jit.serial
def draw_below(state, bound):
    """Return ``(new_state, r)`` with ``r`` uniform in ``[0, bound)``, ``1 <= bound < 2**63``.

    Bounds up to 2**31 take the high 31 bits of the multiplied state (the best-mixed
    ones) modulo ``bound``; larger bounds the full 64-bit output modulo ``bound`` (bias
    below bound / 2**64). The draws for bounds up to 2**31 are the same as before the
    wide branch existed.
    """
    state = next_state(state)
    if bound <= _NARROW_BOUND:
        value = (state * _MULTIPLIER) >> _HIGH_BITS
    else:
        value = state * _MULTIPLIER
    return state, np.int64(value % np.uint64(bound))
