"""One exception-safe way to run numba kernels with a given number of threads."""

from __future__ import annotations

import contextlib
import numbers
import os
import threading
from collections.abc import Iterator

import numba


def check_num_threads(num_threads: object) -> int:
    """Validate ``num_threads`` and return it as an ``int``.

    Raises
    ------
    ValueError
        If it is not an integer, is below 1 (LightFM's message), or exceeds the number of
        threads numba was started with (``NUMBA_NUM_THREADS``).
    """
    if isinstance(num_threads, bool) or not isinstance(num_threads, numbers.Integral):
        raise ValueError(
            f"num_threads must be an integer, got {num_threads!r} "
            f"of type {type(num_threads).__name__}."
        )
    num_threads = int(num_threads)
    if num_threads < 1:
        raise ValueError("Number of threads must be 1 or larger.")
    limit = numba.config.NUMBA_NUM_THREADS
    if num_threads > limit:
        raise ValueError(
            f"num_threads={num_threads} exceeds the {limit} threads numba was started with "
            f"(NUMBA_NUM_THREADS={limit}). Use num_threads <= {limit}, or set the "
            "NUMBA_NUM_THREADS environment variable before importing hybridrec."
        )
    return num_threads


def default_num_threads() -> int:
    """The cores this process may run on, at most the threads numba was started with.

    The default of the commands that train (``python -m hybridrec demo``): every core
    the process is allowed to use (its CPU affinity, which a container or ``taskset``
    may restrict), bounded by ``numba.config.NUMBA_NUM_THREADS`` (numba refuses more,
    and a user who lowered it asked for fewer).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        cores = os.cpu_count() or 1
    return max(1, min(cores, numba.config.NUMBA_NUM_THREADS))


#: Serialises parallel kernel launches across Python threads: numba's workqueue
#: threading layer aborts the process when two threads launch parallel kernels at once,
#: and with OpenMP concurrent launches would only oversubscribe the cores. Re-entrant,
#: because a block may call helpers that open their own ``numba_threads`` block.
_LAUNCH_LOCK = threading.RLock()


@contextlib.contextmanager
def numba_threads(num_threads: int) -> Iterator[int]:
    """Run the enclosed block with ``numba.set_num_threads(num_threads)``.

    The previous thread count is restored in ``finally``, so an exception inside the
    block leaves the process as it was. Blocks from different Python threads run one
    at a time (each already uses ``num_threads`` cores).

    Parameters
    ----------
    num_threads : int
        Number of threads, ``1 <= num_threads <= numba.config.NUMBA_NUM_THREADS``.

    Yields
    ------
    int
        The validated thread count.
    """
    num_threads = check_num_threads(num_threads)
    with _LAUNCH_LOCK:
        previous = numba.get_num_threads()
        numba.set_num_threads(num_threads)
        try:
            yield num_threads
        finally:
            numba.set_num_threads(previous)
