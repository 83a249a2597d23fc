"""Per-epoch inputs of the training kernels, built in numba (serial, O(nnz)).

Both used to be NumPy / SciPy calls costing ~45 ms per epoch at MovieLens-1M size
(720k interactions: ``Generator.shuffle`` 18 ms, a sorted CSR through scipy 26 ms),
i.e. 15-20 % of a 2-thread WARP epoch spent on one core.
"""

import numpy as np

from . import _jit as jit
from ._rng import next_state

_MULTIPLIER = np.uint64(0x2545F4914F6CDD1D)
_HIGH_BITS = np.uint64(33)
_LOW_31 = np.uint64(31)
#: Up to this many kept indices, the 31-bit draw below places each one; past it a 31-bit
#: number cannot name every position (nor may ``bits * (m + 1)`` fit in 64 bits).
_NARROW_DRAWS = 2**31


@jit.inline
def shuffle_slot(state, m):
    """``(new_state, j)`` with ``j`` uniform in ``[0, m]``: where the inside-out
    Fisher-Yates shuffle puts its ``m``-th element (``shuffled_active``).

    ``(r * (m + 1)) >> 31`` for 31 random bits ``r`` while ``m + 1 <= 2**31``; beyond, the
    full 64-bit output modulo ``m + 1``.
    """
    state = next_state(state)
    if m < _NARROW_DRAWS:
        bits = (state * _MULTIPLIER) >> _HIGH_BITS
        return state, np.int64((bits * np.uint64(m + 1)) >> _LOW_31)
    return state, np.int64((state * _MULTIPLIER) % np.uint64(m + 1))


@jit.serial
def shuffled_active(weights, values, positive_only, seed):
    """Indices ``i`` with ``weights[i] > 0`` (and ``values[i] > 0`` if ``positive_only``),
    in a uniformly random order.

    Inside-out Fisher-Yates driven by xorshift64* from ``seed`` (uint64, not 0); the
    position for the k-th kept index is ``(r * (k + 1)) >> 31`` for 31 random bits ``r``
    (a multiply instead of a 64-bit division; bias below (k + 1) / 2**31). From the
    2**31-th kept index on (k + 1 > 2**31) it is the full 64-bit output modulo ``k + 1``
    (bias below (k + 1) / 2**64), so every position stays reachable; orders of fewer
    indices are unchanged by that branch.

    Returns
    -------
    int64[m]
        Positions into ``weights`` (int64 whatever ``n``: one compiled specialisation for
        the training kernels' ``order``).
    """
    n = weights.shape[0]
    order = np.empty(n, dtype=np.int64)
    state = np.uint64(seed)
    m = 0
    for i in range(n):
        if not weights[i] > 0.0:
            continue
        if positive_only and not values[i] > 0.0:
            continue
        state, j = shuffle_slot(state, m)
        order[m] = order[j]
        order[j] = i
        m += 1
    if m == n:
        # Every index kept (implicit data): no second buffer, whose int64 copy at the
        # epoch's peak would cost 8 bytes per interaction.
        return order
    return order[:m].copy()


@jit.serial
def positives_lookup(n_rows, n_cols, rows, cols, values):
    """CSR ``(indptr, indices)`` (int64 positions, int32 columns) of the distinct
    ``(row, col)`` with value > 0, columns sorted within each row.

    Input already in (row, col) order (the usual case: files and ``tocoo()`` of a CSR)
    takes one counting pass; otherwise two stable counting sorts (by column, then by
    row), then duplicates are dropped.
    """
    n = rows.shape[0]
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    ordered = True
    last_row = -1
    last_col = -1
    kept = 0
    for i in range(n):
        if not values[i] > 0.0:
            continue
        r = rows[i]
        c = cols[i]
        if r < last_row or (r == last_row and c <= last_col):
            ordered = False
        last_row = r
        last_col = c
        indptr[r + 1] += 1
        kept += 1
    for r in range(n_rows):
        indptr[r + 1] += indptr[r]
    if ordered:
        indices = np.empty(kept, dtype=np.int32)
        k = 0
        for i in range(n):
            if values[i] > 0.0:
                indices[k] = cols[i]
                k += 1
        return indptr, indices
    # Stable counting sort by column, then by row: rows end up sorted by column. The
    # first pass moves packed (row, col) keys so that the second reads them in sequence.
    col_start = np.zeros(n_cols + 1, dtype=np.int64)
    for i in range(n):
        if values[i] > 0.0:
            col_start[cols[i] + 1] += 1
    for c in range(n_cols):
        col_start[c + 1] += col_start[c]
    by_col = np.empty(kept, dtype=np.int64)
    for i in range(n):
        if values[i] > 0.0:
            c = cols[i]
            by_col[col_start[c]] = (np.int64(rows[i]) << 32) | np.int64(c)
            col_start[c] += 1
    fill = indptr[:-1].copy()
    sorted_cols = np.empty(kept, dtype=np.int32)
    for k in range(kept):
        key = by_col[k]
        r = np.int64(key >> 32)
        sorted_cols[fill[r]] = np.int32(key & 0xFFFFFFFF)
        fill[r] += 1
    # Drop duplicates, compacting in place.
    out = np.zeros(n_rows + 1, dtype=np.int64)
    write = 0
    for r in range(n_rows):
        previous = -1
        for k in range(indptr[r], indptr[r + 1]):
            c = sorted_cols[k]
            if c != previous:
                sorted_cols[write] = c
                write += 1
                previous = c
        out[r + 1] = write
    return out, sorted_cols[:write].copy()


@jit.serial
def positives_bitset(n_rows, n_cols, indptr, indices):
    """Membership table of a CSR pattern: bit ``c % 64`` of ``bits[r, c // 64]`` is set
    when ``c`` is in row ``r`` of ``(indptr, indices)``.

    The negative samplers ask "is this item a positive of the user?" once or more per
    example; a binary search over the user's row is ~log2(row) dependent loads and as
    many unpredictable branches (measured: 15-20 % of a WARP epoch), the table one load.
    ``n_rows * ceil(n_cols / 64) * 8`` bytes, so the caller builds it only for small
    catalogues (``_config.POSITIVES_BITSET_MAX_BYTES``).

    Returns
    -------
    uint64[n_rows, ceil(n_cols / 64)]
    """
    bits = np.zeros((n_rows, (n_cols + 63) // 64), dtype=np.uint64)
    one = np.uint64(1)
    for r in range(n_rows):
        for k in range(indptr[r], indptr[r + 1]):
            c = indices[k]
            bits[r, c >> 6] |= one << np.uint64(c & 63)
    return bits
