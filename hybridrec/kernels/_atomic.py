"""Atomic operations on ``int64`` counter arrays, for the workers of a parallel kernel.

``fetch_add`` on an ``int64[1]`` array is the shared work counter of dynamically
scheduled parallel loops (threads take the next task from it instead of a fixed static
share, so one thread slowed by other processes does not hold up the rest). The indexed
operations (``fetch_add_at``, ``load_at``, ``store_at``; sequentially consistent, so
that two workers each writing one flag and reading the other's cannot both miss the
other's write) and ``relax`` let workers wait for each other (``kernels.sequence_sync``).
"""

import sys

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def fetch_add(typingctx, counter, increment):
    """Atomically ``counter[0] += increment``; returns the value before."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64
            and counter.layout == "C" and isinstance(increment, types.Integer)):
        return None
    sig = types.int64(counter, increment)

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        value = context.cast(builder, args[1], signature.args[1], types.int64)
        return builder.atomic_rmw("add", array.data, value, "monotonic")

    return sig, codegen


def _element_pointer(context, builder, array_type, array_value, index_type, index_value):
    array = context.make_array(array_type)(context, builder, array_value)
    index = context.cast(builder, index_value, index_type, types.intp)
    return cgutils.gep(builder, array.data, index)


def _is_counter_array(value) -> bool:
    return (isinstance(value, types.Array) and value.dtype == types.int64
            and value.ndim == 1 and value.layout == "C")


@intrinsic
def fetch_add_at(typingctx, counters, index, increment):
    """Atomically ``counters[index] += increment`` (sequentially consistent: what the
    writer did before is visible to whoever reads the new count); returns the value
    before. Counters of a synchronisation between workers, not of work sharing only."""
    if not (_is_counter_array(counters) and isinstance(index, types.Integer)
            and isinstance(increment, types.Integer)):
        return None
    sig = types.int64(counters, index, increment)

    def codegen(context, builder, signature, args):
        pointer = _element_pointer(context, builder, signature.args[0], args[0],
                                   signature.args[1], args[1])
        value = context.cast(builder, args[2], signature.args[2], types.int64)
        return builder.atomic_rmw("add", pointer, value, "seq_cst")

    return sig, codegen


@intrinsic
def load_at(typingctx, counters, index):
    """``counters[index]`` read atomically (sequentially consistent; int64)."""
    if not (_is_counter_array(counters) and isinstance(index, types.Integer)):
        return None
    sig = types.int64(counters, index)

    def codegen(context, builder, signature, args):
        pointer = _element_pointer(context, builder, signature.args[0], args[0],
                                   signature.args[1], args[1])
        return builder.load_atomic(pointer, "seq_cst", 8)

    return sig, codegen


@intrinsic
def store_at(typingctx, counters, index, value):
    """``counters[index] = value`` written atomically (sequentially consistent)."""
    if not (_is_counter_array(counters) and isinstance(index, types.Integer)
            and isinstance(value, types.Integer)):
        return None
    sig = types.void(counters, index, value)

    def codegen(context, builder, signature, args):
        pointer = _element_pointer(context, builder, signature.args[0], args[0],
                                   signature.args[1], args[1])
        stored = context.cast(builder, args[2], signature.args[2], types.int64)
        builder.store_atomic(stored, pointer, "seq_cst", 8)
        return context.get_dummy_value()

    return sig, codegen


#: The call that gives the core away while a worker waits: ``sched_yield`` on POSIX; where
#: there is none the wait spins (correct, only less polite to other processes).
_YIELD_SYMBOL = None if sys.platform == "win32" else "sched_yield"


@intrinsic
def relax(typingctx):
    """Let another thread run (``sched_yield``) while waiting for other workers; on a
    loaded machine the worker being waited for may need this core."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        if _YIELD_SYMBOL is not None:
            function_type = ir.FunctionType(ir.IntType(32), [])
            function = cgutils.get_or_insert_function(builder.module, function_type,
                                                      _YIELD_SYMBOL)
            builder.call(function, [])
        return context.get_dummy_value()

    return sig, codegen
