"""User x item matrices from DataFrames of interactions (the fast, vectorised path).

Nothing here loops over rows in Python: keys are hashed with pandas and the sparse
matrices are assembled from index arrays. A NaN or None key is an error (the row cannot
be placed); weights must be finite.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._validation import check_frame
from .mapping import IdMapper, map_keys

__all__ = ["Interactions", "interactions_from_frame"]

_DUPLICATES = ("sum", "max", "first", "last", "keep")
_SHOW = 5


def _to_int32(matrix: sp.csr_matrix | sp.coo_matrix) -> Any:
    """int32 index arrays in place (a CSR keeps int64 past 2**31 - 1 entries)."""
    if isinstance(matrix, sp.coo_matrix):
        matrix.row = matrix.row.astype(np.int32, copy=False)
        matrix.col = matrix.col.astype(np.int32, copy=False)
    elif matrix.nnz < np.iinfo(np.int32).max:
        matrix.indices = matrix.indices.astype(np.int32, copy=False)
        matrix.indptr = matrix.indptr.astype(np.int32, copy=False)
    return matrix


class Interactions(NamedTuple):
    """An interaction matrix and the mappers of its rows and columns.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix or scipy.sparse.coo_matrix
        ``(len(user_mapper), len(item_mapper))``, float32 values, int32 indices.
    user_mapper : IdMapper
        User keys to rows.
    item_mapper : IdMapper
        Item keys to columns.
    """

    matrix: Any
    user_mapper: IdMapper
    item_mapper: IdMapper


def interactions_from_frame(
    frame: pd.DataFrame,
    user_col: Hashable,
    item_col: Hashable,
    weight_col: Hashable | None = None,
    *,
    user_mapper: IdMapper | None = None,
    item_mapper: IdMapper | None = None,
    unknown: str = "raise",
    duplicates: str = "sum",
    format: str = "csr",
) -> Interactions:
    """Build a user x item matrix from a DataFrame of interactions.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per interaction.
    user_col, item_col : hashable
        Columns holding user and item keys (any hashable type; NaN/None is an error).
    weight_col : hashable, optional
        Column of numeric weights (finite). Default: every interaction weighs 1.0.
    user_mapper, item_mapper : IdMapper, optional
        Existing mappers (e.g. from the training frame, or ones already extended with
        cold-start items). Default: new mappers fitted on the frame, keys numbered in
        order of first appearance. The matrix has one row/column per key of the mapper,
        so keys without interactions give empty rows/columns.
    unknown : {"raise", "ignore", "extend"}
        What to do with keys missing from a given mapper: raise a ``ValueError`` naming
        them, drop their rows, or add them (to a copy of the mapper, returned).
    duplicates : {"sum", "max", "first", "last", "keep"}
        How repeated (user, item) pairs combine. ``"keep"`` keeps every row as its own
        COO entry, as LightFM's ``Dataset.build_interactions`` does (COO only).
    format : {"csr", "coo"}
        Sparse format of the result.

    Returns
    -------
    Interactions
        ``(matrix, user_mapper, item_mapper)``; ``matrix`` is float32 with int32
        indices and sorted column indices within each row.

    Raises
    ------
    ValueError
        Naming the column or argument: missing columns, NaN/None keys, unknown keys,
        non-numeric or non-finite weights, invalid options.
    """
    check_frame(frame, "frame", [c for c in (user_col, item_col, weight_col) if c is not None])
    if duplicates not in _DUPLICATES:
        raise ValueError(f"duplicates must be one of {_DUPLICATES}, got {duplicates!r}.")
    if format not in ("csr", "coo"):
        raise ValueError(f"format must be 'csr' or 'coo', got {format!r}.")
    if duplicates == "keep" and format != "coo":
        raise ValueError("duplicates='keep' needs format='coo' (CSR cannot hold duplicates).")
    allowed = ("raise", "ignore", "extend")
    rows, user_mapper, keep_u = map_keys(frame[user_col], user_mapper, unknown,
                                               user_col, allowed)
    cols, item_mapper, keep_i = map_keys(frame[item_col], item_mapper, unknown,
                                               item_col, allowed)
    n = len(frame)
    if weight_col is None:
        weights = np.ones(n, dtype=np.float32)
    else:
        weights = _numeric_column(frame[weight_col], f"weight_col {weight_col!r}")
    if keep_u is not None or keep_i is not None:
        keep = np.ones(n, dtype=bool)
        for mask in (keep_u, keep_i):
            if mask is not None:
                keep &= mask
        # rows/cols were filtered by their own masks; re-filter on the joint mask.
        rows = _refilter(rows, keep_u, keep)
        cols = _refilter(cols, keep_i, keep)
        weights = weights[keep]
    shape = (len(user_mapper), len(item_mapper))
    matrix = _build(rows, cols, weights, shape, duplicates, format)
    return Interactions(matrix, user_mapper, item_mapper)


def _refilter(codes: np.ndarray, own: np.ndarray | None, joint: np.ndarray) -> np.ndarray:
    if own is None:
        return codes[joint]
    full = np.full(own.size, -1, dtype=np.int32)
    full[own] = codes
    return full[joint]


def _numeric_column(series: pd.Series, name: str) -> np.ndarray:
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        raise ValueError(f"{name} must be numeric, got dtype {series.dtype}.")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        positions = np.flatnonzero(bad)
        raise ValueError(
            f"{name} has {positions.size} NaN or infinite value(s), e.g. "
            f"{values[positions[:_SHOW]].tolist()} at row position(s) "
            f"{positions[:_SHOW].tolist()}; weights must be finite."
        )
    return values.astype(np.float32)


def _build(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, shape: tuple[int, int],
           duplicates: str, format: str) -> Any:
    rows = rows.astype(np.int32, copy=False)
    cols = cols.astype(np.int32, copy=False)
    if duplicates == "keep":
        return _to_int32(sp.coo_matrix((weights, (rows, cols)), shape=shape))
    if duplicates in ("first", "last", "max"):
        key = rows.astype(np.int64) * max(shape[1], 1) + cols
        if duplicates == "max":
            order = np.lexsort((-weights, key))
            sorted_key = key[order]
            first = np.ones(sorted_key.size, dtype=bool)
            first[1:] = sorted_key[1:] != sorted_key[:-1]
            chosen = order[first]
        else:
            if duplicates == "last":
                reverse = key[::-1]
                _, position = np.unique(reverse, return_index=True)
                chosen = key.size - 1 - position
            else:
                _, chosen = np.unique(key, return_index=True)
        rows, cols, weights = rows[chosen], cols[chosen], weights[chosen]
    matrix = sp.csr_matrix((weights, (rows, cols)), shape=shape, dtype=np.float32)
    matrix.sum_duplicates()
    matrix = _to_int32(matrix)
    return matrix.tocoo() if format == "coo" else matrix
