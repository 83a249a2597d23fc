"""Numba kernels: contiguous arrays and scalars in, arrays out. No validation here.

Every array argument is C-contiguous; values are float32, indices int32, RNG states
uint64. The Python layer (``hybridrec.model``, ``hybridrec._validation``) guarantees it.
"""
