"""Interaction and feature matrices from pandas DataFrames (the fast, vectorised path).

Nothing here loops over rows in Python: keys are hashed with pandas (``factorize``,
``Index.get_indexer``), feature names are built once per distinct value, and the
sparse matrices are assembled from index arrays.

Missing values
--------------
A NaN (or None) in a *feature* column means "this row has no such feature": the cell
adds nothing to the row. A NaN or None in an *id* column (user, item, entity) is an
error, because the row cannot be placed.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .mapping import IdMapper, as_key_array, check_no_missing_keys

__all__ = [
    "FeatureMatrix",
    "Interactions",
    "combine_features",
    "features_from_frame",
    "features_from_long_frame",
    "interactions_from_frame",
    "normalize_rows",
]

_DUPLICATES = ("sum", "max", "first", "last", "keep")
_SHOW = 5


# ----------------------------------------------------------------------------- helpers
def _check_frame(frame: Any, name: str = "frame") -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas.DataFrame, got {type(frame).__name__}.")
    return frame


def _check_columns(frame: pd.DataFrame, columns: Sequence[Hashable], argument: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(
            f"{argument}: column(s) {missing!r} not in the frame; its columns are "
            f"{list(frame.columns)!r}."
        )


def _show(values: Any) -> str:
    values = values.tolist() if hasattr(values, "tolist") else list(values)
    more = f" and {len(values) - _SHOW} more" if len(values) > _SHOW else ""
    return f"{values[:_SHOW]!r}{more}"


def _rows_for_keys(keys: Any, mapper: IdMapper | None, unknown: str, column: Hashable,
                   allowed: tuple[str, ...] = ("raise", "ignore")
                   ) -> tuple[np.ndarray, IdMapper, np.ndarray | None]:
    """Row indices of ``keys``; returns (codes, mapper, keep-mask or None)."""
    if unknown not in allowed:
        raise ValueError(f"unknown must be one of {allowed}, got {unknown!r}.")
    if mapper is not None and not isinstance(mapper, IdMapper):
        raise TypeError(f"the mapper for column {column!r} must be an IdMapper, got "
                        f"{type(mapper).__name__}.")
    array = as_key_array(keys, str(column))
    if mapper is None:
        mapper = IdMapper()
        return mapper.fit_transform(array, name=f"id column {column!r}"), mapper, None
    if unknown == "extend":
        mapper = mapper.copy()
        return mapper.fit_transform(array, name=f"id column {column!r}"), mapper, None
    try:
        codes = mapper.transform(array, unknown="ignore", name=f"column {column!r}")
    except TypeError as error:
        raise TypeError(f"id column {column!r}: every key must be hashable; {error}.") from None
    known = codes >= 0
    if known.all():
        return codes, mapper, None
    check_no_missing_keys(array, f"id column {column!r}")
    if unknown == "raise":
        bad = pd.unique(np.asarray(array, dtype=object)[~known])
        raise ValueError(
            f"column {column!r} has {bad.size} id(s) not in the given mapper: {_show(bad)}. "
            f"Add them to the mapper first (IdMapper.partial_fit) or pass "
            f"unknown='ignore' to drop those rows."
        )
    return codes[known], mapper, known


def normalize_rows(matrix: sp.spmatrix) -> sp.csr_matrix:
    """L1-normalise the rows of a sparse matrix (rows of zeros stay zero).

    Same as ``sklearn.preprocessing.normalize(matrix, norm="l1")``, which LightFM's
    ``Dataset`` applies: each row is divided by the sum of its absolute values.

    Parameters
    ----------
    matrix : scipy.sparse matrix
        Any sparse matrix.

    Returns
    -------
    scipy.sparse.csr_matrix
        float32, a new matrix.
    """
    csr = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    norms = np.add.reduceat(np.abs(csr.data, dtype=np.float64),
                            csr.indptr[:-1]) if csr.nnz else np.zeros(0)
    counts = np.diff(csr.indptr)
    row_norm = np.zeros(csr.shape[0], dtype=np.float64)
    nonempty = counts > 0
    row_norm[nonempty] = norms[nonempty] if csr.nnz else 0.0
    scale = np.divide(1.0, row_norm, out=np.zeros_like(row_norm), where=row_norm > 0)
    csr.data = (csr.data * np.repeat(scale, counts)).astype(np.float32)
    return csr


def _to_int32(matrix: sp.csr_matrix | sp.coo_matrix) -> Any:
    if isinstance(matrix, sp.coo_matrix):
        matrix.row = matrix.row.astype(np.int32, copy=False)
        matrix.col = matrix.col.astype(np.int32, copy=False)
    elif matrix.nnz < np.iinfo(np.int32).max:
        matrix.indices = matrix.indices.astype(np.int32, copy=False)
        matrix.indptr = matrix.indptr.astype(np.int32, copy=False)
    return matrix


# ------------------------------------------------------------------------ interactions
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
    frame = _check_frame(frame)
    _check_columns(frame, [c for c in (user_col, item_col, weight_col) if c is not None],
                   "user_col/item_col/weight_col")
    if duplicates not in _DUPLICATES:
        raise ValueError(f"duplicates must be one of {_DUPLICATES}, got {duplicates!r}.")
    if format not in ("csr", "coo"):
        raise ValueError(f"format must be 'csr' or 'coo', got {format!r}.")
    if duplicates == "keep" and format != "coo":
        raise ValueError("duplicates='keep' needs format='coo' (CSR cannot hold duplicates).")
    allowed = ("raise", "ignore", "extend")
    rows, user_mapper, keep_u = _rows_for_keys(frame[user_col], user_mapper, unknown,
                                               user_col, allowed)
    cols, item_mapper, keep_i = _rows_for_keys(frame[item_col], item_mapper, unknown,
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


# ---------------------------------------------------------------------------- features
@dataclass(frozen=True)
class FeatureMatrix:
    """A feature matrix with its row mapper and column names.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix
        ``(len(mapper), len(names))`` float32, int32 indices.
    mapper : IdMapper
        Entity keys (users or items) to rows.
    names : numpy.ndarray of object
        Column names. The first ``n_identity`` columns are identity features, named by
        the entity key itself (column ``i`` belongs to the entity of row ``i``); the
        others are side-feature names such as ``"genre:Drama"`` or ``"price:bin2"``.
        Identity and side features live in separate namespaces (see
        :meth:`feature_index`), so an id can never collide with a feature name.
    n_identity : int
        Number of identity columns (0 or ``len(mapper)``).
    normalized : bool
        Whether rows were L1-normalised.
    bin_edges : dict of str to numpy.ndarray
        Quantile bin edges of each discretised numeric column (``bin k`` covers
        ``(edges[k], edges[k+1]]``, the first bin including its left edge).
    """

    matrix: sp.csr_matrix
    mapper: IdMapper
    names: np.ndarray
    n_identity: int = 0
    normalized: bool = False
    bin_edges: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """tuple of int: the matrix shape."""
        return self.matrix.shape

    @property
    def side_names(self) -> np.ndarray:
        """numpy.ndarray: names of the side (non-identity) features."""
        return self.names[self.n_identity:]

    def feature_index(self, names: Any, identity: bool = False) -> np.ndarray:
        """Column indices of features (e.g. to find their embeddings in a model).

        Parameters
        ----------
        names : str or array-like
            Side-feature names, or entity keys when ``identity=True``.
        identity : bool
            Look up identity columns (by entity key) instead of side features.

        Returns
        -------
        numpy.ndarray of int32
            Column indices (a 0-d array for a single name).

        Raises
        ------
        KeyError
            Naming the unknown feature names.
        """
        scalar = np.ndim(names) == 0 and not isinstance(names, (list, tuple))
        values = [names] if scalar else names
        if identity:
            if self.n_identity == 0:
                raise KeyError("this feature matrix has no identity features.")
            codes = self.mapper.transform(values, name="identity feature keys")
        else:
            index = pd.Index(self.side_names)
            codes = index.get_indexer(as_key_array(values, "names"))
            if np.any(codes < 0):
                bad = np.asarray(values, dtype=object)[codes < 0]
                raise KeyError(f"feature name(s) not in the matrix: {_show(bad)}.")
            codes = (codes + self.n_identity).astype(np.int32)
        return codes[0] if scalar else codes


class _Side(NamedTuple):
    rows: np.ndarray      # int32 entity rows
    codes: np.ndarray     # int64 local feature codes
    weights: np.ndarray   # float32
    names: np.ndarray     # object array, one per local code


def _is_list_column(series: pd.Series) -> bool:
    if series.dtype != object:
        return False
    first = series.first_valid_index()
    return first is not None and isinstance(series.loc[first], (list, tuple, set,
                                                                 np.ndarray, frozenset))


def _categorical(values: pd.Series, rows: np.ndarray, prefix: str) -> _Side:
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    keep = codes >= 0
    names = (prefix + pd.Index(uniques).astype(str)).to_numpy(dtype=object)
    return _Side(rows[keep], codes[keep].astype(np.int64),
                 np.ones(int(keep.sum()), dtype=np.float32), names)


def _multi(series: pd.Series, rows: np.ndarray, prefix: str, sep: str | None) -> _Side:
    series = series.reset_index(drop=True)
    if sep is not None:
        series = series.astype("string").str.split(sep)
    exploded = series.explode()
    positions = exploded.index.to_numpy()
    if sep is not None:
        exploded = exploded.str.strip().replace("", np.nan)
    return _categorical(exploded.reset_index(drop=True), rows[positions], prefix)


def _binned(series: pd.Series, rows: np.ndarray, column: str, n_bins: int,
            bin_edges: dict) -> _Side:
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(values)
    if not finite.any():
        return _Side(rows[:0], np.zeros(0, np.int64), np.zeros(0, np.float32),
                     np.zeros(0, dtype=object))
    bins, edges = pd.qcut(values[finite], q=n_bins, labels=False, retbins=True,
                          duplicates="drop")
    bin_edges[column] = edges
    n = len(edges) - 1
    names = np.array([f"{column}:bin{k}" for k in range(max(n, 1))], dtype=object)
    codes = np.nan_to_num(np.asarray(bins, dtype=np.float64), nan=0.0).astype(np.int64)
    return _Side(rows[finite], codes, np.ones(codes.size, dtype=np.float32), names)


def _raw(series: pd.Series, rows: np.ndarray, column: str) -> _Side:
    values = _numeric_values(series, f"raw column {column!r}")
    keep = ~np.isnan(values)
    return _Side(rows[keep], np.zeros(int(keep.sum()), dtype=np.int64),
                 values[keep].astype(np.float32), np.array([column], dtype=object))


def _numeric_values(series: pd.Series, name: str) -> np.ndarray:
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        raise ValueError(f"{name} must be numeric, got dtype {series.dtype}.")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(values).any():
        raise ValueError(f"{name} contains infinite values; use NaN for 'no feature'.")
    return values


def _assemble(sides: list[_Side], mapper: IdMapper, identity: bool, normalize: bool,
              bin_edges: dict | None = None) -> FeatureMatrix:
    n_rows = len(mapper)
    offset = n_rows if identity else 0
    all_rows = [np.arange(n_rows, dtype=np.int32)] if identity else []
    all_cols = [np.arange(n_rows, dtype=np.int64)] if identity else []
    all_weights = [np.ones(n_rows, dtype=np.float32)] if identity else []
    name_parts = [mapper.keys.to_numpy(dtype=object)] if identity else []
    # Merge equal names across sides (e.g. the same tag from two tables).
    side_names = (np.concatenate([s.names for s in sides]) if sides
                  else np.zeros(0, dtype=object))
    name_codes, unique_names = pd.factorize(side_names) if side_names.size else \
        (np.zeros(0, np.int64), np.zeros(0, dtype=object))
    start = 0
    for side in sides:
        local = name_codes[start:start + side.names.size]
        start += side.names.size
        all_rows.append(side.rows.astype(np.int32, copy=False))
        all_cols.append(local[side.codes].astype(np.int64) + offset)
        all_weights.append(side.weights)
    name_parts.append(np.asarray(unique_names, dtype=object))
    names = np.concatenate(name_parts) if name_parts else np.zeros(0, dtype=object)
    rows = np.concatenate(all_rows) if all_rows else np.zeros(0, np.int32)
    cols = np.concatenate(all_cols) if all_cols else np.zeros(0, np.int64)
    weights = np.concatenate(all_weights) if all_weights else np.zeros(0, np.float32)
    matrix = sp.csr_matrix((weights, (rows, cols)), shape=(n_rows, names.size),
                           dtype=np.float32)
    matrix.sum_duplicates()
    if normalize:
        matrix = normalize_rows(matrix)
    matrix = _to_int32(matrix)
    return FeatureMatrix(matrix, mapper, names, offset, normalize, dict(bin_edges or {}))


def _entity_rows(frame: pd.DataFrame, id_col: Hashable, mapper: IdMapper | None,
                 unknown: str) -> tuple[pd.DataFrame, np.ndarray, IdMapper]:
    rows, mapper, keep = _rows_for_keys(frame[id_col], mapper, unknown, id_col)
    if keep is not None:
        frame = frame.loc[keep]
    return frame, rows, mapper


def features_from_frame(
    frame: pd.DataFrame,
    id_col: Hashable,
    *,
    categorical: Sequence[Hashable] | None = None,
    numeric: Sequence[Hashable] | None = None,
    raw: Sequence[Hashable] | None = None,
    multi_valued: Mapping[Hashable, str | None] | Sequence[Hashable] | None = None,
    n_bins: int = 5,
    mapper: IdMapper | None = None,
    unknown: str = "raise",
    identity: bool = True,
    normalize: bool = True,
) -> FeatureMatrix:
    """Feature matrix from a wide frame with one row per entity (user or item).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per entity; ``id_col`` must be unique.
    id_col : hashable
        Column of entity keys.
    categorical : sequence of hashable, optional
        Columns one-hot encoded as ``"column:value"``.
    numeric : sequence of hashable, optional
        Numeric columns discretised into ``n_bins`` quantile bins, named
        ``"column:bin<k>"`` (edges in ``FeatureMatrix.bin_edges``). Discretising is what
        works for numeric side features in this model family: an embedding per bin can
        learn a non-linear effect, a raw weight only scales one embedding.
    raw : sequence of hashable, optional
        Numeric columns used as raw weights of one feature named ``"column"``.
    multi_valued : mapping or sequence of hashable, optional
        Columns whose cells hold several values: lists/tuples/sets (give the column in a
        sequence, or map it to ``None``) or strings split on a separator (map the column
        to it, e.g. ``{"genres": "|"}``). Each value becomes ``"column:value"``.
    n_bins : int
        Quantile bins per numeric column (fewer when values repeat).
    mapper : IdMapper, optional
        Row mapper (e.g. the item mapper of the interactions): row ``i`` of the result
        belongs to key ``i`` of the mapper; mapper keys absent from the frame get only
        their identity feature. Default: a new mapper in the frame's order.
    unknown : {"raise", "ignore"}
        Frame ids missing from ``mapper``: raise ``ValueError`` naming them, or drop them.
    identity : bool
        Put one identity column per entity before the side features.
    normalize : bool
        L1-normalise each row (LightFM's ``Dataset`` default). Rows without any
        feature stay zero.

    Returns
    -------
    FeatureMatrix
        The matrix, mapper and feature names.

    Raises
    ------
    ValueError
        Missing columns, NaN/None or duplicate ids, unknown ids, non-numeric
        ``numeric``/``raw`` columns, ``n_bins < 1``.

    Notes
    -----
    When none of ``categorical``, ``numeric``, ``raw`` and ``multi_valued`` is given,
    every other column is used: numeric dtypes are binned, list-valued columns are
    multi-valued, everything else is categorical. A NaN cell means "no feature".
    """
    frame = _check_frame(frame)
    _check_columns(frame, [id_col], "id_col")
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}.")
    if isinstance(multi_valued, Mapping):
        multi = dict(multi_valued)
    else:
        multi = {column: None for column in (multi_valued or ())}
    categorical, numeric, raw = list(categorical or ()), list(numeric or ()), list(raw or ())
    if not (categorical or numeric or raw or multi):
        for column in frame.columns:
            if column == id_col:
                continue
            series = frame[column]
            if (pd.api.types.is_numeric_dtype(series)
                    and not pd.api.types.is_bool_dtype(series)):
                numeric.append(column)
            elif _is_list_column(series):
                multi[column] = None
            else:
                categorical.append(column)
    _check_columns(frame, categorical + numeric + raw + list(multi), "feature columns")
    duplicated = frame[id_col].duplicated()
    if duplicated.any():
        raise ValueError(
            f"id column {id_col!r} has {int(duplicated.sum())} duplicated id(s): "
            f"{_show(frame.loc[duplicated.to_numpy(), id_col].unique())}; a wide frame "
            f"needs one row per entity (use features_from_long_frame for several rows)."
        )
    frame, rows, mapper = _entity_rows(frame, id_col, mapper, unknown)
    sides: list[_Side] = []
    edges: dict = {}
    for column in categorical:
        sides.append(_categorical(frame[column], rows, f"{column}:"))
    for column, sep in multi.items():
        sides.append(_multi(frame[column], rows, f"{column}:", sep))
    for column in numeric:
        _numeric_values(frame[column], f"numeric column {column!r}")
        sides.append(_binned(frame[column], rows, str(column), n_bins, edges))
    for column in raw:
        sides.append(_raw(frame[column], rows, str(column)))
    return _assemble(sides, mapper, identity, normalize, edges)


def features_from_long_frame(
    frame: pd.DataFrame,
    id_col: Hashable,
    feature_cols: Hashable | Sequence[Hashable],
    weight_col: Hashable | None = None,
    *,
    sep: str = ":",
    mapper: IdMapper | None = None,
    unknown: str = "raise",
    identity: bool = True,
    normalize: bool = True,
) -> FeatureMatrix:
    """Feature matrix from a long frame: one row per (entity, feature[, weight]).

    Parameters
    ----------
    frame : pandas.DataFrame
        E.g. a tag table ``(item_id, tag)`` or ``(item_id, type, value)``.
    id_col : hashable
        Column of entity keys (repeated across rows).
    feature_cols : hashable or sequence of hashable
        One column whose values are the feature names (cells may also be lists of
        names), or several columns whose values are joined with ``sep``: columns
        ``("type", "value")`` give features ``"type:value"``.
    weight_col : hashable, optional
        Numeric weight of each row; default 1.0. Repeated (entity, feature) rows add up.
    sep : str
        Separator for joining several feature columns.
    mapper : IdMapper, optional
        Row mapper; see :func:`features_from_frame`.
    unknown : {"raise", "ignore"}
        Frame ids missing from ``mapper``: raise ``ValueError`` or drop those rows.
    identity : bool
        Put one identity column per entity before the side features.
    normalize : bool
        L1-normalise each row.

    Returns
    -------
    FeatureMatrix
        The matrix, mapper and feature names.

    Raises
    ------
    ValueError
        Missing columns, NaN/None ids, unknown ids, non-numeric or infinite weights.

    Notes
    -----
    A NaN in any feature column, or a NaN weight, means the row adds no feature.
    """
    frame = _check_frame(frame)
    columns = [feature_cols] if isinstance(feature_cols, (str, int)) or not isinstance(
        feature_cols, Sequence) else list(feature_cols)
    if not columns:
        raise ValueError("feature_cols must name at least one column.")
    _check_columns(frame, [id_col] + columns + ([weight_col] if weight_col is not None
                                               else []), "id_col/feature_cols/weight_col")
    frame, rows, mapper = _entity_rows(frame, id_col, mapper, unknown)
    if len(columns) == 1:
        values = frame[columns[0]]
        if _is_list_column(values):
            side = _multi(values, rows, "", None)
            if weight_col is not None:
                raise ValueError("weight_col cannot be combined with list-valued features.")
            return _assemble([side], mapper, identity, normalize)
    else:
        missing = frame[columns].isna().any(axis=1).to_numpy()
        joined = frame[columns[0]].astype(str)
        for column in columns[1:]:
            joined = joined + sep + frame[column].astype(str)
        values = joined.where(~missing)
    values = values.reset_index(drop=True)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    keep = codes >= 0
    if weight_col is None:
        weights = np.ones(len(values), dtype=np.float32)
    else:
        raw_weights = _numeric_values(frame[weight_col], f"weight_col {weight_col!r}")
        keep &= ~np.isnan(raw_weights)
        weights = raw_weights.astype(np.float32)
    names = pd.Index(uniques).astype(str).to_numpy(dtype=object)
    side = _Side(rows[keep], codes[keep].astype(np.int64), weights[keep], names)
    return _assemble([side], mapper, identity, normalize)


def combine_features(
    parts: Sequence[FeatureMatrix],
    *,
    mapper: IdMapper | None = None,
    identity: bool = True,
    normalize: bool = True,
) -> FeatureMatrix:
    """Stack the side features of several feature matrices beside identity features.

    Parameters
    ----------
    parts : sequence of FeatureMatrix
        Built with ``identity=False, normalize=False`` (e.g. a wide item frame and a
        long tag table). Equal feature names in different parts share a column.
    mapper : IdMapper, optional
        Row mapper of the result. Default: the first part's mapper extended with the
        keys of the others (a copy; the parts are not changed).
    identity : bool
        Put one identity column per entity before the side features.
    normalize : bool
        L1-normalise each row of the result.

    Returns
    -------
    FeatureMatrix
        Combined matrix.

    Raises
    ------
    ValueError
        If ``parts`` is empty, a part is normalised or has identity columns, or a
        part holds keys missing from the given ``mapper``.
    """
    parts = list(parts)
    if not parts:
        raise ValueError("parts must hold at least one FeatureMatrix.")
    for position, part in enumerate(parts):
        if not isinstance(part, FeatureMatrix):
            raise TypeError(f"parts[{position}] must be a FeatureMatrix, "
                            f"got {type(part).__name__}.")
        if part.normalized or part.n_identity:
            raise ValueError(
                f"parts[{position}] was built with identity={bool(part.n_identity)}, "
                f"normalize={part.normalized}; build parts with identity=False, "
                f"normalize=False and let combine_features add/normalise."
            )
    if mapper is None:
        mapper = parts[0].mapper.copy()
        for part in parts[1:]:
            mapper.partial_fit(part.mapper.keys)
    sides = []
    edges: dict = {}
    for position, part in enumerate(parts):
        target = mapper.transform(part.mapper.keys, unknown="ignore",
                                  name=f"parts[{position}] keys")
        if np.any(target < 0):
            bad = part.mapper.keys[target < 0]
            raise ValueError(f"parts[{position}] has keys not in mapper: {_show(bad)}.")
        coo = part.matrix.tocoo()
        sides.append(_Side(target[coo.row], coo.col.astype(np.int64),
                           coo.data.astype(np.float32), part.names))
        edges.update(part.bin_edges)
    return _assemble(sides, mapper, identity, normalize, edges)
