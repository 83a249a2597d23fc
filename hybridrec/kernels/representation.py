"""User / item vectors as weighted sums of feature embeddings over one CSR row.

Passing ``None`` for ``indptr`` (and ``indices``, ``data``) means the identity feature
matrix: row ``r`` is feature ``r`` with weight 1. numba compiles a separate specialisation
for ``None`` and prunes the CSR branch, so the identity path has no indirection at all
(measured 1.6x faster per example than an explicit identity CSR).
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from . import _jit as jit

_DOT_LANES = 8
_DOT_VECTORS = 2


@jit.inline
def compute_representation(indptr, indices, data, row, embeddings, biases, out):
    """Write the representation of ``row`` into ``out`` and return its bias.

    Parameters
    ----------
    indptr, indices, data : int64[:], int32[:], float32[:] or None
        CSR feature matrix, or ``None`` for the identity.
    row : int
        User or item index.
    embeddings : float32[n_features, d]
    biases : float32[n_features]
    out : float32[d]
        Receives ``sum_j w_j * embeddings[j]``.

    Returns
    -------
    float
        ``sum_j w_j * biases[j]``.
    """
    d = embeddings.shape[1]
    if indptr is None:
        for c in range(d):
            out[c] = embeddings[row, c]
        return np.float64(biases[row])
    for c in range(d):
        out[c] = 0.0
    bias = 0.0
    for position in range(indptr[row], indptr[row + 1]):
        feature = indices[position]
        weight = data[position]
        bias += weight * biases[feature]
        for c in range(d):
            out[c] += weight * embeddings[feature, c]
    return bias


def _dot_codegen(builder, context, first_data, second_data, n):
    """Fixed-order float32 dot product of ``n`` elements at two data pointers (see ``dot``)."""
    intp = context.get_value_type(types.intp)
    f64 = ir.DoubleType()
    v32 = ir.VectorType(ir.FloatType(), _DOT_LANES)
    v64 = ir.VectorType(f64, _DOT_LANES)
    zero = ir.Constant(v64, [0.0] * _DOT_LANES)
    accumulators = [cgutils.alloca_once_value(builder, zero) for _ in range(_DOT_VECTORS)]
    tail = cgutils.alloca_once_value(builder, ir.Constant(f64, 0.0))
    step = _DOT_LANES * _DOT_VECTORS
    n_steps = builder.sdiv(n, intp(step))

    def load_vector(data, index):
        pointer = builder.bitcast(builder.gep(data, [index]), v32.as_pointer())
        value = builder.load(pointer)
        value.align = 4
        return value

    with cgutils.for_range(builder, n_steps) as loop:
        base = builder.mul(loop.index, intp(step))
        for v, accumulator in enumerate(accumulators):
            index = builder.add(base, intp(v * _DOT_LANES))
            # float32 products (as the scalar a[c] * b[c]), summed in float64.
            product = builder.fmul(load_vector(first_data, index),
                                   load_vector(second_data, index))
            builder.store(builder.fadd(builder.load(accumulator),
                                       builder.fpext(product, v64)), accumulator)
    with cgutils.for_range_slice(builder, builder.mul(n_steps, intp(step)), n, intp(1),
                                 inc=True) as (index, _):
        x = builder.load(builder.gep(first_data, [index]))
        y = builder.load(builder.gep(second_data, [index]))
        builder.store(builder.fadd(builder.load(tail), builder.fpext(builder.fmul(x, y), f64)),
                      tail)
    total = builder.load(accumulators[0])
    for accumulator in accumulators[1:]:
        total = builder.fadd(total, builder.load(accumulator))
    lanes = [builder.extract_element(total, ir.Constant(ir.IntType(32), j))
             for j in range(_DOT_LANES)]
    while len(lanes) > 1:  # fixed pairwise tree: (0+4, 1+5, ...), then (0+2, 1+3), ...
        half = len(lanes) // 2
        lanes = [builder.fadd(lanes[j], lanes[j + half]) for j in range(half)]
    return builder.fadd(lanes[0], builder.load(tail))


def _is_f32(x, ndim):
    return (isinstance(x, types.Array) and x.ndim == ndim and x.dtype == types.float32
            and x.layout == "C")


@intrinsic
def _dot_f32(typingctx, a, b):
    """Dot product of two contiguous float32 vectors (see ``dot``), as explicit vector IR.

    numba runs only LLVM's loop vectoriser (its SLP vectoriser is off by default), which
    must not reorder a float reduction, so scalar partial sums stay scalar; vector IR is
    the way to get a fixed-order vector reduction without fast-math.
    """
    if not (_is_f32(a, 1) and _is_f32(b, 1)):
        return None
    sig = types.float64(a, b)

    def codegen(context, builder, signature, args):
        first = context.make_array(signature.args[0])(context, builder, args[0])
        second = context.make_array(signature.args[1])(context, builder, args[1])
        n = builder.extract_value(first.shape, 0)
        return _dot_codegen(builder, context, first.data, second.data, n)

    return sig, codegen


@intrinsic
def _dot_row_f32(typingctx, a, matrix, row):
    """``_dot_f32(a, matrix[row])`` without materialising the row view (whose array
    struct and reference counting numba would otherwise build for every candidate)."""
    if not (_is_f32(a, 1) and _is_f32(matrix, 2) and isinstance(row, types.Integer)):
        return None
    sig = types.float64(a, matrix, row)

    def codegen(context, builder, signature, args):
        first = context.make_array(signature.args[0])(context, builder, args[0])
        second = context.make_array(signature.args[1])(context, builder, args[1])
        n = builder.extract_value(first.shape, 0)
        row_index = context.cast(builder, args[2], signature.args[2], types.intp)
        width = builder.extract_value(second.shape, 1)
        data = builder.gep(second.data, [builder.mul(row_index, width)])
        return _dot_codegen(builder, context, first.data, data, n)

    return sig, codegen


@jit.serial
def dot(a, b):
    """Dot product of two contiguous float32 vectors, accumulated in float64.

    Products are float32 (as ``a[c] * b[c]``); they are summed into 2 x 8 float64 lanes
    (element ``c`` goes to lane ``c % 16``), the two 8-lane vectors are added and the 8
    lanes reduced by a fixed pairwise tree; elements past the last multiple of 16 are
    summed separately and added last. The order is fixed, so results are reproducible
    (and 2x faster than four scalar lanes at d=64).
    """
    return _dot_f32(a, b)


@jit.inline
def dot_inline(a, b):
    """``dot(a, b)`` (same order and rounding) inlined into the caller: the negative
    searches score every candidate of CSR features through it, and as a call it
    marshals two array structs per candidate."""
    return _dot_f32(a, b)


@jit.inline
def dot_row(a, matrix, row):
    """``dot(a, matrix[row])`` (same order and rounding), reading the row in place.

    Inlined into its callers (the negative searches score several candidates per
    example): as an out-of-line call it pushed ~14 words of array structs per candidate,
    which measured 10 % of a WARP epoch on MovieLens-100k."""
    return _dot_row_f32(a, matrix, row)


def _prefetch_codegen(write):
    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        indices = [context.cast(builder, value, ty, types.intp)
                   for value, ty in zip(args[1:], signature.args[1:], strict=True)]
        pointer = cgutils.get_item_pointer2(
            context, builder, data=array.data,
            shape=cgutils.unpack_tuple(builder, array.shape),
            strides=cgutils.unpack_tuple(builder, array.strides),
            layout=array_type.layout, inds=indices, wraparound=False)
        i32 = ir.IntType(32)
        i8p = ir.IntType(8).as_pointer()
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
            "llvm.prefetch.p0")
        # (address, rw, locality 3 = keep in all cache levels, data cache)
        builder.call(function, [builder.bitcast(pointer, i8p), i32(int(write)), i32(3), i32(1)])
        return context.get_dummy_value()
    return codegen


def _make_prefetch(write, ndim):
    def typer(typingctx, array, *indices):
        if not (isinstance(array, types.Array) and array.ndim == ndim
                and all(isinstance(i, types.Integer) for i in indices)):
            return None
        return types.void(array, *indices), _prefetch_codegen(write)

    if ndim == 1:
        def prefetch(typingctx, array, index):
            return typer(typingctx, array, index)
    else:
        def prefetch(typingctx, array, row, column):  # type: ignore[misc]  # numba reads the arity
            return typer(typingctx, array, row, column)
    return intrinsic(prefetch)


# Hints to the cache to load ``array[index]`` / ``array[row, column]`` (no effect on the
# program's results), for reading or for a location about to be written.
prefetch_read_1d = _make_prefetch(False, 1)
prefetch_read_2d = _make_prefetch(False, 2)
prefetch_write_1d = _make_prefetch(True, 1)
prefetch_write_2d = _make_prefetch(True, 2)


@jit.inline
def prefetch_parameters(row, embeddings, biases, write):
    """Start loading parameter row ``row``: ``embeddings[row]`` (every 64-byte line of
    it) and ``biases[row]``; ``write`` asks for the lines in a writable state."""
    d = embeddings.shape[1]
    if d == 0:
        return
    if write:
        for c in range(0, d, 16):  # 16 float32 = one 64-byte line
            prefetch_write_2d(embeddings, row, c)
        prefetch_write_2d(embeddings, row, d - 1)  # rows need not be line-aligned
        prefetch_write_1d(biases, row)
    else:
        for c in range(0, d, 16):
            prefetch_read_2d(embeddings, row, c)
        prefetch_read_2d(embeddings, row, d - 1)
        prefetch_read_1d(biases, row)


@jit.serial
def prefetch_row(indptr, row, embeddings, biases, write):
    """Start loading the parameters of ``row`` (identity features only; else a no-op).

    Rows are visited in random order, so every row is a cache miss: issuing the loads
    for a row that will be needed soon overlaps the miss with the current work. For
    CSR features see ``prefetch_indptr`` / ``prefetch_csr_row`` / ``prefetch_features``.
    """
    if indptr is None:
        prefetch_parameters(row, embeddings, biases, write)


@jit.inline
def prefetch_indptr(indptr, row):
    """First stage of prefetching a CSR row: its ``indptr`` entries (no-op for the
    identity). A CSR row's parameters are three dependent loads away (``indptr``, then
    ``indices``, then the feature rows), so they are prefetched in three stages issued
    at decreasing distances ahead of use, each finding the previous stage's data in
    cache."""
    if indptr is not None:
        prefetch_read_1d(indptr, row + 1)  # indptr[row] usually shares its line


@jit.inline
def prefetch_csr_row(indptr, indices, data, row):
    """Second stage (see ``prefetch_indptr``): the row's ``indices`` and ``data``
    entries; reads ``indptr[row]``. No-op for the identity."""
    if indptr is not None:
        start = indptr[row]
        stop = indptr[row + 1]
        if stop > start:
            prefetch_read_1d(indices, start)
            prefetch_read_1d(data, start)
            if stop - start > 8:  # may span lines: the last entries too
                prefetch_read_1d(indices, stop - 1)
                prefetch_read_1d(data, stop - 1)


@jit.inline
def prefetch_features(indptr, indices, row, embeddings, biases, write):
    """Last stage (see ``prefetch_indptr``): the parameter rows of every feature of
    ``row``; reads the row's ``indices``. For the identity: ``row``'s own parameters
    (``prefetch_row``)."""
    if indptr is None:
        prefetch_parameters(row, embeddings, biases, write)
    else:
        for position in range(indptr[row], indptr[row + 1]):
            prefetch_parameters(indices[position], embeddings, biases, write)


@jit.serial
def contains_sorted(indices, start, stop, value):
    """Binary search: whether ``value`` is in the sorted slice ``indices[start:stop]``."""
    lo = start
    hi = stop
    while lo < hi:
        mid = (lo + hi) >> 1
        v = indices[mid]
        if v < value:
            lo = mid + 1
        elif v > value:
            hi = mid
        else:
            return True
    return False


@jit.serial
def is_positive(positives_bits, positives_indices, start, stop, row, item):
    """Is ``item`` a positive of ``row``? One bit of ``positives_bits`` (see
    ``epoch_inputs.positives_bitset``), or, when that table is empty (shape (0, 0): a
    catalogue too large for it), a binary search of the sorted slice
    ``positives_indices[start:stop]``. A run-time test rather than a ``None``
    specialisation: one predictable branch costs less than compiling every sampling
    kernel twice."""
    if positives_bits.shape[0] == 0:
        return contains_sorted(positives_indices, start, stop, item)
    word = positives_bits[row, item >> 6]
    return (word >> np.uint64(item & 63)) & np.uint64(1) != np.uint64(0)
