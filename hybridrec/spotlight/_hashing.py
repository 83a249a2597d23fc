"""MurmurHash3 (x86, 32-bit) of int32 keys, vectorised in NumPy.

Spotlight hashes with ``sklearn.utils.murmurhash3_32`` (user-based splits, Bloom
embeddings); this is the same function for int32 arrays, bit for bit, so the front door
reproduces Spotlight's splits and hash buckets without scikit-learn at run time.
"""

from __future__ import annotations

import numpy as np

__all__ = ["murmurhash3_32"]

_MASK = np.uint64(0xFFFFFFFF)
_C1 = np.uint64(0xCC9E2D51)
_C2 = np.uint64(0x1B873593)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & _MASK


def _mul(x: np.ndarray, c: np.uint64) -> np.ndarray:
    # Both factors are below 2**32, so the uint64 product is exact before masking.
    return (x * c) & _MASK


def murmurhash3_32(keys: object, seed: int = 0, positive: bool = False) -> np.ndarray:
    """MurmurHash3_x86_32 of each int32 key (hashed as its 4 little-endian bytes).

    Parameters
    ----------
    keys : array of int
        Keys; each is taken as an int32 (as ``sklearn.utils.murmurhash3_32`` does for
        int32 arrays).
    seed : int, default 0
        Hash seed, ``0 <= seed < 2**32``.
    positive : bool, default False
        Return unsigned (uint32) hashes instead of signed (int32) ones.

    Returns
    -------
    numpy.ndarray
        uint32 hashes when ``positive``, else int32 (the same bits), as scikit-learn's.
    """
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}.")
    k = np.asarray(keys, dtype=np.int32).astype(np.uint32).astype(np.uint64)
    k = _mul(_rotl(_mul(k, _C1), 15), _C2)
    h = np.uint64(int(seed)) ^ k
    h = (_mul(_rotl(h, 13), np.uint64(5)) + np.uint64(0xE6546B64)) & _MASK
    h ^= np.uint64(4)  # the key length in bytes
    h ^= h >> np.uint64(16)
    h = _mul(h, np.uint64(0x85EBCA6B))
    h ^= h >> np.uint64(13)
    h = _mul(h, np.uint64(0xC2B2AE35))
    h ^= h >> np.uint64(16)
    if positive:
        return h.astype(np.uint32)
    return h.astype(np.uint32).view(np.int32)
