"""How one training epoch's examples are cut into kernel calls and parallel blocks.

A pure function of the number of examples, so the arithmetic that feeds the kernels their
positions (``order[start:stop]``, ``(block * n) // n_blocks`` inside each kernel) is
tested on its own at sizes (past 2**31, 2**32 examples) no test can allocate.
"""

from __future__ import annotations

from . import _config


def epoch_chunks(n: int, regularised: bool) -> list[tuple[int, int, int]]:
    """``(start, stop, n_blocks)`` of each kernel call of an epoch over ``n`` examples.

    With L2 regularisation the decay is applied between chunks of at most
    ``REG_CHUNK_MAX`` examples (at least ``REG_CHUNKS_MIN`` chunks, each >= 1024);
    without it one chunk takes the whole epoch up to ``EPOCH_CHUNK_MAX`` examples, so
    that a kernel's block bounds ``(block * n) // n_blocks`` (int64) never overflow.
    Each chunk is cut into ``block_count(stop - start)`` blocks, each with its own
    random stream; blocks and streams depend on ``n`` only, not on the thread count.

    Parameters
    ----------
    n : int
        Examples in the epoch (``>= 0``; any size, positions are int64).
    regularised : bool
        Whether ``item_alpha`` or ``user_alpha`` is positive.

    Returns
    -------
    list of (int, int, int)
        Consecutive ``[start, stop)`` ranges covering ``0 .. n`` and their block counts.
    """
    chunk = min(n, _config.EPOCH_CHUNK_MAX)
    if regularised:
        chunk = min(_config.REG_CHUNK_MAX, max(1024, -(-n // _config.REG_CHUNKS_MIN)))
    chunk = max(chunk, 1)
    return [(start, min(start + chunk, n), block_count(min(chunk, n - start)))
            for start in range(0, n, chunk)]


def block_count(examples: int) -> int:
    """Blocks one kernel call of ``examples`` examples is cut into.

    Blocks of at most ``TRAIN_BLOCK`` examples, and at least ``TRAIN_MIN_BLOCKS`` of them
    while each keeps ``TRAIN_MIN_BLOCK_SIZE`` examples, so that every thread finds work
    in a short L2 chunk. ``TRAIN_MIN_BLOCKS = 1`` gives ``ceil(examples / TRAIN_BLOCK)``.

    Parameters
    ----------
    examples : int
        Examples in the kernel call (``>= 0``).

    Returns
    -------
    int
        The number of blocks (``>= 1``), each with its own random stream.
    """
    return max(1, -(-examples // _config.TRAIN_BLOCK),
               min(_config.TRAIN_MIN_BLOCKS, examples // _config.TRAIN_MIN_BLOCK_SIZE))
