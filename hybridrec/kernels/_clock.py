"""A monotonic clock inside kernels: ``clock_gettime(CLOCK_MONOTONIC)`` from the C library.

Used by the synchronous sequence epochs to decide how long a worker waits for another
one (``kernels.sequence_sync``); nothing computed depends on it. Where Python's ``time``
module has no ``CLOCK_MONOTONIC`` (Windows) there is no clock: ``monotonic_ns`` returns
-1 and callers fall back to counting polls.
"""

import time

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: The clock id of this platform (1 on Linux, 6 on macOS), or None.
_CLOCK_ID = getattr(time, "CLOCK_MONOTONIC", None)


@intrinsic
def monotonic_ns(typingctx):
    """Nanoseconds of the monotonic clock (int64), or -1 where there is none."""
    sig = types.int64()

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        if _CLOCK_ID is None:
            return ir.Constant(i64, -1)
        # struct timespec {time_t tv_sec; long tv_nsec;}: two 64-bit fields on the
        # 64-bit platforms numba supports.
        timespec = ir.LiteralStructType([i64, i64])
        slot = cgutils.alloca_once(builder, timespec)
        function_type = ir.FunctionType(ir.IntType(32), [ir.IntType(32),
                                                         timespec.as_pointer()])
        function = cgutils.get_or_insert_function(builder.module, function_type,
                                                  "clock_gettime")
        builder.call(function, [ir.Constant(ir.IntType(32), _CLOCK_ID), slot])
        seconds = builder.load(cgutils.gep(builder, slot, 0, 0))
        nanoseconds = builder.load(cgutils.gep(builder, slot, 0, 1))
        return builder.add(builder.mul(seconds, ir.Constant(i64, 1_000_000_000)),
                           nanoseconds)

    return sig, codegen
