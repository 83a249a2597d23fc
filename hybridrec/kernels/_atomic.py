"""An atomic fetch-and-add on an ``int64[1]`` array: the shared work counter of
dynamically scheduled parallel loops (threads take the next task from it instead of a
fixed static share, so one thread slowed by other processes does not hold up the rest).
"""

from numba import types
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
