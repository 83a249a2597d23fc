"""Numba kernels: contiguous arrays and scalars in, arrays out. No validation here.

Every array argument is C-contiguous; values are float32, ids (user, item and feature
indices, CSR ``indices``) int32, positions into interactions or stored entries (CSR
``indptr``, the epoch order) int64, RNG states uint64. The Python layer
(``hybridrec.model``, ``hybridrec._validation``) guarantees it.
"""
