"""The two jit configurations every kernel uses.

``error_model="numpy"`` matters for speed: under numba's default ("python") every float
division carries a zero check that raises ZeroDivisionError, which stops LLVM from
vectorising the update loops (measured: 4.5x slower adagrad steps at d=64). Divisions
here never see zero in valid use (accumulators start at 1 or carry epsilon), and
non-finite results are caught by the finite check after each epoch.

No ``fastmath``: umap saw silent NaN embeddings from it in SGD loops.
"""

from numba import njit

#: Serial helpers and kernels.
serial = njit(cache=True, nogil=True, error_model="numpy")
#: Parallel (prange) kernels; call them only from Python, never from another jitted function.
parallel = njit(parallel=True, cache=True, nogil=True, error_model="numpy")
#: Serial helpers inlined into their callers at numba-IR level. The kernels pass ~30
#: arrays; an out-of-line call marshals every array struct through the stack (~100 words
#: per call), and LLVM will not inline the large vectorised update helpers by itself.
#: Inlined, the None-specialisation still prunes (dead-branch pruning runs after inlining).
inline = njit(cache=True, nogil=True, error_model="numpy", inline="always")
