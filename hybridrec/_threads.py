"""One exception-safe way to run numba kernels with a given number of threads."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings
from collections.abc import Iterator

import numba

from ._validation import is_integer

#: (requested, used) thread counts already warned about in this process.
_CLAMP_WARNED: set[tuple[int, int]] = set()
_CLAMP_LOCK = threading.Lock()
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_CONTEXTLIB = os.path.abspath(contextlib.__file__)


def _caller_stacklevel() -> int:
    """``warnings.warn`` stacklevel of the first frame outside hybridrec (and outside
    ``contextlib``, for ``with numba_threads(...)``): the user's call, so the warning
    points at the line that asked for the threads."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None:
        file = os.path.abspath(frame.f_code.co_filename)
        if not (file.startswith(_PACKAGE_DIR) or file == _CONTEXTLIB):
            break
        frame = frame.f_back
        level += 1
    return level


def check_num_threads(num_threads: object) -> int:
    """Validate ``num_threads`` and return the thread count to use, as an ``int``.

    A count above the number of threads numba was started with
    (``numba.config.NUMBA_NUM_THREADS``, by default the number of cores) is reduced to
    that number, as LightFM simply runs with whatever it is given: code written for an
    8-core laptop keeps working on a 2-core CI runner. A ``UserWarning`` names the
    requested and the used count and how to raise the limit, once per process for
    each (requested, used) pair.

    Raises
    ------
    ValueError
        If it is not an integer, or is below 1 (LightFM's message).
    """
    if not is_integer(num_threads):
        raise ValueError(
            f"num_threads must be an integer, got {num_threads!r} "
            f"of type {type(num_threads).__name__}."
        )
    num_threads = int(num_threads)
    if num_threads < 1:
        raise ValueError("Number of threads must be 1 or larger.")
    limit = numba.config.NUMBA_NUM_THREADS
    if num_threads > limit:
        key = (num_threads, limit)
        with _CLAMP_LOCK:
            first = key not in _CLAMP_WARNED
            _CLAMP_WARNED.add(key)
        if first:
            warnings.warn(
                f"num_threads={num_threads} is more than the {limit} threads numba was "
                f"started with (NUMBA_NUM_THREADS={limit}); using {limit} threads. To "
                f"allow more, set the environment variable NUMBA_NUM_THREADS (e.g. "
                f"NUMBA_NUM_THREADS={num_threads}) before hybridrec or numba is imported. "
                "This warning is shown once per process.",
                UserWarning, stacklevel=_caller_stacklevel())
        num_threads = limit
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
        Number of threads, at least 1; more than ``numba.config.NUMBA_NUM_THREADS``
        runs with that many (see ``check_num_threads``).

    Yields
    ------
    int
        The thread count in use.
    """
    num_threads = check_num_threads(num_threads)
    with _LAUNCH_LOCK:
        previous = numba.get_num_threads()
        numba.set_num_threads(num_threads)
        try:
            yield num_threads
        finally:
            numba.set_num_threads(previous)
