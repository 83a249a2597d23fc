"""Feature matrices from pandas DataFrames: one fitted encoder, identity stacking.

:class:`FeatureEncoder` is the one place where DataFrame columns become side features:
it types each column (given explicitly, or inferred), learns the vocabulary of feature
names and the numeric bin edges at ``fit``, and encodes any later frame (cold-start
entities, new batches) with exactly that vocabulary and those bins. The public builders
(:func:`features_from_frame`, :func:`features_from_long_frame`,
:func:`combine_features`) and ``hybridrec.Recommender`` (and the command line through
it) all use it, so a frame is encoded the same way whichever door it comes in by.

Nothing here loops over rows in Python: keys are hashed with pandas (``factorize``,
``Index.get_indexer``), feature names are built once per distinct value, and the
sparse matrices are assembled from index arrays.

Column typing (automatic, when no column list is given)
-------------------------------------------------------
- bool columns, and numeric columns whose values are all 0 or 1 (e.g. one column per
  genre), are **flags**: one feature named after the column, present where the value is
  true / 1. (Binning them would put every row in one bin.)
- other numeric columns are discretised into ``n_bins`` quantile **bins**
  (``"column:bin<k>"``); with at most ``n_bins`` distinct values each value gets a bin.
- list-, tuple- or set-valued columns are **multi-valued**: each element is a feature
  ``"column:value"``.
- string columns whose values are joined by ``|``, ``;`` or ``,`` (such as MovieLens'
  ``"Adventure|Animation|Children"``) are **split** into multi-valued features. A
  column counts as joined when at least 5 % of its values contain the separator, its
  distinct values have fewer distinct parts than themselves, and each part is in at
  least two of them on average (parts are shared, as genres are; free text such as
  titles with commas is not split). The separator found is recorded
  (:meth:`FeatureEncoder.describe`); name the column in ``categorical`` to keep whole
  strings, or in ``multi_valued`` to choose the separator.
- anything else is **categorical** (``"column:value"``).

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

from .._validation import check_frame, check_positive_int, int32_csr, show_keys
from .mapping import IdMapper, as_key_array, map_keys, tag_key, untag_key

__all__ = [
    "ColumnEncoding",
    "FeatureEncoder",
    "FeatureMatrix",
    "combine_features",
    "features_from_frame",
    "features_from_long_frame",
    "normalize_rows",
]

#: Column kinds of a :class:`FeatureEncoder`.
KINDS = ("categorical", "multi_valued", "numeric", "flag", "raw")
_KIND_ORDER = {"categorical": 0, "multi_valued": 1, "numeric": 2, "flag": 3, "raw": 4}
#: Separators looked for in string columns, in this order.
AUTO_SEPARATORS = ("|", ";", ",")
#: A column is split on a separator when at least this share of its values contain it...
_SPLIT_MIN_SHARE = 0.05
#: ...its distinct values have fewer distinct parts than themselves, and each part is in
#: this many of them on average.
_SPLIT_MIN_SHARING = 2.0


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
                raise KeyError(f"feature name(s) not in the matrix: {show_keys(bad)}.")
            codes = (codes + self.n_identity).astype(np.int32)
        return codes[0] if scalar else codes


# ------------------------------------------------------------------ column typing
def is_list_column(series: pd.Series) -> bool:
    """Whether an object column holds lists / tuples / sets / arrays (first valid cell)."""
    if series.dtype != object:
        return False
    first = series.first_valid_index()
    return first is not None and isinstance(
        series.loc[first], (list, tuple, set, frozenset, np.ndarray))


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _is_flag(series: pd.Series) -> bool:
    """bool dtype, or numeric with every non-missing value 0 or 1 (and some value)."""
    if pd.api.types.is_bool_dtype(series):
        return True
    if not _is_numeric(series):
        return False
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[~np.isnan(values)]
    return values.size > 0 and bool(np.all((values == 0.0) | (values == 1.0)))


def joined_separator(series: pd.Series) -> str | None:
    """The separator that joins several values in a string column, or None.

    See the module docstring for the rule (``AUTO_SEPARATORS``, at least 5 % of values
    containing it, fewer than half as many distinct parts as distinct strings).
    """
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return None
    strings = series.dropna()
    if strings.size == 0 or pd.api.types.infer_dtype(strings, skipna=True) != "string":
        return None
    strings = strings.astype("string")
    distinct = pd.Series(strings.unique())
    for separator in AUTO_SEPARATORS:
        contains = strings.str.contains(separator, regex=False)
        if contains.mean() < _SPLIT_MIN_SHARE:
            continue
        parts = distinct.str.split(separator).explode().str.strip()
        parts = parts[parts != ""]
        n_parts = parts.nunique()
        # Joined values share their parts (each genre is in many combinations); free
        # text with the separator in it does not (most parts of titles are unique).
        if 0 < n_parts < distinct.size and parts.size >= _SPLIT_MIN_SHARING * n_parts:
            return separator
    return None


@dataclass(frozen=True)
class ColumnEncoding:
    """How one column of a feature frame becomes features.

    Attributes
    ----------
    column : hashable
        The frame column.
    kind : {'categorical', 'multi_valued', 'numeric', 'flag', 'raw'}
        ``categorical``: one feature ``"column:value"`` per distinct value;
        ``multi_valued``: one per element of list cells or of ``separator``-joined
        strings; ``numeric``: quantile bins ``"column:bin<k>"``; ``flag``: one feature
        ``"column"`` where the value is true / 1; ``raw``: one feature ``"column"``
        weighted by the value.
    separator : str or None
        ``multi_valued`` strings: what joins the values (None for list cells).
    edges : numpy.ndarray or None
        ``numeric``: bin edges learned at fit (bin ``k`` is ``(edges[k], edges[k+1]]``,
        the first including its left edge; values outside go to the end bins).
    automatic : bool
        Whether the kind was inferred (rather than given).
    """

    column: Hashable
    kind: str
    separator: str | None = None
    edges: np.ndarray | None = None
    automatic: bool = False


class _Part(NamedTuple):
    """One column's contribution: entity row positions, local codes, weights, names."""

    rows: np.ndarray      # positions of the frame rows
    codes: np.ndarray     # int64 indices into ``names``
    weights: np.ndarray   # float32
    names: np.ndarray     # object array of feature names


def _value_names(values: pd.Series, prefix: str) -> np.ndarray:
    return (prefix + pd.Index(values).astype(str)).to_numpy(dtype=object)


def _categorical_part(values: pd.Series, rows: np.ndarray, prefix: str) -> _Part:
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    keep = codes >= 0
    return _Part(rows[keep], codes[keep].astype(np.int64),
                 np.ones(int(keep.sum()), dtype=np.float32), _value_names(uniques, prefix))


def _exploded(series: pd.Series, rows: np.ndarray, separator: str | None
              ) -> tuple[pd.Series, np.ndarray]:
    """One element per row of the result (cells split / exploded) and its entity row."""
    series = series.reset_index(drop=True)
    if separator is not None:
        series = series.astype("string").str.split(separator)
    exploded = series.explode()
    positions = exploded.index.to_numpy()
    if separator is not None:
        exploded = exploded.str.strip().replace("", pd.NA)
    return exploded.reset_index(drop=True), rows[positions]


def _numeric_values(series: pd.Series, name: str) -> np.ndarray:
    if not _is_numeric(series):
        raise ValueError(f"{name} must be numeric, got dtype {series.dtype}.")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(values).any():
        raise ValueError(f"{name} contains infinite values; use NaN for 'no feature'.")
    return values


def quantile_edges(values: np.ndarray, n_bins: int) -> np.ndarray | None:
    """Bin edges for the finite ``values``: quantiles, or one bin per distinct value when
    there are at most ``n_bins`` of them (quantiles of a column with few values collapse
    into fewer bins than values, e.g. one bin for a 0/1 column). None without values."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    distinct = np.unique(finite)
    if distinct.size <= n_bins:
        if distinct.size == 1:
            return np.array([distinct[0], distinct[0]], dtype=np.float64)
        middles = (distinct[:-1] + distinct[1:]) / 2.0
        return np.concatenate([[distinct[0]], middles, [distinct[-1]]]).astype(np.float64)
    _, edges = pd.qcut(finite, q=n_bins, labels=False, retbins=True, duplicates="drop")
    return np.asarray(edges, dtype=np.float64)


def bin_of(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each value (``(edges[k], edges[k+1]]``, first bin closed, values
    outside the edges in the end bins)."""
    n_bins = max(len(edges) - 1, 1)
    return np.clip(np.searchsorted(edges, values, side="left") - 1, 0, n_bins - 1)


class FeatureEncoder:
    """The fitted encoder of a side-feature DataFrame (one row per entity).

    ``fit`` types the columns (as given, or automatically: see the module docstring),
    learns the vocabulary of feature names and the numeric bin edges; ``transform``
    encodes any frame with the same columns into rows over that vocabulary (values never
    seen at ``fit`` are ignored, numeric values use the fitted bins).

    Parameters
    ----------
    categorical : sequence of hashable, optional
        Columns one-hot encoded as ``"column:value"``.
    numeric : sequence of hashable, optional
        Columns discretised into ``n_bins`` quantile bins ``"column:bin<k>"``.
    raw : sequence of hashable, optional
        Numeric columns used as the weight of one feature ``"column"``.
    multi_valued : mapping or sequence of hashable, optional
        Columns with several values per cell: list cells (a sequence of columns, or a
        column mapped to None) or strings split on a separator (``{"genres": "|"}``).
    flags : sequence of hashable, optional
        Boolean / 0-1 columns: one feature ``"column"`` where true.
    n_bins : int, default 5
        Quantile bins per numeric column.

    When no column list is given, every column but the id column is typed
    automatically. Once one is given, only the named columns are used.

    Attributes
    ----------
    columns_ : list of ColumnEncoding
        The fitted typing of every column.
    names_ : numpy.ndarray of object
        The vocabulary: one name per feature (equal names from different columns share
        one feature).
    """

    def __init__(self, *, categorical: Sequence[Hashable] | None = None,
                 numeric: Sequence[Hashable] | None = None,
                 raw: Sequence[Hashable] | None = None,
                 multi_valued: Mapping[Hashable, str | None] | Sequence[Hashable] | None = None,
                 flags: Sequence[Hashable] | None = None, n_bins: int = 5) -> None:
        self.categorical = categorical
        self.numeric = numeric
        self.raw = raw
        self.multi_valued = multi_valued
        self.flags = flags
        self.n_bins = n_bins

    # -------------------------------------------------------------------- fitting
    def _given(self) -> list[ColumnEncoding]:
        multi = self.multi_valued
        if isinstance(multi, Mapping):
            multi = dict(multi)
        else:
            multi = {column: None for column in (multi or ())}
        given = [ColumnEncoding(c, "categorical") for c in (self.categorical or ())]
        given += [ColumnEncoding(c, "multi_valued", separator=s) for c, s in multi.items()]
        given += [ColumnEncoding(c, "numeric") for c in (self.numeric or ())]
        given += [ColumnEncoding(c, "flag") for c in (self.flags or ())]
        given += [ColumnEncoding(c, "raw") for c in (self.raw or ())]
        return given

    @staticmethod
    def _infer(series: pd.Series, column: Hashable) -> ColumnEncoding:
        if _is_flag(series):
            return ColumnEncoding(column, "flag", automatic=True)
        if _is_numeric(series):
            return ColumnEncoding(column, "numeric", automatic=True)
        if is_list_column(series):
            return ColumnEncoding(column, "multi_valued", automatic=True)
        separator = joined_separator(series)
        if separator is not None:
            return ColumnEncoding(column, "multi_valued", separator=separator, automatic=True)
        return ColumnEncoding(column, "categorical", automatic=True)

    def fit(self, frame: pd.DataFrame, id_col: Hashable, name: str = "frame"
            ) -> FeatureEncoder:
        """Learn the column typing, vocabulary and bin edges from ``frame``.

        Parameters
        ----------
        frame : pandas.DataFrame
            One row per entity.
        id_col : hashable
            The entity key column (not a feature).
        name : str
            What to call the frame in error messages.

        Returns
        -------
        FeatureEncoder
            ``self``.

        Raises
        ------
        ValueError
            Missing or duplicated columns, the id column given as a feature, no feature
            column, non-numeric ``numeric`` / ``raw`` columns, ``n_bins < 1``.
        """
        check_frame(frame, name, [id_col])
        n_bins = check_positive_int(self.n_bins, "n_bins")
        given = self._given()
        if given:
            columns = [encoding.column for encoding in given]
            repeated = sorted({repr(c) for c in columns if columns.count(c) > 1})
            if repeated:
                raise ValueError(f"{name}: column(s) {', '.join(repeated)} are given more "
                                 "than one kind; name each column once.")
            if id_col in columns:
                raise ValueError(f"{name}: the id column {id_col!r} cannot also be a "
                                 "feature column.")
            check_frame(frame, name, columns)
        else:
            inferred = [self._infer(frame[column], column) for column in frame.columns
                        if column != id_col]
            # Kinds in the order of the explicit lists (frame order within a kind), so
            # automatic and explicit typing of the same columns give the same names.
            given = sorted(inferred, key=lambda encoding: _KIND_ORDER[encoding.kind])
        if not given:
            raise ValueError(f"{name}: the feature frame has no feature columns besides "
                             f"{id_col!r}.")
        rows = np.arange(len(frame))
        fitted: list[ColumnEncoding] = []
        parts: list[_Part] = []
        for encoding in given:
            series = frame[encoding.column]
            if encoding.kind in ("numeric", "raw"):
                values = _numeric_values(series, f"{name}: {encoding.kind} column "
                                                 f"{encoding.column!r}")
                if encoding.kind == "numeric":
                    edges = quantile_edges(values, n_bins)
                    encoding = ColumnEncoding(encoding.column, "numeric", edges=edges,
                                              automatic=encoding.automatic)
            fitted.append(encoding)
            parts.append(self._part(encoding, series, rows, name))
        names = np.concatenate([part.names for part in parts])
        _, unique = pd.factorize(pd.Index(names, dtype=object))
        self.columns_ = fitted
        self.names_ = np.asarray(unique, dtype=object)
        self.id_col_ = id_col
        return self

    @staticmethod
    def _part(encoding: ColumnEncoding, series: pd.Series, rows: np.ndarray, name: str
              ) -> _Part:
        """The features of one column over the fit vocabulary of that column alone."""
        column = encoding.column
        if encoding.kind == "categorical":
            return _categorical_part(series.reset_index(drop=True), rows, f"{column}:")
        if encoding.kind == "multi_valued":
            values, value_rows = _exploded(series, rows, encoding.separator)
            return _categorical_part(values, value_rows, f"{column}:")
        if encoding.kind == "flag":
            if pd.api.types.is_bool_dtype(series):
                on = series.fillna(False).to_numpy(dtype=bool)
            elif _is_numeric(series):
                on = series.to_numpy(dtype=np.float64, na_value=np.nan) == 1.0
            else:
                raise ValueError(f"{name}: flag column {column!r} must be boolean or 0/1, "
                                 f"got dtype {series.dtype}.")
            return _Part(rows[on], np.zeros(int(on.sum()), np.int64),
                         np.ones(int(on.sum()), np.float32), np.array([str(column)], object))
        values = _numeric_values(series, f"{name}: {encoding.kind} column {column!r}")
        finite = np.isfinite(values)
        if encoding.kind == "raw":
            return _Part(rows[finite], np.zeros(int(finite.sum()), np.int64),
                         values[finite].astype(np.float32), np.array([str(column)], object))
        edges = encoding.edges
        if edges is None:  # no finite value at fit: the column has no features
            return _Part(rows[:0], np.zeros(0, np.int64), np.zeros(0, np.float32),
                         np.zeros(0, dtype=object))
        n_bins = max(len(edges) - 1, 1)
        names = np.array([f"{column}:bin{k}" for k in range(n_bins)], dtype=object)
        return _Part(rows[finite], bin_of(values[finite], edges).astype(np.int64),
                     np.ones(int(finite.sum()), np.float32), names)

    # ---------------------------------------------------------------- transform
    def _check_fitted(self) -> None:
        if not hasattr(self, "names_"):
            raise ValueError("This FeatureEncoder is not fitted yet: call fit(frame, id_col).")

    def transform(self, frame: pd.DataFrame, id_col: Hashable | None = None,
                  name: str = "frame") -> sp.csr_matrix:
        """Encode ``frame`` over the fitted vocabulary.

        Parameters
        ----------
        frame : pandas.DataFrame
            One row per entity, with the fitted columns.
        id_col : hashable, optional
            Its key column (default: the one given to ``fit``); only checked here.
        name : str
            What to call the frame in error messages.

        Returns
        -------
        scipy.sparse.csr_matrix
            ``(len(frame), len(names_))`` float32 rows in frame order (not normalised;
            equal names from several columns add up). Values never seen at ``fit`` add
            nothing.

        Raises
        ------
        ValueError
            Missing columns, non-numeric values in a numeric column.
        """
        self._check_fitted()
        id_col = self.id_col_ if id_col is None else id_col
        check_frame(frame, name, [id_col] + [e.column for e in self.columns_])
        rows = np.arange(len(frame))
        vocabulary = pd.Index(self.names_, dtype=object)
        all_rows, all_cols, all_weights = [], [], []
        for encoding in self.columns_:
            part = self._part(encoding, frame[encoding.column], rows, name)
            target = vocabulary.get_indexer(pd.Index(part.names, dtype=object))
            columns = target[part.codes] if part.codes.size else part.codes
            known = columns >= 0
            all_rows.append(part.rows[known])
            all_cols.append(columns[known])
            all_weights.append(part.weights[known])
        matrix = sp.csr_matrix(
            (np.concatenate(all_weights).astype(np.float32),
             (np.concatenate(all_rows), np.concatenate(all_cols))),
            shape=(len(frame), self.names_.size))
        return int32_csr(matrix)

    def fit_transform(self, frame: pd.DataFrame, id_col: Hashable, name: str = "frame"
                      ) -> sp.csr_matrix:
        """``fit(frame, id_col)`` then ``transform(frame)``."""
        return self.fit(frame, id_col, name).transform(frame, id_col, name)

    @property
    def bin_edges_(self) -> dict[str, np.ndarray]:
        """dict of str to numpy.ndarray: fitted bin edges of every numeric column."""
        self._check_fitted()
        return {str(e.column): e.edges for e in self.columns_
                if e.kind == "numeric" and e.edges is not None}

    def describe(self) -> pd.DataFrame:
        """The fitted typing: one row per column with its ``kind``, ``separator``,
        ``automatic`` (inferred or given) and ``n_features``.

        Returns
        -------
        pandas.DataFrame
        """
        self._check_fitted()
        rows = []
        for encoding in self.columns_:
            if encoding.kind in ("flag", "raw"):
                count = 1
            elif encoding.kind == "numeric":
                count = 0 if encoding.edges is None else max(len(encoding.edges) - 1, 1)
            else:
                prefix = f"{encoding.column}:"
                count = int(sum(str(n).startswith(prefix) for n in self.names_))
            rows.append({"column": encoding.column, "kind": encoding.kind,
                         "separator": encoding.separator, "automatic": encoding.automatic,
                         "n_features": count})
        frame = pd.DataFrame(rows, columns=["column", "kind", "separator", "automatic",
                                            "n_features"])
        frame["separator"] = pd.Series([row["separator"] for row in rows], dtype=object)
        return frame

    # -------------------------------------------------------------- persistence
    def to_dict(self) -> dict:
        """A JSON-able description that :meth:`from_dict` turns back into this encoder."""
        self._check_fitted()
        return {"format": 1, "n_bins": int(self.n_bins), "id_col": tag_key(self.id_col_),
                "columns": [{"column": tag_key(e.column), "kind": e.kind,
                             "separator": e.separator, "automatic": e.automatic,
                             "edges": None if e.edges is None else
                             np.asarray(e.edges, np.float64).tolist()}
                            for e in self.columns_],
                "names": [str(n) for n in self.names_]}

    @classmethod
    def from_dict(cls, payload: Mapping) -> FeatureEncoder:
        """Rebuild an encoder saved with :meth:`to_dict`.

        Raises
        ------
        ValueError
            Another format, or an unknown column kind.
        """
        if payload.get("format") != 1:
            raise ValueError(f"unsupported FeatureEncoder format {payload.get('format')!r}.")
        encoder = cls(n_bins=payload["n_bins"])
        columns = []
        for entry in payload["columns"]:
            if entry["kind"] not in KINDS:
                raise ValueError(f"unknown column kind {entry['kind']!r}.")
            edges = entry["edges"]
            columns.append(ColumnEncoding(untag_key(entry["column"]), entry["kind"],
                                          entry["separator"],
                                          None if edges is None else np.asarray(edges),
                                          bool(entry["automatic"])))
        encoder.columns_ = columns
        encoder.names_ = np.asarray(payload["names"], dtype=object)
        encoder.id_col_ = untag_key(payload["id_col"])
        return encoder

    @classmethod
    def from_spec(cls, spec: Mapping, bin_edges: Mapping, names: np.ndarray,
                  id_col: Hashable) -> FeatureEncoder:
        """An encoder equal to a resolved column spec of Recommender files of format
        versions 1 and 2 (``categorical`` / ``numeric`` / ``raw`` / ``multi_valued``
        lists, ``n_bins``, the bin edges and the feature names they produced)."""
        encoder = cls(n_bins=spec.get("n_bins", 5))
        multi = spec.get("multi_valued") or {}
        columns = [ColumnEncoding(c, "categorical") for c in spec.get("categorical") or ()]
        columns += [ColumnEncoding(c, "multi_valued", separator=s) for c, s in multi.items()]
        columns += [ColumnEncoding(c, "numeric", edges=(
            None if bin_edges.get(str(c)) is None else np.asarray(bin_edges[str(c)])))
            for c in spec.get("numeric") or ()]
        columns += [ColumnEncoding(c, "raw") for c in spec.get("raw") or ()]
        encoder.columns_ = columns
        encoder.names_ = np.asarray(names, dtype=object)
        encoder.id_col_ = id_col
        return encoder

    def __repr__(self) -> str:
        if not hasattr(self, "names_"):
            return "FeatureEncoder(unfitted)"
        kinds = ", ".join(f"{e.column!r}: {e.kind}" + (f" split on {e.separator!r}"
                                                        if e.separator else "")
                          for e in self.columns_)
        return f"FeatureEncoder({kinds}; {self.names_.size} features)"


# ----------------------------------------------------------- identity stacking
def stack_identity(side: sp.spmatrix, n_identity: int, normalize: bool) -> sp.csr_matrix:
    """``[identity (n_identity columns) | side]`` for the ``side`` rows (row ``r`` gets
    identity column ``r`` when ``r < n_identity``), L1-normalised if asked."""
    n_rows = side.shape[0]
    diagonal = np.arange(min(n_rows, n_identity))
    identity = sp.csr_matrix((np.ones(diagonal.size, np.float32), (diagonal, diagonal)),
                             shape=(n_rows, n_identity))
    matrix = sp.hstack([identity, sp.csr_matrix(side, dtype=np.float32)], format="csr",
                       dtype=np.float32)
    if normalize:
        matrix = normalize_rows(matrix)
    return int32_csr(matrix)


def _assemble(side: sp.csr_matrix, names: np.ndarray, mapper: IdMapper, identity: bool,
              normalize: bool, bin_edges: dict | None = None) -> FeatureMatrix:
    n_identity = len(mapper) if identity else 0
    matrix = stack_identity(side, n_identity, normalize)
    all_names = np.concatenate([mapper.keys.to_numpy(dtype=object)[:n_identity],
                                np.asarray(names, dtype=object)])
    return FeatureMatrix(matrix, mapper, all_names, n_identity, normalize,
                         dict(bin_edges or {}))


def _entity_rows(frame: pd.DataFrame, id_col: Hashable, mapper: IdMapper | None,
                 unknown: str) -> tuple[pd.DataFrame, np.ndarray, IdMapper]:
    """The frame rows whose key the mapper knows (or all, fitting a new mapper), their
    mapper rows, and the mapper (see ``map_keys`` for ``unknown``)."""
    rows, mapper, keep = map_keys(frame[id_col], mapper, unknown, id_col)
    return (frame if keep is None else frame.loc[keep]), rows, mapper


def _rows_to_mapper(encoded: sp.csr_matrix, rows: np.ndarray, n_rows: int) -> sp.csr_matrix:
    """Move encoded frame rows to mapper rows ``rows`` (equal rows add up)."""
    coo = encoded.tocoo()
    return int32_csr(sp.csr_matrix((coo.data, (rows[coo.row], coo.col)),
                                   shape=(n_rows, encoded.shape[1])))


def features_from_frame(
    frame: pd.DataFrame,
    id_col: Hashable,
    *,
    categorical: Sequence[Hashable] | None = None,
    numeric: Sequence[Hashable] | None = None,
    raw: Sequence[Hashable] | None = None,
    multi_valued: Mapping[Hashable, str | None] | Sequence[Hashable] | None = None,
    flags: Sequence[Hashable] | None = None,
    n_bins: int = 5,
    mapper: IdMapper | None = None,
    unknown: str = "raise",
    identity: bool = True,
    normalize: bool = True,
) -> FeatureMatrix:
    """Feature matrix from a wide frame with one row per entity (user or item).

    The columns are encoded by a :class:`FeatureEncoder` (see the module docstring for
    the automatic typing used when no column list is given).

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
    flags : sequence of hashable, optional
        Boolean or 0/1 columns: one feature ``"column"`` where true.
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
    When none of ``categorical``, ``numeric``, ``raw``, ``multi_valued`` and ``flags``
    is given, every other column is typed automatically (flags, bins, lists,
    delimiter-joined strings, categories: see the module docstring). A NaN cell means
    "no feature".
    """
    check_frame(frame, "frame", [id_col])
    check_positive_int(n_bins, "n_bins")
    duplicated = frame[id_col].duplicated()
    if duplicated.any():
        raise ValueError(
            f"id column {id_col!r} has {int(duplicated.sum())} duplicated id(s): "
            f"{show_keys(frame.loc[duplicated.to_numpy(), id_col].unique())}; a wide frame "
            f"needs one row per entity (use features_from_long_frame for several rows)."
        )
    encoder = FeatureEncoder(categorical=categorical, numeric=numeric, raw=raw,
                             multi_valued=multi_valued, flags=flags, n_bins=n_bins)
    frame, rows, mapper = _entity_rows(frame, id_col, mapper, unknown)
    encoded = encoder.fit_transform(frame, id_col)
    side = _rows_to_mapper(encoded, rows, len(mapper))
    return _assemble(side, encoder.names_, mapper, identity, normalize, encoder.bin_edges_)


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
    columns = [feature_cols] if isinstance(feature_cols, (str, int)) or not isinstance(
        feature_cols, Sequence) else list(feature_cols)
    if not columns:
        raise ValueError("feature_cols must name at least one column.")
    check_frame(frame, "frame", [id_col] + columns + ([weight_col] if weight_col is not None
                                                      else []))
    frame, rows, mapper = _entity_rows(frame, id_col, mapper, unknown)
    if len(columns) == 1:
        values = frame[columns[0]]
        if is_list_column(values):
            if weight_col is not None:
                raise ValueError("weight_col cannot be combined with list-valued features.")
            exploded, value_rows = _exploded(values, rows, None)
            part = _categorical_part(exploded, value_rows, "")
            return _assemble(_part_matrix(part, len(mapper)), part.names, mapper, identity,
                             normalize)
    else:
        missing = frame[columns].isna().any(axis=1).to_numpy()
        joined = frame[columns[0]].astype(str)
        for column in columns[1:]:
            joined = joined + sep + frame[column].astype(str)
        values = joined.where(~missing)
    values = values.reset_index(drop=True)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    keep_rows = codes >= 0
    if weight_col is None:
        weights = np.ones(len(values), dtype=np.float32)
    else:
        raw_weights = _numeric_values(frame[weight_col], f"weight_col {weight_col!r}")
        keep_rows &= ~np.isnan(raw_weights)
        weights = raw_weights.astype(np.float32)
    names = pd.Index(uniques).astype(str).to_numpy(dtype=object)
    part = _Part(rows[keep_rows], codes[keep_rows].astype(np.int64), weights[keep_rows], names)
    return _assemble(_part_matrix(part, len(mapper)), names, mapper, identity, normalize)


def _part_matrix(part: _Part, n_rows: int) -> sp.csr_matrix:
    return int32_csr(sp.csr_matrix((part.weights, (part.rows, part.codes)),
                                   shape=(n_rows, part.names.size)))


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
    all_names = np.concatenate([np.asarray(part.names, dtype=object) for part in parts])
    codes, unique = pd.factorize(pd.Index(all_names, dtype=object))
    rows, cols, weights = [], [], []
    edges: dict = {}
    offset = 0
    for position, part in enumerate(parts):
        target = mapper.transform(part.mapper.keys, unknown="ignore",
                                  name=f"parts[{position}] keys")
        if np.any(target < 0):
            bad = part.mapper.keys[target < 0]
            raise ValueError(f"parts[{position}] has keys not in mapper: {show_keys(bad)}.")
        coo = part.matrix.tocoo()
        rows.append(target[coo.row])
        cols.append(codes[offset + coo.col])
        weights.append(coo.data.astype(np.float32))
        offset += part.names.size
        edges.update(part.bin_edges)
    side = int32_csr(sp.csr_matrix((np.concatenate(weights),
                                    (np.concatenate(rows), np.concatenate(cols))),
                                   shape=(len(mapper), len(unique))))
    return _assemble(side, np.asarray(unique, dtype=object), mapper, identity, normalize,
                     edges)
