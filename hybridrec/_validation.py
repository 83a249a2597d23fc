"""Python-side checks and conversions shared by the estimator and the metrics.

Everything a kernel receives passes through here first: sparse inputs become C-contiguous
float32 values with int32 ids (CSR ``indices``, row and column numbers) and int64
positions (CSR ``indptr``), and every problem raises a ``ValueError`` that names the
argument, what was expected and what was received.
"""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._config import FLOAT, INDEX, POSITION

_INT32_MAX = np.iinfo(np.int32).max

NOT_FINITE = (
    "Not all input values are finite. Check the input for NaNs and infinite values."
)
NEGATIVE_IDS = (
    "User or item ids cannot be negative. Check your inputs for negative numbers or very "
    "large numbers that can overflow."
)


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape} and dtype {value.dtype}"
    return f"an object of type {type(value).__name__}"


def _as_float32(values: np.ndarray) -> np.ndarray:
    """C-contiguous float32; values beyond float32's range become inf (and are refused
    by the finiteness check that follows) without a RuntimeWarning."""
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(values, dtype=FLOAT)


def check_sparse(matrix: Any, name: str) -> None:
    """Raise unless ``matrix`` is a usable 2-d scipy sparse matrix or array.

    Usable means: real (bool, integer or float) values, all finite; at most
    ``2**31 - 1`` rows and columns (user, item and feature ids are int32). The number of
    stored entries is not limited: positions into them are int64.
    Every sparse input of the package passes through here first.
    """
    if not sp.issparse(matrix):
        raise ValueError(
            f"{name} must be a scipy.sparse matrix (coo, csr, csc, lil, ...), got "
            f"{_describe(matrix)}. Convert it with scipy.sparse.coo_matrix(...)."
        )
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be 2-dimensional, got shape {matrix.shape}.")
    if matrix.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers (bool, integer or float), got dtype "
            f"{matrix.dtype}; converting it would silently drop information."
        )
    if max(matrix.shape) > _INT32_MAX:
        raise ValueError(
            f"{name} has shape {matrix.shape}; at most {_INT32_MAX} rows and columns are "
            "supported (user, item and feature ids are int32; the number of stored entries "
            "is not limited)."
        )
    if matrix.dtype.kind == "f":
        values = matrix.data if matrix.format in ("coo", "csr", "csc", "bsr", "dia") \
            else matrix.tocoo().data
        check_finite(values, name)


def check_finite(values: np.ndarray, name: str) -> None:
    """Raise LightFM's finiteness error, prefixed by the argument name, on NaN or inf."""
    if values.size and not np.isfinite(values).all():
        raise ValueError(f"{name} contains NaN or infinite values. {NOT_FINITE}")


@dataclass(frozen=True)
class KernelInteractions:
    """Interactions as the kernels want them: parallel int32 ids / float32 values and
    weights, any number of them (the kernel form; ``hybridrec.data.Interactions`` is the
    DataFrame builders' result)."""

    shape: tuple[int, int]
    user_ids: np.ndarray
    item_ids: np.ndarray
    values: np.ndarray
    weights: np.ndarray

    @property
    def nnz(self) -> int:
        return int(self.user_ids.shape[0])


def as_interactions(interactions: Any, sample_weight: Any, name: str = "interactions"
                    ) -> KernelInteractions:
    """Convert interactions (any sparse format and numeric dtype) and the sample weights.

    Parameters
    ----------
    interactions : scipy.sparse matrix
        Stored entries are training examples, duplicates included (as in LightFM).
    sample_weight : scipy.sparse.coo_matrix or None
        Must have exactly the coordinates of ``interactions.tocoo()``, in the same order.

    Raises
    ------
    ValueError
        Non-sparse input, NaN/inf, more than 2**31-1 users or items, bad sample weights.
    """
    check_sparse(interactions, name)
    coo = interactions.tocoo()
    values = _as_float32(coo.data)
    check_finite(values, name)
    user_ids = np.ascontiguousarray(coo.row, dtype=INDEX)
    item_ids = np.ascontiguousarray(coo.col, dtype=INDEX)
    if sample_weight is None:
        weights = np.ones(values.shape[0], dtype=FLOAT)
    else:
        if not sp.issparse(sample_weight) or sample_weight.format != "coo":
            raise ValueError(
                "Sample_weight must be a COO matrix with the coordinates of the interactions "
                f"(e.g. interactions.tocoo() with new data); got {_describe(sample_weight)}"
                + (f" in {sample_weight.format} format" if sp.issparse(sample_weight) else "")
                + "."
            )
        check_sparse(sample_weight, "sample_weight")
        if sample_weight.shape != coo.shape:
            raise ValueError(
                "Sample weight and interactions matrices must be the same shape: "
                f"sample_weight is {sample_weight.shape}, {name} is {coo.shape}."
            )
        if (sample_weight.nnz != coo.nnz
                or not np.array_equal(sample_weight.row, coo.row)
                or not np.array_equal(sample_weight.col, coo.col)):
            raise ValueError(
                "Sample weight and interaction matrix entries must be in the same order: "
                f"sample_weight has {sample_weight.nnz} entries and {name} {coo.nnz}; build "
                "the weights from interactions.tocoo() so that row and col match exactly."
            )
        weights = _as_float32(sample_weight.data)
        check_finite(weights, "sample_weight")
        if (weights < 0).any():
            raise ValueError(
                f"sample_weight must be non-negative; got a minimum of {weights.min()}."
            )
    return KernelInteractions(coo.shape, user_ids, item_ids, values, weights)


@dataclass(frozen=True)
class KernelFeatures:
    """A feature matrix in kernel form; ``identity=True`` means no CSR is used.

    (``hybridrec.data.FeatureMatrix`` is the DataFrame builders' matrix with names and a
    mapper.)"""

    n_rows: int
    n_features: int
    identity: bool
    indptr: np.ndarray | None
    indices: np.ndarray | None
    data: np.ndarray | None

    def kernel_args(self) -> tuple:
        """``(indptr, indices, data)``, or three ``None`` for the identity fast path."""
        if self.identity:
            return None, None, None
        return self.indptr, self.indices, self.data


def identity_features(n: int) -> KernelFeatures:
    """The identity feature matrix of size ``n`` (fast path: no CSR arrays)."""
    return KernelFeatures(n, n, True, None, None, None)


def as_features(features: object, name: str) -> KernelFeatures:
    """Convert a user/item feature matrix to CSR float32 values, int64 ``indptr`` and
    int32 ``indices``, detecting the identity."""
    check_sparse(features, name)
    csr = sp.csr_matrix(features)
    data = _as_float32(csr.data)
    check_finite(data, name)
    indptr, indices = csr_kernel_arrays(csr)
    n_rows, n_features = csr.shape
    if (n_rows == n_features and csr.nnz == n_rows and np.all(data == 1.0)
            and np.array_equal(indices, np.arange(n_rows))
            and np.array_equal(indptr, np.arange(n_rows + 1))):
        return identity_features(n_rows)
    return KernelFeatures(n_rows, n_features, False, indptr, indices, data)


def as_id_array(ids: object, name: str) -> np.ndarray:
    """Convert user or item ids (list, tuple, array, or a scalar) to an int32 array."""
    if isinstance(ids, (bool, np.bool_)):
        raise ValueError(f"{name} must be integer ids, got a boolean.")
    if isinstance(ids, (numbers.Integral, np.integer)):
        ids = [int(ids)]
    elif ids is None or isinstance(ids, (str, bytes, numbers.Number)):
        raise ValueError(
            f"{name} must hold integer ids (one integer id or a 1-dimensional sequence of "
            f"them), got {ids!r}."
        )
    array = np.asarray(ids)
    if array.size and array.dtype.kind == "f":
        if not np.isfinite(array).all() or not np.all(array == np.floor(array)):
            raise ValueError(f"{name} must hold integer ids; got non-integer floats.")
    elif array.size and array.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must hold integer ids; got dtype {array.dtype} "
            f"(first value {array.flat[0]!r})."
        )
    if array.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-dimensional sequence of integer ids, got shape {array.shape}."
        )
    if array.size == 0:
        return np.zeros(0, dtype=INDEX)
    if array.min() < 0 or array.max() > _INT32_MAX:
        raise ValueError(f"{name}: {NEGATIVE_IDS}")
    return np.ascontiguousarray(array, dtype=INDEX)


def as_row_mask(rows: object, n_rows: int, name: str, what: str) -> np.ndarray:
    """The kernels' trainable-rows mask from feature-row indices.

    Parameters
    ----------
    rows : array-like of int or None
        Indices of the rows that may change (duplicates allowed, any order); ``None``:
        every row. An empty sequence freezes every row.
    n_rows : int
        Number of rows (``0 <= index < n_rows``).
    name : str
        Argument name, for error messages.
    what : str
        What the rows are (e.g. ``"item feature rows"``), for error messages.

    Returns
    -------
    numpy.ndarray of uint8, shape (n_rows,) or (0,)
        1 for a trainable row, 0 for a frozen one; the empty array when every row is
        trainable (the kernels' unmasked path).
    """
    if rows is None:
        return np.zeros(0, dtype=np.uint8)
    if isinstance(rows, np.ndarray) and rows.dtype == np.bool_:
        raise ValueError(
            f"{name} must hold indices of {what}, got a boolean array of shape "
            f"{rows.shape}; pass np.flatnonzero(mask) for a boolean mask."
        )
    indices = as_id_array(rows, name)
    if indices.size and indices.max() >= n_rows:
        raise ValueError(
            f"{name} contains index {int(indices.max())}, but the model has {n_rows} "
            f"{what} (indices 0..{n_rows - 1})."
        )
    mask = np.zeros(n_rows, dtype=np.uint8)
    mask[indices] = 1
    if n_rows and mask.all():
        return np.zeros(0, dtype=np.uint8)
    return mask


def is_integer(value: object) -> bool:
    """True for Python and numpy integers, False for booleans (which Python counts as
    integers, but which are never a meaningful count, size or id)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value: object) -> bool:
    """True for real numbers (Python or numpy), False for booleans."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an ``int``; ``ValueError`` naming ``name`` unless it is an
    integer ``>= minimum`` (booleans refused)."""
    if not is_integer(value) or value < minimum:
        rule = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {rule}, got {value!r}.")
    return int(value)


def check_int_in(value: Any, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int``; ``ValueError`` naming ``name`` and the bounds
    ("an integer >= minimum" or "an integer in [minimum, maximum]") unless it is an
    integer in them (booleans refused). ``check_int``'s rule, always worded with
    the bound, as the Spotlight door and the index parameters word it."""
    if not is_integer(value) or value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}.")
    return int(value)


def check_positive_int(value: object, name: str) -> int:
    """``check_int(value, name, 1)``: an integer >= 1, booleans refused."""
    return check_int(value, name, 1)


def check_bool(value: object, name: str) -> bool:
    """Return ``value`` as a ``bool``; ``ValueError`` unless it is True or False."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_fraction(value: Any, name: str) -> float:
    """Return ``value`` as a ``float``; ``ValueError`` unless a number in [0, 1]."""
    if not is_real(value) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}.")
    return float(value)


# ------------------------------------------------------------- DataFrames and keys
_SHOW = 5


def show_keys(values: Any) -> str:
    """A few values for an error message: ``[a, b, c, d, e] and N more``."""
    values = list(np.asarray(values, dtype=object).ravel().tolist())
    more = f" and {len(values) - _SHOW} more" if len(values) > _SHOW else ""
    return f"{values[:_SHOW]!r}{more}"


def check_frame(frame: Any, name: str, columns: Sequence[Hashable] = (),
                kind: type[Any] = pd.DataFrame, kind_name: str = "pandas.DataFrame") -> Any:
    """Return ``frame``; ``TypeError`` unless it is a ``kind`` (a DataFrame type),
    ``ValueError`` naming the missing ones unless it holds every column of ``columns``."""
    if not isinstance(frame, kind):
        raise TypeError(f"{name} must be a {kind_name}, got {type(frame).__name__}.")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} has no column(s) {missing!r}; its columns are "
                         f"{list(frame.columns)!r}.")
    return frame


def key_array(keys: Any, name: str) -> np.ndarray:
    """Keys as a 1-d numpy array (object dtype unless given as an array); a single key
    (a string, bytes or any scalar) becomes an array of one."""
    if isinstance(keys, (pd.Series, pd.Index)):
        return keys.to_numpy()
    if isinstance(keys, (str, bytes)) or np.ndim(keys) == 0:
        array = np.empty(1, dtype=object)
        array[0] = keys
        return array
    if isinstance(keys, np.ndarray):
        array = keys
    else:
        array = np.empty(len(keys), dtype=object)
        array[:] = list(keys)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one key or a 1-d sequence of keys, got shape "
                         f"{array.shape}.")
    return array


def csr_index_dtype(nnz: int) -> type:
    """The index dtype of a canonical scipy CSR with ``nnz`` stored entries: int32 while
    ``indptr`` fits in it, else int64 (scipy keeps ``indices`` and ``indptr`` in one
    dtype, so both are int64 then; the kernels get int32 ids from ``csr_kernel_arrays``)."""
    return np.int32 if nnz <= _INT32_MAX else np.int64


def int32_csr(matrix: sp.spmatrix, shape: tuple[int, int] | None = None) -> sp.csr_matrix:
    """float32 CSR with summed duplicates, resized to ``shape`` when given (new rows /
    columns are empty), with int32 index arrays up to ``2**31 - 1`` stored entries and
    int64 ones beyond (``csr_index_dtype``: never a silently wrapped ``indptr``)."""
    csr = sp.csr_matrix(matrix, dtype=np.float32)
    if shape is not None and csr.shape != shape:
        csr.resize(shape)
    csr.sum_duplicates()
    dtype = csr_index_dtype(csr.nnz)
    csr.indices = csr.indices.astype(dtype, copy=False)
    csr.indptr = csr.indptr.astype(dtype, copy=False)
    return csr


def csr_kernel_arrays(matrix: sp.csr_matrix | sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr, indices)`` of a CSR as the kernels take them: C-contiguous int64
    positions and int32 ids (``_config.POSITION`` / ``_config.INDEX``), whatever index
    dtype scipy chose. ``indptr`` has one entry per row, so the copy costs O(rows); the
    ``indices`` are copied only when scipy holds them as int64 (past 2**31 - 1 entries,
    or when the caller built them so). The ids are below 2**31 (``check_sparse``)."""
    indptr = np.ascontiguousarray(matrix.indptr, dtype=POSITION)
    indices = np.ascontiguousarray(matrix.indices, dtype=INDEX)
    return indptr, indices
