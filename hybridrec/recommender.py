"""``hybridrec.Recommender``: DataFrames in, recommendations out.

The facade owns the id mappers (``hybridrec.data.IdMapper``), the feature matrices
built from side-feature frames, the interaction matrix and a ``hybridrec.LightFM``.
Every output is a DataFrame in the caller's key types; nothing loops over DataFrame rows
in Python and nothing materialises a users x items matrix (``hybridrec._ranking.top_k``
scores a few users at a time against tiles of items).

Feature layout
--------------
For each side (users, items) the model's feature columns are

``[identity column of entity 0 .. n-1 | side features]``

where ``n`` is the number of entities in the mapper (when identity features are on).
Identity *columns* exist for every entity, but a row holds its identity *entry* only once
the entity has interactions ("warm"): an entity known only from a feature frame ("cold")
is represented by its side features alone, since an untrained identity embedding would
only add noise. Rows are L1-normalised when ``normalize_features`` is set (as
LightFM's ``Dataset`` does). New entities (``add_items``, ``add_users``, ``fold_in``)
get identity columns inserted at position ``n`` (the side features move up), so the
layout above always holds.

Numeric feature columns are discretised into quantile bins at ``fit``; the bin edges are
kept, so feature frames given later (cold start) are encoded with the same bins and
vocabulary. Feature values never seen in training are ignored.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import numbers
import time
import warnings
from collections.abc import Hashable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._config import EXPLICIT_LOSSES
from ._params import ParamsMixin
from ._ranking import top_k
from ._serving import ScoringSnapshot, recommendation_frame, test_interactions
from ._serving import int32_csr as _int32_csr
from ._serving import show_keys as _show
from ._serving import top_frame as _top_frame
from ._threads import check_num_threads
from .data import FeatureMatrix, IdMapper, features_from_frame, interactions_from_frame
from .data import normalize_rows as _normalize_rows
from .metrics import evaluate
from .metrics.ranking import _item_popularity
from .model import _PARAMETER_ARRAYS, LightFM, _reads, _writes
from .persist import ModelFileError, load_model, save_model

__all__ = ["Recommender"]

_SIDES = ("user", "item")
_SPEC_KEYS = ("categorical", "numeric", "raw", "multi_valued", "n_bins")
_FORMAT = "hybridrec.Recommender"
#: 2 added ``negatives`` arrays and the num_negative_samples / negative_mixing params
#: (version 1 files load with no dislikes); readers of version 1 refuse version 2.
_FORMAT_VERSION = 2
_MODEL_PARAMS = ("no_components", "k", "n", "learning_schedule", "loss", "learning_rate",
                 "rho", "epsilon", "item_alpha", "user_alpha", "max_sampled",
                 "num_negative_samples", "negative_mixing")
#: Default metrics of ``Recommender.evaluate`` (and ``hybridrec.distributed.evaluate_dask``).
EVALUATE_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "auc", "reciprocal_rank",
                    "coverage", "popularity")
_NOT_FITTED = "This Recommender is not fitted yet: call fit(interactions, ...) first."


# --------------------------------------------------------------------------- helpers
def _check_frame(frame: Any, name: str, columns: list[Hashable], kind: type = pd.DataFrame,
                 kind_name: str = "pandas.DataFrame") -> Any:
    """Raise unless ``frame`` is a ``kind`` (a DataFrame type) holding ``columns``."""
    if not isinstance(frame, kind):
        raise TypeError(f"{name} must be a {kind_name}, got {type(frame).__name__}.")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} has no column(s) {missing!r}; its columns are "
                         f"{list(frame.columns)!r}.")
    return frame


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _key_list(keys: Any, name: str) -> np.ndarray:
    """Keys as a 1-d object/native array; a scalar key becomes a list of one."""
    if isinstance(keys, (pd.Series, pd.Index)):
        return keys.to_numpy()
    if isinstance(keys, (str, bytes)) or np.ndim(keys) == 0:
        array = np.empty(1, dtype=object)
        array[0] = keys
        return array
    array = np.asarray(keys) if isinstance(keys, np.ndarray) else np.empty(len(keys), object)
    if not isinstance(keys, np.ndarray):
        array[:] = list(keys)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one key or a 1-d sequence of keys, got shape "
                         f"{array.shape}.")
    return array


def _rows(mapper: IdMapper, keys: Any, name: str, hint: str = "") -> np.ndarray:
    """Indices of ``keys``; ``KeyError`` naming a few unknown keys otherwise."""
    keys = _key_list(keys, name)
    rows = mapper.transform(keys, unknown="ignore", name=name)
    if np.any(rows < 0):
        bad = pd.unique(np.asarray(keys, dtype=object)[rows < 0])
        raise KeyError(f"{name}: {bad.size} unknown key(s) {_show(bad)}.{hint}")
    return rows


def allowed_items(mapper: IdMapper, items: Any, filter_items: Any) -> np.ndarray | None:
    """Candidate mask of ``recommend``: only ``items`` (all known if None), minus
    ``filter_items`` (unknown keys there are ignored); None when both are None."""
    if items is None and filter_items is None:
        return None
    allowed = np.ones(len(mapper), dtype=bool)
    if items is not None:
        allowed[:] = False
        allowed[_rows(mapper, items, "items")] = True
    if filter_items is not None:
        banned = mapper.transform(_key_list(filter_items, "filter_items"), unknown="ignore")
        allowed[banned[banned >= 0]] = False
    return allowed


def _l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), float32 C-contiguous."""
    norms = np.linalg.norm(vectors.astype(np.float64), axis=1, keepdims=True)
    out = np.divide(vectors, norms, out=np.zeros(vectors.shape, np.float64), where=norms > 0)
    return np.ascontiguousarray(out, dtype=np.float32)


def _self_exclusion(rows: np.ndarray, n_columns: int) -> sp.csr_matrix:
    """CSR with one entry per query ``q`` at column ``rows[q]`` (leave the query out)."""
    m = rows.shape[0]
    return _int32_csr(sp.csr_matrix((np.ones(m, np.float32), (np.arange(m), rows)),
                                    shape=(m, n_columns)))


def _zscore(values: np.ndarray) -> np.ndarray:
    std = values.std()
    centred = values - values.mean()
    return centred / std if std > 0 else np.zeros_like(centred)


# ---------------------------------------------------------------- feature encoding
def _is_list_column(series: pd.Series) -> bool:
    if series.dtype != object:
        return False
    first = series.first_valid_index()
    return first is not None and isinstance(
        series.loc[first], (list, tuple, set, frozenset, np.ndarray))


def _resolve_spec(frame: pd.DataFrame, id_col: Hashable, spec: Mapping | None,
                  name: str) -> dict:
    """Explicit column typing: the given spec, or each column typed automatically."""
    if spec is not None:
        if not isinstance(spec, Mapping):
            raise TypeError(f"{name} must be a dict of features_from_frame keyword "
                            f"arguments, got {type(spec).__name__}.")
        unknown = [key for key in spec if key not in _SPEC_KEYS]
        if unknown:
            raise ValueError(f"{name} has unknown key(s) {unknown!r}; allowed: "
                             f"{list(_SPEC_KEYS)!r}.")
        multi = spec.get("multi_valued") or {}
        multi = dict(multi) if isinstance(multi, Mapping) else {c: None for c in multi}
        resolved = {"categorical": list(spec.get("categorical") or ()),
                    "numeric": list(spec.get("numeric") or ()),
                    "raw": list(spec.get("raw") or ()), "multi_valued": multi,
                    "n_bins": _positive_int(spec.get("n_bins", 5), f"{name}['n_bins']")}
    else:
        resolved = {"categorical": [], "numeric": [], "raw": [], "multi_valued": {},
                    "n_bins": 5}
        for column in frame.columns:
            if column == id_col:
                continue
            series = frame[column]
            if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
                resolved["numeric"].append(column)
            elif _is_list_column(series):
                resolved["multi_valued"][column] = None
            else:
                resolved["categorical"].append(column)
    columns = (resolved["categorical"] + resolved["numeric"] + resolved["raw"]
               + list(resolved["multi_valued"]))
    if not columns:
        raise ValueError(f"{name}: the feature frame has no feature columns besides "
                         f"{id_col!r}.")
    _check_frame(frame, name, [id_col] + columns)
    return resolved


def _encode_frame(frame: pd.DataFrame, id_col: Hashable, spec: dict,
                  bin_edges: dict | None, name: str
                  ) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray, dict]:
    """Side features of a wide frame: ``(keys, raw matrix, names, bin_edges)``.

    With ``bin_edges=None`` (at ``fit``) numeric columns are binned by
    ``features_from_frame`` and its edges are returned; otherwise the given edges are
    used (bin ``k`` holds ``(edges[k], edges[k+1]]``, values outside go to the end
    bins), so a new frame is encoded exactly as the training frame was.
    """
    _check_frame(frame, name, [id_col])
    duplicated = frame[id_col].duplicated()
    if duplicated.any():
        raise ValueError(f"{name}: column {id_col!r} has duplicated key(s) "
                         f"{_show(frame.loc[duplicated.to_numpy(), id_col].unique())}; "
                         "a feature frame needs one row per entity.")
    mapper = IdMapper()
    keys_rows = mapper.fit_transform(frame[id_col], name=f"{name}[{id_col!r}]")
    n = len(mapper)
    blocks: list[sp.csr_matrix] = []
    names: list[np.ndarray] = []
    common = {"mapper": mapper, "identity": False, "normalize": False}
    others = {key: spec[key] for key in ("categorical", "raw", "multi_valued")}
    if any(others.values()):
        part = features_from_frame(frame, id_col, **others, **common)
        blocks.append(part.matrix)
        names.append(part.names)
    edges = {} if bin_edges is None else bin_edges
    if spec["numeric"] and bin_edges is None:
        part = features_from_frame(frame, id_col, numeric=spec["numeric"],
                                   n_bins=spec["n_bins"], **common)
        blocks.append(part.matrix)
        names.append(part.names)
        edges = {key: np.asarray(value, np.float64) for key, value in part.bin_edges.items()}
    elif spec["numeric"]:
        for column in spec["numeric"]:
            series = frame[column]
            if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
                raise ValueError(f"{name}: numeric column {column!r} must be numeric, got "
                                 f"dtype {series.dtype}.")
            column_edges = edges.get(str(column))
            if column_edges is None:  # the column had no finite value in training
                continue
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            finite = np.isfinite(values)
            n_column_bins = max(len(column_edges) - 1, 1)
            bins = np.clip(np.searchsorted(column_edges, values[finite], side="left") - 1,
                           0, n_column_bins - 1)
            blocks.append(sp.csr_matrix(
                (np.ones(bins.size, np.float32), (keys_rows[finite], bins)),
                shape=(n, n_column_bins)))
            names.append(np.array([f"{column}:bin{b}" for b in range(n_column_bins)],
                                  dtype=object))
    matrix = sp.hstack(blocks, format="csr", dtype=np.float32) if blocks else \
        sp.csr_matrix((n, 0), dtype=np.float32)
    all_names = np.concatenate(names) if names else np.zeros(0, dtype=object)
    return mapper.keys.to_numpy(), matrix, all_names, edges


def _merge_names(matrix: sp.csr_matrix, names: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """Merge columns that carry the same name (e.g. a tag in two columns)."""
    codes, uniques = pd.factorize(pd.Index(np.asarray(names, dtype=object)))
    if len(uniques) == len(names):
        return _int32_csr(matrix), np.asarray(uniques, dtype=object)
    merge = sp.csr_matrix((np.ones(codes.size, np.float32), (np.arange(codes.size), codes)),
                          shape=(codes.size, len(uniques)))
    return _int32_csr(matrix @ merge), np.asarray(uniques, dtype=object)


def _atomic(method: Any) -> Any:
    """Run ``method`` inside ``self._transaction()``: on any error nothing has changed."""
    @functools.wraps(method)
    def wrapper(self: Recommender, *args: Any, **kwargs: Any) -> Any:
        with self._transaction():
            return method(self, *args, **kwargs)
    return wrapper


class Recommender(ParamsMixin):
    """Hybrid recommender on DataFrames: id mapping, side features and a LightFM model.

    Parameters
    ----------
    no_components, k, n, learning_schedule, loss, learning_rate, rho, epsilon,
    item_alpha, user_alpha, max_sampled, num_negative_samples, negative_mixing
        Hyper-parameters of the underlying :class:`hybridrec.LightFM` (same meaning;
        the default loss here is ``'warp'``, the best choice for top-k recommendation
        from implicit feedback). ``negative_mixing`` draws negatives from the dislikes
        given to ``fit`` / ``fit_partial`` as ``negatives``.
    epochs : int, default 10
        Training epochs of ``fit`` (and the default of ``fit_partial``).
    num_threads : int, default 1
        Threads for training and scoring.
    random_state : int, numpy.random.Generator or None
        Seed; ``num_threads=1`` with an int seed is fully reproducible.
    user_identity, item_identity : bool, default True
        Give every warm user / item its own identity feature beside its side features.
        When no side features are given for a side, identity features are required.
    normalize_features : bool, default True
        L1-normalise each feature row (identity + side features), as LightFM's
        ``Dataset`` does.

    Attributes
    ----------
    model_ : LightFM
        The fitted model.
    user_mapper_, item_mapper_ : IdMapper
        Keys to rows of the feature and interaction matrices.
    user_features_, item_features_ : FeatureMatrix or None
        The feature matrices used by the model (``None`` for a side without side
        features, which then uses identity features only). Columns follow the layout
        described in the module docstring; ``names`` holds the keys (identity columns)
        then the side-feature names.
    interactions_ : scipy.sparse.csr_matrix
        Training interactions (users x items, weights as values), used by
        ``exclude_seen``, ``explain`` and updated by ``fit_partial`` / ``fold_in``.
    negatives_ : scipy.sparse.csr_matrix
        Known dislikes (users x items, ones) given as ``negatives`` to ``fit`` and
        ``fit_partial``; empty when none were given.
    history_ : pandas.DataFrame
        One row per trained epoch: ``epoch``, ``train_time`` (seconds) and, when ``fit``
        got a validation frame, ``precision_at_k`` and ``auc`` on it.
    best_epoch_ : int
        The epoch whose parameters were kept (the last one without validation).

    Notes
    -----
    ``fit``, ``fit_partial``, ``fold_in``, ``fold_in_items``, ``add_users`` and
    ``add_items`` are transactions: if they raise, the object is exactly as before.
    The read methods (``recommend``, ``similar_*``, ``explain``, ``evaluate``, ...) may
    run from several threads at once; while one thread updates the object, reads and
    other updates from other threads raise ``RuntimeError`` (see ``docs/RELIABILITY.md``).
    """

    def __init__(
        self,
        no_components: int = 10,
        k: int = 5,
        n: int = 10,
        learning_schedule: str = "adagrad",
        loss: str = "warp",
        learning_rate: float = 0.05,
        rho: float = 0.95,
        epsilon: float = 1e-6,
        item_alpha: float = 0.0,
        user_alpha: float = 0.0,
        max_sampled: int = 10,
        num_negative_samples: int = 1,
        negative_mixing: float = 0.0,
        epochs: int = 10,
        num_threads: int = 1,
        random_state: Any = None,
        user_identity: bool = True,
        item_identity: bool = True,
        normalize_features: bool = True,
    ) -> None:
        self.no_components = no_components
        self.k = k
        self.n = n
        self.learning_schedule = learning_schedule
        self.loss = loss
        self.learning_rate = learning_rate
        self.rho = rho
        self.epsilon = epsilon
        self.item_alpha = item_alpha
        self.user_alpha = user_alpha
        self.max_sampled = max_sampled
        self.num_negative_samples = num_negative_samples
        self.negative_mixing = negative_mixing
        self.epochs = epochs
        self.num_threads = num_threads
        self.random_state = random_state
        self.user_identity = user_identity
        self.item_identity = item_identity
        self.normalize_features = normalize_features

    # ------------------------------------------------------------------ parameters
    def _new_model(self, **overrides: Any) -> LightFM:
        """A LightFM with this facade's hyper-parameters (LightFM validates them)."""
        params = {name: getattr(self, name) for name in _MODEL_PARAMS}
        params["random_state"] = self.random_state
        params.update(overrides)
        return LightFM(**params)

    def _validate_params(self) -> None:
        self._new_model()
        _positive_int(self.epochs, "epochs", 0)
        try:
            check_num_threads(self.num_threads)
        except ValueError as error:
            raise ValueError(f"num_threads={self.num_threads!r}: {error}") from None
        for name in ("user_identity", "item_identity", "normalize_features"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")

    def _check_fitted(self) -> None:
        if getattr(self, "model_", None) is None:
            raise ValueError(_NOT_FITTED)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """Undo every change to this object if the enclosed block raises.

        Attributes are restored from a shallow copy of ``__dict__``; the objects that
        updates change in place are saved separately: the side state (deep copy), the
        mappers' key index (immutable, so a reference suffices) and the model's
        attribute dict (its arrays are replaced, not written, by the updates here;
        ``LightFM.fit_partial`` restores its own arrays on failure). The copies cost
        O(feature matrices), the same order as the update itself.
        """
        saved = dict(self.__dict__)
        state = copy.deepcopy(self.__dict__.get("_state"))
        mappers = {side: self.__dict__[f"{side}_mapper_"]._index for side in _SIDES
                   if f"{side}_mapper_" in self.__dict__}
        model = self.__dict__.get("model_")
        model_saved = None if model is None else dict(model.__dict__)
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            if state is not None:
                self._state = state
            for side, index in mappers.items():
                getattr(self, f"{side}_mapper_")._index = index
            if model is not None:
                model.__dict__.clear()
                model.__dict__.update(model_saved)
            raise

    # ------------------------------------------------------------- side bookkeeping
    def _identity_on(self, side: str) -> bool:
        return bool(getattr(self, f"{side}_identity"))

    def _mapper(self, side: str) -> IdMapper:
        return getattr(self, f"{side}_mapper_")

    def _col(self, side: str) -> Hashable:
        return self.user_col_ if side == "user" else self.item_col_

    def _n_identity(self, side: str) -> int:
        return len(self._mapper(side)) if self._identity_on(side) else 0

    def _matrix(self, side: str) -> sp.csr_matrix:
        """The model's feature matrix of ``side`` (rows = mapper, cols = embeddings)."""
        return self._state[side]["matrix"]

    def _rebuild(self, side: str) -> None:
        """Recompute the feature matrix of ``side`` from its raw parts."""
        state = self._state[side]
        mapper = self._mapper(side)
        n_rows = len(mapper)
        n_identity = self._n_identity(side)
        active = np.flatnonzero(state["active"]).astype(np.int32)
        identity = sp.csr_matrix((np.ones(active.size, np.float32), (active, active)),
                                 shape=(n_rows, n_identity))
        raw = state["side"]
        matrix = sp.hstack([identity, raw], format="csr", dtype=np.float32)
        if self.normalize_features:
            matrix = _normalize_rows(matrix)
        state["matrix"] = _int32_csr(matrix, (n_rows, n_identity + raw.shape[1]))
        public = None
        if raw.shape[1] > 0:
            names = np.concatenate([mapper.keys.to_numpy(dtype=object)[:n_identity],
                                    state["names"]]).astype(object)
            public = FeatureMatrix(state["matrix"], mapper, names, n_identity,
                                   bool(self.normalize_features),
                                   dict(state.get("bin_edges") or {}))
        setattr(self, f"{side}_features_", public)

    def _encode(self, side: str, features: Any, name: str
                ) -> tuple[np.ndarray, sp.csr_matrix]:
        """Keys and raw side-feature rows (in this model's side columns) of new entities.

        ``features`` is a wide DataFrame keyed by the side's id column (encoded with the
        training spec and bins) or a ``FeatureMatrix`` (aligned by feature name).
        Unknown feature names are ignored.
        """
        state = self._state[side]
        if isinstance(features, FeatureMatrix):
            keys = features.mapper.keys.to_numpy()
            matrix = features.matrix[:, features.n_identity:]
            names = features.side_names
        elif isinstance(features, pd.DataFrame):
            if state["spec"] is None:
                raise ValueError(
                    f"{name}: this model's {side} features were given as a FeatureMatrix, "
                    f"so new {side}s must come as a FeatureMatrix with the same feature "
                    "names too.")
            keys, matrix, names, _ = _encode_frame(features, self._col(side), state["spec"],
                                                   state["bin_edges"], name)
        else:
            raise TypeError(f"{name} must be a pandas.DataFrame or a FeatureMatrix, got "
                            f"{type(features).__name__}.")
        target = pd.Index(state["names"]).get_indexer(pd.Index(np.asarray(names, object)))
        known = target >= 0
        coo = sp.csr_matrix(matrix).tocoo()
        keep = known[coo.col]
        raw = sp.csr_matrix((coo.data[keep].astype(np.float32),
                             (coo.row[keep], target[coo.col[keep]])),
                            shape=(coo.shape[0], len(state["names"])))
        return keys, _int32_csr(raw)

    def _feature_rows(self, side: str, raw: sp.csr_matrix) -> sp.csr_matrix:
        """Full model feature rows for entities outside the mapper (cold, no identity)."""
        n_identity = self._n_identity(side)
        blocks = [sp.csr_matrix((raw.shape[0], n_identity), dtype=np.float32), raw]
        matrix = sp.hstack(blocks, format="csr", dtype=np.float32)
        if self.normalize_features:
            matrix = _normalize_rows(matrix)
        return _int32_csr(matrix)

    def _representations(self, side: str, rows: np.ndarray | None = None,
                         matrix: sp.csr_matrix | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(biases, vectors)`` of the given rows (all when ``rows`` is None)."""
        if matrix is None:
            matrix = self._matrix(side)
            if rows is not None:
                matrix = matrix[rows]
        getter = getattr(self.model_, f"get_{side}_representations")
        biases, vectors = getter(matrix)
        return biases, np.ascontiguousarray(vectors, dtype=np.float32)

    def _grow(self, side: str, keys: np.ndarray, raw: sp.csr_matrix, active: bool) -> np.ndarray:
        """Append new entities: mapper, identity columns (model rows), feature rows.

        Returns the new entities' rows.
        """
        mapper = self._mapper(side)
        n_old = len(mapper)
        mapper.partial_fit(keys)
        n_new = len(mapper) - n_old
        rows = np.arange(n_old, n_old + n_new, dtype=np.int32)
        state = self._state[side]
        if self._identity_on(side):
            self._insert_model_rows(side, n_old, n_new)
        state["side"] = _int32_csr(sp.vstack([state["side"], raw], format="csr"))
        state["active"] = np.concatenate([state["active"], np.full(n_new, active)])
        self._rebuild(side)
        other = "item" if side == "user" else "user"
        shape = ((len(mapper), len(self._mapper(other))) if side == "user"
                 else (len(self._mapper(other)), len(mapper)))
        self.interactions_ = _int32_csr(self.interactions_, shape)
        self.negatives_ = _int32_csr(self.negatives_, shape)
        return rows

    def _insert_model_rows(self, side: str, position: int, count: int) -> None:
        """Insert ``count`` freshly initialised feature rows (LightFM's initialisation)."""
        model = self.model_
        d = model.no_components
        rng = model.random_state_
        if rng is None:
            rng = model.random_state_ = np.random.default_rng(self.random_state)
        init = (rng.random((count, d), dtype=np.float32) - np.float32(0.5)) / np.float32(d)
        accumulator = 1.0 if model.learning_schedule == "adagrad" else 0.0
        fresh = {"embeddings": init,
                 "embedding_gradients": np.full((count, d), accumulator, np.float32),
                 "embedding_momentum": np.zeros((count, d), np.float32),
                 "biases": np.zeros(count, np.float32),
                 "bias_gradients": np.full(count, accumulator, np.float32),
                 "bias_momentum": np.zeros(count, np.float32)}
        for suffix, values in fresh.items():
            name = f"{side}_{suffix}"
            setattr(model, name, np.ascontiguousarray(
                np.insert(getattr(model, name), position, values, axis=0)))

    # ------------------------------------------------------------------ fitting
    @_writes
    @_atomic
    def fit(self, interactions: pd.DataFrame, user_col: Hashable = "user_id",
            item_col: Hashable = "item_id", weight_col: Hashable | None = None,
            user_features: pd.DataFrame | FeatureMatrix | None = None,
            item_features: pd.DataFrame | FeatureMatrix | None = None,
            validation: pd.DataFrame | None = None, eval_k: int = 10, patience: int = 3,
            user_feature_spec: Mapping | None = None,
            item_feature_spec: Mapping | None = None, verbose: bool = False,
            negatives: pd.DataFrame | None = None) -> Recommender:
        """Fit mappers, feature matrices and the model from DataFrames.

        Parameters
        ----------
        interactions : pandas.DataFrame
            One row per interaction; keys of any hashable type.
        user_col, item_col : hashable
            Columns of user and item keys (also the key columns of the feature frames).
        weight_col : hashable, optional
            Column of non-negative weights, used as sample weights (repeated pairs add
            up). Default: every interaction weighs 1.
        user_features, item_features : pandas.DataFrame or FeatureMatrix, optional
            Side features. A wide frame keyed by ``user_col`` / ``item_col`` has its
            columns typed automatically (numeric -> quantile bins, list-valued ->
            multi-valued, anything else -> categorical) unless a ``*_feature_spec`` is
            given. A ``FeatureMatrix`` (any mapper, any row order) is aligned by key;
            only its side (non-identity) columns are used. Keys present only here
            become cold-start entities (side features only, no identity).
        validation : pandas.DataFrame, optional
            Held-out interactions (unknown keys ignored). Training then evaluates after
            every epoch, stops after ``patience`` epochs without a better
            precision@``eval_k`` and keeps the best epoch's parameters.
        eval_k : int, default 10
            Cut-off of the validation precision.
        verbose : bool, default False
            Show a progress bar over epochs (with the validation precision).
        patience : int, default 3
            Epochs without improvement before stopping.
        user_feature_spec, item_feature_spec : dict, optional
            ``features_from_frame`` keyword arguments (``categorical``, ``numeric``,
            ``raw``, ``multi_valued``, ``n_bins``) for the feature frames.
        negatives : pandas.DataFrame, optional
            Negative feedback: known dislikes, one row per (user, item) pair in the
            columns ``user_col`` and ``item_col`` (other columns are ignored, a repeated
            pair counts once). Every user and item must be known (from
            ``interactions`` or the feature frames) and no pair may also be in
            ``interactions``. The model gets them as explicit negatives (value -1):
            with ``negative_mixing > 0``, ``warp``, ``warp-kos``, ``bpr`` and the
            Spotlight losses draw each negative from the user's dislikes with that
            probability; ``logistic`` trains on them as negative examples (label 0,
            weight 1). Explicit-feedback losses (``regression``, ``poisson``) refuse
            them; the other losses ignore them while ``negative_mixing`` is 0 (with a
            warning). Kept as ``negatives_`` (and saved); ``recommend`` does not
            exclude them (``exclude_seen`` leaves out ``interactions`` only), the model
            learns to rank them low.

        Returns
        -------
        Recommender
            ``self``.

        Raises
        ------
        ValueError
            Invalid hyper-parameters or arguments, missing columns, NaN keys, identity
            features switched off for a side without side features; ``negatives`` with
            unknown users or items, pairs that are also in ``interactions``, or an
            explicit-feedback loss.
        TypeError
            Inputs of the wrong type.
        """
        self._validate_params()
        columns = [user_col, item_col] + ([weight_col] if weight_col is not None else [])
        _check_frame(interactions, "interactions", columns)
        eval_k = _positive_int(eval_k, "eval_k")
        patience = _positive_int(patience, "patience")
        if validation is not None:
            _check_frame(validation, "validation", [user_col, item_col])
        if negatives is not None:
            _check_frame(negatives, "negatives", [user_col, item_col])
        self.user_col_, self.item_col_, self.weight_col_ = user_col, item_col, weight_col
        self.model_ = None
        self._state = {}
        mappers = {}
        for side, features, spec in (("user", user_features, user_feature_spec),
                                     ("item", item_features, item_feature_spec)):
            mappers[side] = IdMapper()
            mappers[side].fit_transform(interactions[self._col(side)],
                                        name=f"interactions[{self._col(side)!r}]")
            self._state[side] = self._side_from(side, features, spec, mappers[side])
        self.user_mapper_, self.item_mapper_ = mappers["user"], mappers["item"]
        built = interactions_from_frame(interactions, user_col, item_col, weight_col,
                                        user_mapper=self.user_mapper_,
                                        item_mapper=self.item_mapper_)
        self.interactions_ = _int32_csr(built.matrix)
        if np.any(self.interactions_.data < 0):
            raise ValueError(f"weight_col {weight_col!r} must hold non-negative weights; "
                             f"got a minimum of {self.interactions_.data.min()}. Pass "
                             "dislikes as negatives=<frame of (user, item) pairs> instead.")
        self.negatives_ = self._negatives(negatives, "negatives", self.interactions_)
        for side, axis in (("user", 1), ("item", 0)):
            counts = np.asarray((self.interactions_ != 0).sum(axis=axis)).ravel()
            self._state[side]["active"] = counts > 0 if self._identity_on(side) else \
                np.zeros(counts.size, dtype=bool)
            self._rebuild(side)
        self._train(validation, eval_k, patience, verbose)
        return self

    def _side_from(self, side: str, features: Any, spec: Mapping | None,
                   mapper: IdMapper) -> dict:
        """Raw side-feature state of one side at ``fit`` (extends ``mapper`` with cold keys)."""
        name = f"{side}_features"
        state: dict[str, Any] = {"spec": None, "bin_edges": {}}
        if features is None:
            if spec is not None:
                raise ValueError(f"{side}_feature_spec was given without {name}.")
            if not self._identity_on(side):
                raise ValueError(f"{side}_identity=False needs {name}: without identity "
                                 f"features a {side} must be described by side features.")
            keys, raw, names = np.zeros(0, object), sp.csr_matrix((0, 0)), np.zeros(0, object)
        elif isinstance(features, FeatureMatrix):
            if spec is not None:
                raise ValueError(f"{side}_feature_spec applies to a DataFrame, but {name} is "
                                 "a FeatureMatrix.")
            keys = features.mapper.keys.to_numpy()
            raw, names = features.matrix[:, features.n_identity:], features.side_names
            state["bin_edges"] = dict(features.bin_edges)
        elif isinstance(features, pd.DataFrame):
            col = self._col(side)
            _check_frame(features, name, [col])
            state["spec"] = _resolve_spec(features, col, spec, name if spec is None
                                          else f"{side}_feature_spec")
            keys, raw, names, state["bin_edges"] = _encode_frame(features, col, state["spec"],
                                                                 None, name)
        else:
            raise TypeError(f"{name} must be a pandas.DataFrame, a FeatureMatrix or None, "
                            f"got {type(features).__name__}.")
        raw, names = _merge_names(sp.csr_matrix(raw, dtype=np.float32),
                                  np.asarray(names, dtype=object).astype(str).astype(object))
        rows = mapper.fit_transform(keys, name=f"{name} keys")
        coo = raw.tocoo()
        state["side"] = _int32_csr(sp.csr_matrix((coo.data, (rows[coo.row], coo.col)),
                                                 shape=(len(mapper), raw.shape[1])))
        state["names"] = names
        return state

    def _negatives(self, negatives: pd.DataFrame | None, name: str,
                   *positives: sp.csr_matrix) -> sp.csr_matrix:
        """Validated CSR (users x items, ones) of the dislikes in ``negatives``.

        The stored entries of ``positives`` (zero weights included) are the
        interactions the dislikes may not coincide with.
        """
        shape = (len(self.user_mapper_), len(self.item_mapper_))
        if negatives is None:
            return _int32_csr(sp.csr_matrix(shape, dtype=np.float32))
        _check_frame(negatives, name, [self.user_col_, self.item_col_])
        rows = {}
        for side in _SIDES:
            column = f"{name}[{self._col(side)!r}]"
            keys = _key_list(negatives[self._col(side)], column)
            rows[side] = self._mapper(side).transform(keys, unknown="ignore", name=column)
            if np.any(rows[side] < 0):
                bad = pd.unique(np.asarray(keys, dtype=object)[rows[side] < 0])
                raise ValueError(
                    f"{column}: {bad.size} unknown {side}(s) {_show(bad)}; dislikes must "
                    f"be between users and items the model knows (from the interactions "
                    f"or the feature frames); drop them, or add the {side}s first.")
        matrix = sp.csr_matrix((np.ones(rows["user"].size, np.float32),
                                (rows["user"], rows["item"])), shape=shape)
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        both = matrix.multiply(_pattern(shape, *positives)).tocoo()
        if both.nnz:
            users = self.user_mapper_.keys.to_numpy(dtype=object)[both.row]
            items = self.item_mapper_.keys.to_numpy(dtype=object)[both.col]
            shown = ", ".join(f"({user!r}, {item!r})" for user, item in
                              zip(users[:5], items[:5], strict=True))
            more = f" and {both.nnz - 5} more" if both.nnz > 5 else ""
            raise ValueError(
                f"{name}: {both.nnz} (user, item) pair(s) are also positive interactions: "
                f"{shown}{more}. A pair cannot be both liked and disliked; drop it from "
                "one of the two frames.")
        if matrix.nnz and self.loss in EXPLICIT_LOSSES:
            raise ValueError(
                f"{name}: loss={self.loss!r} fits the stored values (explicit feedback) "
                "and has no use for dislikes; use an implicit loss ('warp', 'warp-kos', "
                "'bpr', 'logistic', ...) or leave negatives out.")
        if matrix.nnz and self.loss != "logistic" and self.negative_mixing == 0:
            warnings.warn(
                f"{name}: {matrix.nnz} dislike(s) given, but loss={self.loss!r} uses them "
                "only with negative_mixing > 0 (it is 0): they are stored and ignored in "
                "training. Set negative_mixing (e.g. 0.1) to train on them.",
                UserWarning, stacklevel=5)
        return _int32_csr(matrix)

    def _fit_arguments(self, matrix: sp.csr_matrix, negatives: sp.csr_matrix | None = None
                       ) -> tuple[sp.coo_matrix, sp.coo_matrix]:
        """Interactions and sample weights with identical coordinates: the entries of
        ``matrix`` as ones weighted by its values, then those of ``negatives`` (dislikes)
        as -1 weighted by its values."""
        coo = matrix.tocoo()
        if negatives is None or negatives.nnz == 0:
            ones = sp.coo_matrix((np.ones(coo.nnz, np.float32), (coo.row, coo.col)),
                                 shape=coo.shape)
            return ones, coo
        dislikes = negatives.tocoo()
        rows = np.concatenate([coo.row, dislikes.row])
        cols = np.concatenate([coo.col, dislikes.col])
        values = np.concatenate([np.ones(coo.nnz, np.float32),
                                 np.full(dislikes.nnz, -1.0, np.float32)])
        weights = np.concatenate([coo.data, dislikes.data]).astype(np.float32)
        return (sp.coo_matrix((values, (rows, cols)), shape=coo.shape),
                sp.coo_matrix((weights, (rows, cols)), shape=coo.shape))

    def _train(self, validation: pd.DataFrame | None, eval_k: int, patience: int,
               verbose: bool = False) -> None:
        model = self._new_model()
        ones, weights = self._fit_arguments(self.interactions_, self.negatives_)
        features = {"user_features": self._matrix("user"),
                    "item_features": self._matrix("item")}
        test = None
        if validation is not None:
            test = interactions_from_frame(validation, self.user_col_, self.item_col_,
                                           user_mapper=self.user_mapper_,
                                           item_mapper=self.item_mapper_,
                                           unknown="ignore").matrix
        history = []
        best_score, best_params, since_best = -np.inf, None, 0
        self.best_epoch_ = 0
        if self.epochs == 0:
            model.fit(ones, sample_weight=weights, epochs=0, num_threads=self.num_threads,
                      **features)
        epochs = range(1, self.epochs + 1)
        if verbose:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc="Epoch")
        for epoch in epochs:
            start = time.perf_counter()
            fit = model.fit if epoch == 1 else model.fit_partial
            fit(ones, sample_weight=weights, epochs=1, num_threads=self.num_threads,
                **features)
            record = {"epoch": epoch, "train_time": time.perf_counter() - start}
            self.best_epoch_ = epoch
            if test is not None:
                scores = evaluate(model, test, self.interactions_, k=eval_k,
                                  metrics=("precision", "auc"), num_threads=self.num_threads,
                                  check_intersections=False, **features)
                record["precision_at_k"] = float(scores["mean"].iloc[0])
                record["auc"] = float(scores["mean"].iloc[1])
                if verbose:
                    epochs.set_postfix(precision=f"{record['precision_at_k']:.4f}")
                if record["precision_at_k"] > best_score:
                    best_score, since_best = record["precision_at_k"], 0
                    best_params = {name: getattr(model, name).copy() for name in
                                   _model_array_names()}
                    best_epoch = epoch
                else:
                    since_best += 1
            history.append(record)
            if test is not None and since_best >= patience:
                break
        if best_params is not None:
            for name, array in best_params.items():
                setattr(model, name, array)
            self.best_epoch_ = best_epoch
        self.model_ = model
        self.history_ = pd.DataFrame(history, columns=["epoch", "train_time"] + (
            ["precision_at_k", "auc"] if test is not None else []))

    def _new_interactions(self, frame: pd.DataFrame, name: str) -> sp.csr_matrix:
        """CSR of a frame of interactions between known users and items."""
        columns = [self.user_col_, self.item_col_] + (
            [self.weight_col_] if self.weight_col_ is not None else [])
        _check_frame(frame, name, columns)
        hint = (" Use fold_in / fold_in_items to add new users / items with interactions, "
                "or add_users / add_items for entities known by their features only.")
        _rows(self.user_mapper_, frame[self.user_col_], f"{name}[{self.user_col_!r}]", hint)
        _rows(self.item_mapper_, frame[self.item_col_], f"{name}[{self.item_col_!r}]", hint)
        matrix = interactions_from_frame(frame, self.user_col_, self.item_col_,
                                         self.weight_col_, user_mapper=self.user_mapper_,
                                         item_mapper=self.item_mapper_).matrix
        matrix = _int32_csr(matrix)
        if np.any(matrix.data < 0):
            raise ValueError(f"{name}: weights must be non-negative.")
        return matrix

    def _activate(self, new: sp.csr_matrix) -> None:
        """Switch on the identity entries of entities that now have interactions."""
        for side, axis in (("user", 1), ("item", 0)):
            if not self._identity_on(side):
                continue
            state = self._state[side]
            counts = np.asarray((new != 0).sum(axis=axis)).ravel() > 0
            if np.any(counts & ~state["active"]):
                state["active"] = state["active"] | counts
                self._rebuild(side)

    @_writes
    @_atomic
    def fit_partial(self, new_interactions: pd.DataFrame, epochs: int | None = None,
                    negatives: pd.DataFrame | None = None) -> Recommender:
        """Train further on new interactions between known users and items.

        Only the new interactions are visited, but every known interaction still counts
        as a positive (WARP/BPR never sample a user's known items as negatives): the
        model gets the union of old and new interactions with zero sample weight on the
        old ones. Entities known only by features (cold) get their identity features
        switched on.

        Parameters
        ----------
        new_interactions : pandas.DataFrame
            Same columns as the training frame.
        epochs : int, optional
            Default: the ``epochs`` parameter.
        negatives : pandas.DataFrame, optional
            New dislikes, as in ``fit``: they join ``negatives_`` (the stored ones keep
            serving ``negative_mixing``; with ``logistic`` only the new ones are
            trained on). None may coincide with an interaction, old or new.

        Returns
        -------
        Recommender
            ``self``.

        Raises
        ------
        KeyError
            Unknown users or items (use ``fold_in`` / ``fold_in_items``).
        ValueError
            ``negatives`` as in ``fit``, or ``new_interactions`` holding stored dislikes.
        """
        self._check_fitted()
        epochs = self.epochs if epochs is None else _positive_int(epochs, "epochs", 0)
        new = self._new_interactions(new_interactions, "new_interactions")
        clash = _pattern(new.shape, new).multiply(self.negatives_).tocoo()
        if clash.nnz:
            users = self.user_mapper_.keys.to_numpy(dtype=object)[clash.row]
            items = self.item_mapper_.keys.to_numpy(dtype=object)[clash.col]
            raise ValueError(
                f"new_interactions: {clash.nnz} (user, item) pair(s) are stored dislikes "
                f"(negatives_), e.g. ({users[0]!r}, {items[0]!r}); a pair cannot be both "
                "liked and disliked.")
        fresh_negatives = self._negatives(negatives, "negatives", self.interactions_, new)
        self._activate(new)

        def union(stored: sp.csr_matrix, added: sp.csr_matrix) -> sp.csr_matrix:
            # Stored entries with zero weight (still positives / dislikes, not visited).
            old, fresh = stored.tocoo(), added.tocoo()
            return _int32_csr(sp.csr_matrix(
                (np.concatenate([np.zeros(old.nnz, np.float32), fresh.data]),
                 (np.concatenate([old.row, fresh.row]), np.concatenate([old.col, fresh.col]))),
                shape=added.shape))

        ones, weights = self._fit_arguments(union(self.interactions_, new),
                                            union(self.negatives_, fresh_negatives))
        self.model_.fit_partial(ones, user_features=self._matrix("user"),
                                item_features=self._matrix("item"), sample_weight=weights,
                                epochs=epochs, num_threads=self.num_threads)
        self.interactions_ = _int32_csr(self.interactions_ + new)
        negatives = self.negatives_ + fresh_negatives
        negatives.data[:] = 1.0
        self.negatives_ = _int32_csr(negatives)
        return self

    # ------------------------------------------------------- cold start and fold-in
    @_atomic
    def _add(self, side: str, features: Any, name: str) -> Recommender:
        self._check_fitted()
        if self._state[side]["side"].shape[1] == 0:
            raise ValueError(f"{name}: this model has no {side} side features, so a new "
                             f"{side} cannot be described by features; use fold_in"
                             f"{'' if side == 'user' else '_items'} with interactions.")
        keys, raw = self._encode(side, features, name)
        known = self._mapper(side).transform(keys, unknown="ignore") >= 0
        if np.any(known):
            raise ValueError(f"{name}: {int(known.sum())} {side}(s) are already known: "
                             f"{_show(np.asarray(keys, dtype=object)[known])}.")
        self._grow(side, keys, raw, active=False)
        return self

    @_writes
    def add_users(self, user_features: pd.DataFrame | FeatureMatrix) -> Recommender:
        """Add cold-start users known by their features only (no retraining).

        Parameters
        ----------
        user_features : pandas.DataFrame or FeatureMatrix
            One row per new user, keyed by ``user_col`` with the training columns.

        Returns
        -------
        Recommender
            ``self``; the users can now get recommendations.

        Raises
        ------
        ValueError
            Already known users, or a model without user side features.
        """
        return self._add("user", user_features, "user_features")

    @_writes
    def add_items(self, item_features: pd.DataFrame | FeatureMatrix) -> Recommender:
        """Add cold-start items known by their features only (no retraining).

        Parameters
        ----------
        item_features : pandas.DataFrame or FeatureMatrix
            One row per new item, keyed by ``item_col`` with the training columns.

        Returns
        -------
        Recommender
            ``self``; the items can now be recommended.

        Raises
        ------
        ValueError
            Already known items, or a model without item side features.
        """
        return self._add("item", item_features, "item_features")

    @_writes
    def fold_in(self, new_interactions: pd.DataFrame,
                user_features: pd.DataFrame | FeatureMatrix | None = None,
                epochs: int = 5) -> Recommender:
        """Add new users from a few interactions, training only their embeddings.

        Each new user gets an identity feature (LightFM's initialisation) beside the
        side features from ``user_features``; then a temporary LightFM trains on the new
        users' interactions with every other parameter frozen (their adagrad/adadelta
        accumulators are set to +inf, which makes their step exactly zero) and without
        L2. Items and known users do not move at all. Users known only by features
        (``add_users``) may be folded in too: their stored features are kept.

        Parameters
        ----------
        new_interactions : pandas.DataFrame
            Interactions of the new users with known items (training columns).
        user_features : pandas.DataFrame or FeatureMatrix, optional
            Side features of the new users (as in ``fit``).
        epochs : int, default 5
            Epochs over the new interactions.

        Returns
        -------
        Recommender
            ``self``.

        Raises
        ------
        ValueError
            Users that already have interactions (use ``fit_partial``), or
            ``user_identity=False``.
        KeyError
            Unknown items.
        """
        return self._fold_in("user", new_interactions, user_features, epochs)

    @_writes
    def fold_in_items(self, new_interactions: pd.DataFrame,
                      item_features: pd.DataFrame | FeatureMatrix | None = None,
                      epochs: int = 5) -> Recommender:
        """Add new items from a few interactions, training only their embeddings.

        The item-side twin of :meth:`fold_in` (users and all other items frozen).

        Parameters
        ----------
        new_interactions : pandas.DataFrame
            Interactions of known users with the new items.
        item_features : pandas.DataFrame or FeatureMatrix, optional
            Side features of the new items.
        epochs : int, default 5
            Epochs over the new interactions.

        Returns
        -------
        Recommender
            ``self``.

        Raises
        ------
        ValueError
            Items that already have interactions, or ``item_identity=False``.
        KeyError
            Unknown users.
        """
        return self._fold_in("item", new_interactions, item_features, epochs)

    @_atomic
    def _fold_in(self, side: str, frame: pd.DataFrame, features: Any, epochs: int
                 ) -> Recommender:
        self._check_fitted()
        epochs = _positive_int(epochs, "epochs", 0)
        other = "item" if side == "user" else "user"
        name = f"{side}_features"
        if not self._identity_on(side):
            raise ValueError(f"fold-in trains identity embeddings, but {side}_identity is "
                             "False.")
        columns = [self.user_col_, self.item_col_] + (
            [self.weight_col_] if self.weight_col_ is not None else [])
        _check_frame(frame, "new_interactions", columns)
        other_col = self._col(other)
        _rows(self._mapper(other), frame[other_col], f"new_interactions[{other_col!r}]",
              f" fold-in adds new {side}s; their {other}s must be known (add new "
              f"{other}s first).")
        keys = pd.unique(_key_list(frame[self._col(side)], "new_interactions"))
        mapper = self._mapper(side)
        rows = mapper.transform(keys, unknown="ignore")
        known = rows >= 0
        state = self._state[side]
        warm = np.zeros(keys.size, dtype=bool)
        warm[known] = state["active"][rows[known]]
        if np.any(warm):
            raise ValueError(f"new_interactions: {int(warm.sum())} {side}(s) already have "
                             f"interactions: {_show(keys[warm])}; use fit_partial for more "
                             f"data about known {side}s.")
        new_keys = keys[~known]
        raw = sp.csr_matrix((new_keys.size, state["names"].size), dtype=np.float32)
        if features is not None:
            feature_keys, encoded = self._encode(side, features, name)
            positions = pd.Index(feature_keys).get_indexer(pd.Index(new_keys))
            present = np.flatnonzero(positions >= 0)
            pick = sp.csr_matrix((np.ones(present.size, np.float32),
                                  (present, positions[present])),
                                 shape=(new_keys.size, encoded.shape[0]))
            raw = _int32_csr(pick @ encoded)
        self._grow(side, new_keys, raw, active=True)
        target = mapper.transform(keys)
        state["active"][target] = True
        self._rebuild(side)
        new = self._new_interactions(frame, "new_interactions")
        self._train_rows(side, target, new, epochs)
        self.interactions_ = _int32_csr(self.interactions_ + new)
        return self

    def _train_rows(self, side: str, rows: np.ndarray, new: sp.csr_matrix, epochs: int
                    ) -> None:
        """Train only the identity embeddings of ``rows`` of ``side`` on ``new``."""
        model = self.model_
        temporary = self._new_model(user_alpha=0.0, item_alpha=0.0)
        temporary.random_state_ = model.random_state_
        trainable = np.zeros(getattr(model, f"{side}_embeddings").shape[0], dtype=bool)
        trainable[rows] = True  # identity column of row r is column r
        for array_side in _SIDES:
            free = trainable if array_side == side else None
            for suffix in _PARAMETER_ARRAYS:
                array = getattr(model, f"{array_side}_{suffix}").copy()
                if suffix in ("embedding_gradients", "bias_gradients"):
                    array[~free if free is not None else slice(None)] = np.inf
                setattr(temporary, f"{array_side}_{suffix}", array)
        ones, weights = self._fit_arguments(new)
        temporary.fit_partial(ones, user_features=self._matrix("user"),
                              item_features=self._matrix("item"), sample_weight=weights,
                              epochs=epochs, num_threads=self.num_threads)
        for suffix in _PARAMETER_ARRAYS:
            target = getattr(model, f"{side}_{suffix}")
            target[rows] = getattr(temporary, f"{side}_{suffix}")[rows]

    # ------------------------------------------------------------ recommendations
    @_reads
    def recommend(self, users: Any = None, k: int = 10, exclude_seen: bool = True,
                  items: Any = None, filter_items: Any = None,
                  user_features: pd.DataFrame | FeatureMatrix | None = None
                  ) -> pd.DataFrame:
        """Top-``k`` items for each user.

        Parameters
        ----------
        users : key or sequence of keys, optional
            Default: every known user (and every user of ``user_features``).
        k : int, default 10
        exclude_seen : bool, default True
            Leave out the user's training interactions.
        items : sequence of keys, optional
            Candidate items (default: all known items).
        filter_items : sequence of keys, optional
            Items never to recommend (unknown keys are ignored).
        user_features : pandas.DataFrame or FeatureMatrix, optional
            Features of users not seen in training: they get recommendations from their
            features alone (cold start, no retraining). Rows of known users are ignored.

        Returns
        -------
        pandas.DataFrame
            Columns ``user, item, score, rank`` (rank 1..k), users in the order asked,
            keys in the caller's types. ``score`` is the model's score
            (``user . item + user bias + item bias``). Users with fewer than ``k``
            eligible items get fewer rows.

        Raises
        ------
        KeyError
            Unknown users (without features) or unknown candidate items.
        """
        self._check_fitted()
        k = _positive_int(k, "k")
        if not isinstance(exclude_seen, (bool, np.bool_)):
            raise ValueError(f"exclude_seen must be True or False, got {exclude_seen!r}.")
        cold_keys, cold_matrix = np.zeros(0, dtype=object), None
        if user_features is not None:
            cold_keys, raw = self._encode("user", user_features, "user_features")
            unknown = self.user_mapper_.transform(cold_keys, unknown="ignore") < 0
            cold_keys = np.asarray(cold_keys)[unknown]
            cold_matrix = self._feature_rows("user", raw[np.flatnonzero(unknown)])
        if users is None:
            keys = np.concatenate([self.user_mapper_.keys.to_numpy(dtype=object),
                                   np.asarray(cold_keys, dtype=object)])
        else:
            keys = _key_list(users, "users")
        rows = self.user_mapper_.transform(keys, unknown="ignore", name="users")
        cold_position = pd.Index(np.asarray(cold_keys, dtype=object)).get_indexer(
            pd.Index(np.asarray(keys, dtype=object)))
        missing = (rows < 0) & (cold_position < 0)
        if np.any(missing):
            raise KeyError(f"users: {int(missing.sum())} unknown user(s) "
                           f"{_show(np.asarray(keys, dtype=object)[missing])}; pass their "
                           "features as user_features=... (cold start) or fold them in.")
        warm = rows >= 0
        d = self.model_.no_components
        vectors = np.zeros((keys.shape[0], d), dtype=np.float32)
        user_biases = np.zeros(keys.shape[0], dtype=np.float32)
        if np.any(warm):
            user_biases[warm], vectors[warm] = self._representations("user", rows[warm])
        if np.any(~warm):
            picked = cold_matrix[cold_position[~warm]]
            user_biases[~warm], vectors[~warm] = self._representations("user", matrix=picked)
        n_items = len(self.item_mapper_)
        exclude = sp.csr_matrix((keys.shape[0], n_items), dtype=np.float32)
        if exclude_seen and np.any(warm):
            seen = self.interactions_[rows[warm]].tocoo()
            exclude = sp.csr_matrix((seen.data, (np.flatnonzero(warm)[seen.row], seen.col)),
                                    shape=(keys.shape[0], n_items))
        allowed = self._allowed_items(items, filter_items)
        item_biases, item_vectors = self._representations("item")
        return recommendation_frame(keys, vectors, user_biases, exclude, allowed, item_vectors,
                                    item_biases, self.item_mapper_.keys.to_numpy(), k,
                                    self.num_threads)

    @_reads
    def _scoring_snapshot(self) -> ScoringSnapshot:
        """What batch scoring needs, as plain arrays (sent to Dask workers)."""
        self._check_fitted()
        user_biases, user_vectors = self._representations("user")
        item_biases, item_vectors = self._representations("item")
        seen = _int32_csr(self.interactions_)
        return ScoringSnapshot(self.user_mapper_, self.item_mapper_, self.user_col_,
                               self.item_col_, user_biases, user_vectors, item_biases,
                               item_vectors, seen, _item_popularity(seen, seen))

    @_reads
    def evaluate(self, test: pd.DataFrame, k: int | tuple = (10,),
                 metrics: tuple = EVALUATE_METRICS,
                 exclude_seen: bool = True) -> pd.DataFrame:
        """Ranking metrics of held-out interactions (``hybridrec.metrics.evaluate``).

        Parameters
        ----------
        test : pandas.DataFrame
            Interactions with the training column names. Rows whose user or item is
            unknown to the model cannot be ranked and are dropped; their number is
            reported in the result's ``attrs["dropped_rows"]``.
        k : int or tuple of int, default (10,)
        metrics : tuple of str
            As in ``hybridrec.metrics.evaluate``.
        exclude_seen : bool, default True
            Leave the training interactions out of the ranking (the usual protocol).

        Returns
        -------
        pandas.DataFrame
            ``metric, k, mean, stderr, n_users``.
        """
        self._check_fitted()
        _check_frame(test, "test", [self.user_col_, self.item_col_])
        matrix, dropped = test_interactions(test, self.user_mapper_, self.item_mapper_,
                                            self.user_col_, self.item_col_)
        train = self.interactions_ if exclude_seen else None
        frame = evaluate(self.model_, matrix, train, k=k, metrics=metrics,
                         user_features=self._matrix("user"),
                         item_features=self._matrix("item"), num_threads=self.num_threads,
                         check_intersections=False)
        frame.attrs["dropped_rows"] = dropped
        return frame

    def _allowed_items(self, items: Any, filter_items: Any) -> np.ndarray | None:
        return allowed_items(self.item_mapper_, items, filter_items)

    def _similar(self, side: str, keys: Any, k: int, name: str,
                 columns: tuple[str, str]) -> pd.DataFrame:
        self._check_fitted()
        k = _positive_int(k, "k")
        mapper = self._mapper(side)
        query_keys = _key_list(keys, name)
        rows = _rows(mapper, query_keys, name)
        _, vectors = self._representations(side)
        unit = _l2_normalise(vectors)
        found, scores = top_k(unit[rows], unit, np.zeros(unit.shape[0], np.float32),
                              np.arange(rows.shape[0]), k, self.num_threads,
                              exclude=_self_exclusion(rows, unit.shape[0]))
        return _top_frame(query_keys, found, scores, mapper.keys.to_numpy(),
                          (columns[0], columns[1], "similarity"))

    @_reads
    def similar_items(self, items: Any, k: int = 10) -> pd.DataFrame:
        """Most similar items by cosine similarity of the learned item representations.

        Parameters
        ----------
        items : key or sequence of keys
        k : int, default 10

        Returns
        -------
        pandas.DataFrame
            Columns ``item, similar_item, similarity, rank``; an item is never its own
            neighbour.

        Raises
        ------
        KeyError
            Unknown items.
        """
        return self._similar("item", items, k, "items", ("item", "similar_item"))

    @_reads
    def similar_users(self, users: Any, k: int = 10) -> pd.DataFrame:
        """Most similar users by cosine similarity of the learned user representations.

        Parameters
        ----------
        users : key or sequence of keys
        k : int, default 10

        Returns
        -------
        pandas.DataFrame
            Columns ``user, similar_user, similarity, rank``.

        Raises
        ------
        KeyError
            Unknown users.
        """
        return self._similar("user", users, k, "users", ("user", "similar_user"))

    @_reads
    def recommend_on_item_page(self, user: Any, item: Any, k: int = 10, weight: float = 0.5,
                               exclude_seen: bool = True) -> pd.DataFrame:
        """Recommendations for ``user`` on the page of ``item``.

        Over the candidate items (all items except the page item and, with
        ``exclude_seen``, the user's training items) the user's affinity ``a_j`` (the
        model score) and the cosine similarity ``s_j`` of item ``j`` to the page item are
        each standardised (z-scores over the candidates), then combined::

            score_j = (1 - weight) * z(a)_j + weight * z(s)_j

        ``weight=0`` is the user's personal ranking, ``weight=1`` pure item-to-item
        similarity.

        Parameters
        ----------
        user, item : key
        k : int, default 10
        weight : float in [0, 1], default 0.5
        exclude_seen : bool, default True

        Returns
        -------
        pandas.DataFrame
            Columns ``user, item, score, affinity, similarity, rank``.

        Raises
        ------
        KeyError
            Unknown user or item.
        ValueError
            ``weight`` outside [0, 1].
        """
        self._check_fitted()
        k = _positive_int(k, "k")
        if isinstance(weight, (bool, np.bool_)) or not isinstance(weight, numbers.Real) \
                or not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight must be a number in [0, 1], got {weight!r}.")
        user_row = _rows(self.user_mapper_, [user], "user")[0]
        item_row = _rows(self.item_mapper_, [item], "item")[0]
        user_bias, user_vector = self._representations("user", np.array([user_row]))
        item_biases, item_vectors = self._representations("item")
        affinity = item_vectors.astype(np.float64) @ user_vector[0] + item_biases + user_bias[0]
        unit = _l2_normalise(item_vectors).astype(np.float64)
        similarity = unit @ unit[item_row]
        candidates = np.ones(unit.shape[0], dtype=bool)
        candidates[item_row] = False
        if exclude_seen:
            candidates[self.interactions_[user_row].indices] = False
        index = np.flatnonzero(candidates)
        combined = ((1.0 - weight) * _zscore(affinity[index])
                    + weight * _zscore(similarity[index]))
        order = np.argsort(-combined, kind="stable")[:k]
        chosen = index[order]
        return pd.DataFrame({
            "user": np.repeat(np.asarray([user], dtype=object), chosen.size),
            "item": self.item_mapper_.keys.to_numpy()[chosen],
            "score": combined[order], "affinity": affinity[chosen],
            "similarity": similarity[chosen], "rank": np.arange(1, chosen.size + 1)})

    # --------------------------------------------------------------- explanations
    @_reads
    def explain(self, user: Any, item: Any, n: int = 3) -> pd.DataFrame:
        """The user's history items most similar to ``item`` (why it was recommended).

        Parameters
        ----------
        user, item : key
        n : int, default 3

        Returns
        -------
        pandas.DataFrame
            Columns ``user, item, history_item, similarity, rank``: cosine similarity of
            learned item representations; ``item`` itself is left out. Empty when the
            user has no training interactions.

        Raises
        ------
        KeyError
            Unknown user or item.
        """
        self._check_fitted()
        n = _positive_int(n, "n")
        user_row = _rows(self.user_mapper_, [user], "user")[0]
        item_row = _rows(self.item_mapper_, [item], "item")[0]
        history = self.interactions_[user_row].indices
        history = history[history != item_row]
        _, vectors = self._representations("item", np.concatenate([[item_row], history]))
        unit = _l2_normalise(vectors).astype(np.float64)
        similarity = unit[1:] @ unit[0]
        order = np.argsort(-similarity, kind="stable")[:n]
        return pd.DataFrame({
            "user": np.repeat(np.asarray([user], dtype=object), order.size),
            "item": np.repeat(np.asarray([item], dtype=object), order.size),
            "history_item": self.item_mapper_.keys.to_numpy()[history[order]],
            "similarity": similarity[order], "rank": np.arange(1, order.size + 1)})

    @_reads
    def score_breakdown(self, user: Any, item: Any) -> pd.DataFrame:
        """Each feature's contribution to the score of (``user``, ``item``).

        With user features ``f`` (weights ``w_f``, embeddings ``e_f``, biases ``b_f``) and
        item features ``g`` (``x_g``, ``e_g``, ``b_g``), user representation
        ``u = sum w_f e_f`` and item representation ``v = sum x_g e_g``, the score
        ``u . v + sum w_f b_f + sum x_g b_g`` is split as::

            user feature f:  w_f (e_f . v) / 2 + w_f b_f
            item feature g:  x_g (e_g . u) / 2 + x_g b_g

        (the dot product is shared half-half between the sides), so the contributions
        sum exactly to the score.

        Parameters
        ----------
        user, item : key

        Returns
        -------
        pandas.DataFrame
            Columns ``side`` (``user``/``item``), ``feature`` (the key for an identity
            feature, else the feature name), ``kind`` (``identity``/``feature``),
            ``weight``, ``dot`` (half-shared dot-product part), ``bias`` and
            ``contribution`` (their sum), largest absolute contribution first.

        Raises
        ------
        KeyError
            Unknown user or item.
        """
        self._check_fitted()
        user_row = _rows(self.user_mapper_, [user], "user")[0]
        item_row = _rows(self.item_mapper_, [item], "item")[0]
        parts = {}
        for side, row in (("user", user_row), ("item", item_row)):
            matrix = self._matrix(side)[row]
            embeddings = getattr(self.model_, f"{side}_embeddings")[matrix.indices]
            parts[side] = (matrix.indices, matrix.data.astype(np.float64),
                           embeddings.astype(np.float64),
                           getattr(self.model_, f"{side}_biases")[matrix.indices])
        vectors = {side: parts[side][1] @ parts[side][2] for side in _SIDES}
        frames = []
        for side, other in (("user", "item"), ("item", "user")):
            columns, weights, embeddings, biases = parts[side]
            n_identity = self._n_identity(side)
            is_identity = columns < n_identity
            names = np.empty(columns.size, dtype=object)
            names[is_identity] = self._mapper(side).keys.to_numpy(dtype=object)[
                columns[is_identity]]
            names[~is_identity] = self._state[side]["names"][columns[~is_identity]
                                                            - n_identity]
            dot = weights * (embeddings @ vectors[other]) / 2.0
            bias = weights * biases.astype(np.float64)
            frames.append(pd.DataFrame({
                "side": side, "feature": names,
                "kind": np.where(is_identity, "identity", "feature"), "weight": weights,
                "dot": dot, "bias": bias, "contribution": dot + bias}))
        frame = pd.concat(frames, ignore_index=True)
        order = np.argsort(-np.abs(frame["contribution"].to_numpy()), kind="stable")
        return frame.iloc[order].reset_index(drop=True)

    # --------------------------------------------------------- feature embeddings
    def _feature_columns(self, side: str, names: Any, name: str) -> np.ndarray:
        if side not in _SIDES:
            raise ValueError(f"side must be 'user' or 'item', got {side!r}.")
        state = self._state[side]
        if state["names"].size == 0:
            raise ValueError(f"this model has no {side} side features.")
        names = _key_list(names, name)
        positions = pd.Index(state["names"]).get_indexer(pd.Index(np.asarray(names, object)))
        if np.any(positions < 0):
            raise KeyError(f"{name}: unknown {side} feature(s) "
                           f"{_show(np.asarray(names, dtype=object)[positions < 0])}; e.g. "
                           f"{_show(state['names'])}.")
        return positions

    def _feature_unit(self, side: str) -> np.ndarray:
        """L2-normalised embeddings of the side features of ``side``."""
        n_identity = self._n_identity(side)
        return _l2_normalise(getattr(self.model_, f"{side}_embeddings")[n_identity:])

    @_reads
    def items_for_feature(self, feature: Any, k: int = 10, side: str = "item"
                          ) -> pd.DataFrame:
        """Entities whose representation is closest (cosine) to a feature's embedding.

        Parameters
        ----------
        feature : str or sequence of str
            Side-feature names, e.g. ``"tags:tiltbrush"`` or ``"genre:Drama"``.
        k : int, default 10
        side : {'item', 'user'}, default 'item'
            Whose features and entities to use.

        Returns
        -------
        pandas.DataFrame
            Columns ``feature, <side>, similarity, rank``.

        Raises
        ------
        KeyError
            Unknown feature names.
        """
        self._check_fitted()
        k = _positive_int(k, "k")
        queries = _key_list(feature, "feature")
        positions = self._feature_columns(side, queries, "feature")
        _, vectors = self._representations(side)
        unit = _l2_normalise(vectors)
        found, scores = top_k(self._feature_unit(side)[positions], unit,
                              np.zeros(unit.shape[0], np.float32), np.arange(positions.size),
                              k, self.num_threads)
        return _top_frame(queries, found, scores, self._mapper(side).keys.to_numpy(),
                          ("feature", side, "similarity"))

    @_reads
    def features_for_item(self, item: Any, k: int = 10, exclude_own: bool = True,
                          side: str = "item") -> pd.DataFrame:
        """Side features closest (cosine) to an item's representation (e.g. tags to add).

        Parameters
        ----------
        item : key or sequence of keys
            Items (users with ``side='user'``).
        k : int, default 10
        exclude_own : bool, default True
            Leave out the features the item already carries.
        side : {'item', 'user'}, default 'item'

        Returns
        -------
        pandas.DataFrame
            Columns ``<side>, feature, similarity, rank``.

        Raises
        ------
        KeyError
            Unknown keys.
        """
        self._check_fitted()
        k = _positive_int(k, "k")
        self._feature_columns(side, [], "feature")  # checks side and features exist
        queries = _key_list(item, side)
        rows = _rows(self._mapper(side), queries, side)
        _, vectors = self._representations(side, rows)
        features = self._feature_unit(side)
        exclude = None
        if exclude_own:
            exclude = _int32_csr(self._state[side]["side"][rows] != 0)
        found, scores = top_k(_l2_normalise(vectors), features,
                              np.zeros(features.shape[0], np.float32), np.arange(rows.size), k,
                              self.num_threads, exclude=exclude)
        return _top_frame(queries, found, scores, self._state[side]["names"],
                          (side, "feature", "similarity"))

    @_reads
    def similar_features(self, feature: Any, k: int = 10, side: str = "item") -> pd.DataFrame:
        """Side features whose embeddings are closest (cosine) to a feature's embedding.

        Parameters
        ----------
        feature : str or sequence of str
        k : int, default 10
        side : {'item', 'user'}, default 'item'

        Returns
        -------
        pandas.DataFrame
            Columns ``feature, similar_feature, similarity, rank``.

        Raises
        ------
        KeyError
            Unknown feature names.
        """
        self._check_fitted()
        k = _positive_int(k, "k")
        queries = _key_list(feature, "feature")
        positions = self._feature_columns(side, queries, "feature")
        unit = self._feature_unit(side)
        found, scores = top_k(unit[positions], unit, np.zeros(unit.shape[0], np.float32),
                              np.arange(positions.size), k, self.num_threads,
                              exclude=_self_exclusion(positions, unit.shape[0]))
        return _top_frame(queries, found, scores, self._state[side]["names"],
                          ("feature", "similar_feature", "similarity"))

    # ---------------------------------------------------------------- persistence
    @_reads
    def save(self, path: str | Path) -> Path:
        """Save to a pickle-free ``.npz`` file (see ``hybridrec.persist``).

        Stores the model, the mappers, the raw side-feature matrices with their names,
        specs and bin edges, the interactions, the history and the parameters.

        Parameters
        ----------
        path : str or path-like
            Target file, used exactly as given (e.g. ``model.hrec``).

        Returns
        -------
        pathlib.Path
            The file written (atomically).
        """
        self._check_fitted()
        arrays: dict[str, np.ndarray] = {}
        sides = {}
        for side in _SIDES:
            for key, value in self._mapper(side).to_arrays().items():
                arrays[f"{side}/mapper/{key}"] = value
            state = self._state[side]
            _csr_arrays(arrays, f"{side}/side", state["side"])
            arrays[f"{side}/names"] = state["names"].astype(str)
            arrays[f"{side}/active"] = state["active"]
            spec = state["spec"]
            sides[side] = {
                "spec": None if spec is None else {
                    **{key: list(spec[key]) for key in ("categorical", "numeric", "raw")},
                    "multi_valued": [[column, sep] for column, sep in
                                     spec["multi_valued"].items()],
                    "n_bins": spec["n_bins"]},
                "bin_edges": {str(key): np.asarray(value, np.float64).tolist()
                              for key, value in (state["bin_edges"] or {}).items()}}
        _csr_arrays(arrays, "interactions", self.interactions_)
        _csr_arrays(arrays, "negatives", self.negatives_)
        params = self.get_params()
        if not (params["random_state"] is None
                or isinstance(params["random_state"], (int, np.integer))):
            params["random_state"] = None
        elif params["random_state"] is not None:
            params["random_state"] = int(params["random_state"])
        metadata = {"format": _FORMAT, "format_version": _FORMAT_VERSION, "params": params,
                    "columns": [self.user_col_, self.item_col_, self.weight_col_],
                    "sides": sides, "best_epoch": self.best_epoch_,
                    "history": self.history_.to_dict(orient="list")}
        return save_model(self.model_, path, extra_arrays=arrays, metadata=metadata)

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Load a file written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        Recommender
            Gives the same recommendations as the saved one.

        Raises
        ------
        ModelFileError
            Missing, corrupted or truncated files, another format, a newer version.
        """
        model, arrays, metadata = load_model(path)
        if metadata.get("format") != _FORMAT:
            raise ModelFileError(f"{path} holds a bare model, not a Recommender "
                                 "(use hybridrec.persist.load_model).")
        if metadata.get("format_version", 0) > _FORMAT_VERSION:
            raise ModelFileError(f"{path} has Recommender format version "
                                 f"{metadata.get('format_version')}; this version reads "
                                 f"up to {_FORMAT_VERSION}.")
        try:
            recommender = cls(**metadata["params"])
            recommender.user_col_, recommender.item_col_, recommender.weight_col_ = \
                metadata["columns"]
            recommender.model_ = model
            recommender._state = {}
            for side in _SIDES:
                mapper = IdMapper.from_arrays({
                    "keys": arrays[f"{side}/mapper/keys"],
                    "kind": arrays[f"{side}/mapper/kind"]})
                setattr(recommender, f"{side}_mapper_", mapper)
                saved = metadata["sides"][side]
                spec = saved["spec"]
                if spec is not None:
                    spec = {**spec, "multi_valued": {column: sep for column, sep in
                                                     spec["multi_valued"]}}
                recommender._state[side] = {
                    "spec": spec,
                    "bin_edges": {key: np.asarray(value, np.float64)
                                  for key, value in saved["bin_edges"].items()},
                    "side": _csr_from(arrays, f"{side}/side"),
                    "names": arrays[f"{side}/names"].astype(object),
                    "active": arrays[f"{side}/active"].astype(bool)}
                recommender._rebuild(side)
            recommender.interactions_ = _csr_from(arrays, "interactions")
            recommender.negatives_ = (  # files written before negatives existed: none
                _csr_from(arrays, "negatives") if "negatives/indptr" in arrays
                else _int32_csr(sp.csr_matrix(recommender.interactions_.shape,
                                              dtype=np.float32)))
            recommender.best_epoch_ = metadata["best_epoch"]
            recommender.history_ = pd.DataFrame(metadata["history"])
            recommender._check_consistent()
        except (KeyError, TypeError, ValueError) as error:
            raise ModelFileError(f"{path} is not a valid Recommender file: {error}") from None
        return recommender

    def _check_consistent(self) -> None:
        for side in _SIDES:
            columns = self._matrix(side).shape[1]
            rows = getattr(self.model_, f"{side}_embeddings").shape[0]
            if columns != rows:
                raise ValueError(f"{side} feature matrix has {columns} columns but the "
                                 f"model has {rows} {side} embeddings.")
        expected = (len(self.user_mapper_), len(self.item_mapper_))
        if self.interactions_.shape != expected:
            raise ValueError(f"interactions have shape {self.interactions_.shape}, "
                             f"expected {expected}.")
        if self.negatives_.shape != expected:
            raise ValueError(f"negatives have shape {self.negatives_.shape}, "
                             f"expected {expected}.")


def _pattern(shape: tuple[int, int], *matrices: sp.spmatrix) -> sp.csr_matrix:
    """CSR of ones at every stored entry of ``matrices`` (explicit zeros included)."""
    coos = [matrix.tocoo() for matrix in matrices]
    rows = np.concatenate([coo.row for coo in coos])
    pattern = sp.csr_matrix((np.ones(rows.size, np.float32),
                             (rows, np.concatenate([coo.col for coo in coos]))), shape=shape)
    pattern.sum_duplicates()
    pattern.data[:] = 1.0
    return pattern


def _model_array_names() -> list[str]:
    return [f"{side}_{suffix}" for side in _SIDES for suffix in _PARAMETER_ARRAYS]


def _csr_arrays(arrays: dict, prefix: str, matrix: sp.csr_matrix) -> None:
    arrays[f"{prefix}/indptr"] = np.asarray(matrix.indptr, np.int64)
    arrays[f"{prefix}/indices"] = np.asarray(matrix.indices, np.int32)
    arrays[f"{prefix}/data"] = np.asarray(matrix.data, np.float32)
    arrays[f"{prefix}/shape"] = np.asarray(matrix.shape, np.int64)


def _csr_from(arrays: dict, prefix: str) -> sp.csr_matrix:
    shape = tuple(int(v) for v in arrays[f"{prefix}/shape"])
    return _int32_csr(sp.csr_matrix((arrays[f"{prefix}/data"], arrays[f"{prefix}/indices"],
                                     arrays[f"{prefix}/indptr"]), shape=shape))
