"""Float32 sigmoid and tanh as straight-line arithmetic, so that loops over them vectorise.

``np.exp`` and ``np.tanh`` on float32 compile to calls of libm's ``expf`` / ``tanhf``,
one element at a time: in the LSTM kernels (five activations per hidden unit and step)
those calls took about a third of the training time. Here ``exp`` and ``expm1`` are
evaluated in float64 from the usual reduction ``y = k ln 2 + r`` (``|r| <= ln 2 / 2``,
``2^k`` built from its exponent bits, a degree-10 polynomial for ``expm1(r)``), with no
branch and no call, and rounded to float32 once:

* ``sigmoid32(x) = 1 / (1 + exp(-x))`` evaluated as before in float32, with ``exp(-x)``
  the float64 value rounded to float32 (the correctly rounded ``expf``, which libm's
  is within its documented error; overflow to inf and so 0 beyond ``x < -88.7`` as
  before).
* ``tanh32(x)``: float64 ``-t / (t + 2)`` with ``t = expm1(-2|x|)`` (no cancellation
  near 0), rounded to float32: within one rounding of the exact value; glibc's
  ``tanhf`` is accurate to about one unit in the last place, so the two differ in the
  last bit now and then.

NaN propagates through both (every clamp is written as a comparison that NaN fails).
"""

import numpy as np

from . import _jit as jit

_INV_LN2 = 1.4426950408889634
_LN2_HI = 0.6931471803691238        # ln 2 split so that k * _LN2_HI is exact
_LN2_LO = 1.9082149292705877e-10
#: Adding 1.5 * 2^52 rounds a float64 of magnitude < 2^51 to an integer held in the low
#: mantissa bits (no float-to-int conversion, which AVX2 has no vector instruction for).
_SHIFTER = 6755399441055744.0
_SHIFTER_BITS = 0x4338000000000000
#: Beyond these the float32 results are saturated (sigmoid: exp(-x) over- or underflows
#: float32; tanh(20) rounds to 1).
_EXP_LIMIT = 104.0
_TANH_LIMIT = 20.0


@jit.inline
def expm1_parts(y):
    """``(2^k, expm1(r))`` with ``y = k ln 2 + r`` for float64 ``|y| <= 708``, so that
    ``exp(y) = 2^k (1 + expm1(r))`` and ``expm1(y) = 2^k expm1(r) + (2^k - 1)``."""
    shifted = y * _INV_LN2 + _SHIFTER
    k = shifted - _SHIFTER
    r = (y - k * _LN2_HI) - k * _LN2_LO
    # Taylor series of expm1 to r^10 (remainder < 3e-13 relative for |r| <= ln 2 / 2).
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    q0 = 1.0 + r * 0.5
    q1 = 1.0 / 6.0 + r * (1.0 / 24.0)
    q2 = 1.0 / 120.0 + r * (1.0 / 720.0)
    q3 = 1.0 / 5040.0 + r * (1.0 / 40320.0)
    q4 = 1.0 / 362880.0 + r * (1.0 / 3628800.0)
    p = r * ((q0 + r2 * q1) + r4 * (q2 + r2 * q3) + r8 * q4)
    bits = np.float64(shifted).view(np.int64) - _SHIFTER_BITS
    scale = np.int64((bits + 1023) << 52).view(np.float64)
    return scale, p


@jit.inline
def sigmoid32(x):
    """``1 / (1 + exp(-x))`` of a float32, in float32."""
    y = -np.float64(x)
    if y > _EXP_LIMIT:
        y = _EXP_LIMIT
    if y < -_EXP_LIMIT:
        y = -_EXP_LIMIT
    scale, p = expm1_parts(y)
    e = np.float32(scale * (1.0 + p))
    return np.float32(1.0) / (np.float32(1.0) + e)


@jit.inline
def tanh32(x):
    """``tanh`` of a float32, in float32."""
    a = np.float64(x)
    negative = a < 0.0
    if negative:
        a = -a
    if a > _TANH_LIMIT:
        a = _TANH_LIMIT
    scale, p = expm1_parts(-2.0 * a)
    t = scale * p + (scale - 1.0)
    value = -t / (t + 2.0)
    if negative:
        value = -value
    if x == 0.0:
        value = x  # keeps the sign of zero, as tanh(+-0) = +-0
    return np.float32(value)
