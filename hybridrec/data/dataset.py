"""A drop-in replacement for ``lightfm.data.Dataset`` (LightFM 1.17).

The tuple-based API is LightFM's and is kept exactly (shapes, mappings, dtypes,
normalisation, error messages). Internally the mappings are :class:`IdMapper`
objects, so the id columns of a DataFrame can also be fitted without a Python loop
(:meth:`Dataset.fit` accepts Series/arrays).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp

from .features import normalize_rows
from .mapping import IdMapper, as_key_array

__all__ = ["Dataset"]


def _as_list(data: Any, name: str) -> list:
    try:
        return list(data)
    except TypeError:
        raise TypeError(f"{name} must be an iterable of tuples, got "
                        f"{type(data).__name__}.") from None


def _weights(values: list, name: str) -> np.ndarray:
    """Weights as float64, refusing non-numbers and NaN/inf with a message naming ``name``."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numbers: {error}.") from None
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(f"{name} must be finite; got {array[bad[0]]} at position "
                         f"{int(bad[0])} ({bad.size} non-finite weight(s)).")
    return array


def _keys(values: Iterable | None, name: str) -> Any:
    if values is None:
        return None
    return as_key_array(values, name)


class Dataset:
    """Build interaction and feature matrices, keeping the id and feature mappings.

    Same API and behaviour as ``lightfm.data.Dataset`` 1.17:

    - ``fit`` / ``fit_partial`` register user/item ids and feature names. With
      identity features on, each user (item) id is also registered as a *feature* of
      the user (item) feature mapping, before the named features; ids and feature names
      therefore share one namespace, as in LightFM (a feature named like an id uses the
      id's column).
    - ``build_interactions`` returns ``(interactions, weights)``: COO matrices of int32
      ones and float32 weights, one entry per input tuple (duplicates are kept as
      separate entries, as LightFM does).
    - ``build_user_features`` / ``build_item_features`` return float32 CSR with the
      identity entry for every known id, then the given features (repeated entries add
      up), L1-normalised per row when ``normalize=True``.

    Parameters
    ----------
    user_identity_features : bool
        Create one feature per user in addition to the named user features.
    item_identity_features : bool
        Create one feature per item in addition to the named item features.
    """

    def __init__(self, user_identity_features: bool = True,
                 item_identity_features: bool = True) -> None:
        self._user_identity_features = user_identity_features
        self._item_identity_features = item_identity_features
        self._reset()

    def _reset(self) -> None:
        self._user_ids = IdMapper()
        self._item_ids = IdMapper()
        self._user_features = IdMapper()
        self._item_features = IdMapper()

    # ------------------------------------------------------------------ fitting
    def fit(self, users: Iterable, items: Iterable, user_features: Iterable | None = None,
            item_features: Iterable | None = None) -> Dataset:
        """Fit the id and feature mappings, discarding existing ones.

        Parameters
        ----------
        users : iterable
            User ids (any hashable keys; a pandas Series is hashed without a loop).
        items : iterable
            Item ids.
        user_features : iterable, optional
            User feature names.
        item_features : iterable, optional
            Item feature names.

        Returns
        -------
        Dataset
            ``self``.
        """
        with self._unchanged_on_error():
            self._reset()
            return self.fit_partial(users, items, user_features, item_features)

    @contextlib.contextmanager
    def _unchanged_on_error(self) -> Iterator[None]:
        """Put every mapping back as it was if the enclosed block raises."""
        saved = self.mappers()
        indexes = [mapper._index for mapper in saved]
        try:
            yield
        except BaseException:
            self._user_ids, self._user_features, self._item_ids, self._item_features = saved
            for mapper, index in zip(saved, indexes, strict=True):
                mapper._index = index
            raise

    def fit_partial(self, users: Iterable | None = None, items: Iterable | None = None,
                    user_features: Iterable | None = None,
                    item_features: Iterable | None = None) -> Dataset:
        """Add ids and feature names to the existing mappings.

        Existing entries keep their indices; new ones are appended in order of
        first appearance.

        Parameters
        ----------
        users : iterable, optional
            User ids.
        items : iterable, optional
            Item ids.
        user_features : iterable, optional
            User feature names.
        item_features : iterable, optional
            Item feature names.

        Returns
        -------
        Dataset
            ``self``.

        Raises
        ------
        ValueError
            If an id or feature name is NaN or None.
        """
        with self._unchanged_on_error():
            return self._fit_partial(users, items, user_features, item_features)

    def _fit_partial(self, users: Any, items: Any, user_features: Any,
                     item_features: Any) -> Dataset:
        users, items = _keys(users, "users"), _keys(items, "items")
        user_features = _keys(user_features, "user_features")
        item_features = _keys(item_features, "item_features")
        if users is not None:
            self._user_ids.fit_transform(users, name="users")
            if self._user_identity_features:
                self._user_features.fit_transform(users, name="users")
        if items is not None:
            self._item_ids.fit_transform(items, name="items")
            if self._item_identity_features:
                self._item_features.fit_transform(items, name="items")
        if user_features is not None:
            self._user_features.fit_transform(user_features, name="user_features")
        if item_features is not None:
            self._item_features.fit_transform(item_features, name="item_features")
        return self

    # -------------------------------------------------------------- interactions
    def interactions_shape(self) -> tuple[int, int]:
        """Return ``(number of users, number of items)``.

        Returns
        -------
        tuple of int
            The shape of the interaction matrices.
        """
        return len(self._user_ids), len(self._item_ids)

    def build_interactions(self, data: Iterable) -> tuple[sp.coo_matrix, sp.coo_matrix]:
        """Build the interaction and weight matrices.

        Parameters
        ----------
        data : iterable of (user_id, item_id) or (user_id, item_id, weight)
            Interactions; the weight defaults to 1.0.

        Returns
        -------
        interactions : scipy.sparse.coo_matrix
            ``interactions_shape()``, int32 ones, one entry per tuple.
        weights : scipy.sparse.coo_matrix
            Same pattern, float32 weights.

        Raises
        ------
        ValueError
            ``"Expecting tuples of (user_id, item_id, weight) or (user_id, item_id).
            Got ..."`` for a malformed tuple; ``"User id ... not in user id mapping. Make
            sure you call the fit method."`` (and likewise for items) for unknown ids.
        """
        tuples = _as_list(data, "data")
        users = np.empty(len(tuples), dtype=object)
        items = np.empty(len(tuples), dtype=object)
        weights = np.ones(len(tuples), dtype=np.float64)
        lengths = np.fromiter((len(t) if isinstance(t, (tuple, list)) else -1
                               for t in tuples), dtype=np.int64, count=len(tuples))
        bad = np.flatnonzero((lengths != 2) & (lengths != 3))
        if bad.size:
            raise ValueError(
                "Expecting tuples of (user_id, item_id, weight) or (user_id, item_id). "
                f"Got {tuples[bad[0]]}"
            )
        if tuples:
            users[:] = [t[0] for t in tuples]
            items[:] = [t[1] for t in tuples]
            triples = np.flatnonzero(lengths == 3)
            if triples.size:
                weights[triples] = _weights([tuples[i][2] for i in triples],
                                            "data (the weight of a (user_id, item_id, "
                                            "weight) tuple)")
        rows = self._lookup(self._user_ids, users, "User id {} not in user id mapping. "
                            "Make sure you call the fit method.")
        cols = self._lookup(self._item_ids, items, "Item id {} not in item id mapping. "
                            "Make sure you call the fit method.")
        shape = self.interactions_shape()
        interactions = sp.coo_matrix((np.ones(len(tuples), dtype=np.int32), (rows, cols)),
                                     shape=shape)
        weight_matrix = sp.coo_matrix((weights.astype(np.float32), (rows, cols)), shape=shape)
        return interactions, weight_matrix

    @staticmethod
    def _lookup(mapper: IdMapper, keys: np.ndarray, message: str) -> np.ndarray:
        codes = mapper.transform(keys, unknown="ignore") if len(keys) else \
            np.zeros(0, dtype=np.int32)
        missing = np.flatnonzero(codes < 0)
        if missing.size:
            raise ValueError(message.format(keys[missing[0]]))
        return codes

    # ------------------------------------------------------------------ features
    def user_features_shape(self) -> tuple[int, int]:
        """Return ``(number of users, number of user features)``.

        Returns
        -------
        tuple of int
            The shape of the user feature matrix.
        """
        return len(self._user_ids), len(self._user_features)

    def item_features_shape(self) -> tuple[int, int]:
        """Return ``(number of items, number of item features)``.

        Returns
        -------
        tuple of int
            The shape of the item feature matrix.
        """
        return len(self._item_ids), len(self._item_features)

    def build_user_features(self, data: Iterable, normalize: bool = True) -> sp.csr_matrix:
        """Build the user feature matrix.

        Parameters
        ----------
        data : iterable of (user_id, [feature names]) or (user_id, {feature name: weight})
            Features per user; users may repeat and features add up.
        normalize : bool
            Make every row sum to 1 (L1 normalisation, as LightFM).

        Returns
        -------
        scipy.sparse.csr_matrix
            float32, ``user_features_shape()``.

        Raises
        ------
        ValueError
            Malformed tuples, unknown user ids or feature names, or (with
            ``normalize``) a row without any feature, with LightFM's messages.
        """
        return self._build_features(data, self._user_ids, self._user_features,
                                    self._user_identity_features, normalize, "user")

    def build_item_features(self, data: Iterable, normalize: bool = True) -> sp.csr_matrix:
        """Build the item feature matrix.

        Parameters
        ----------
        data : iterable of (item_id, [feature names]) or (item_id, {feature name: weight})
            Features per item; items may repeat and features add up.
        normalize : bool
            Make every row sum to 1 (L1 normalisation, as LightFM).

        Returns
        -------
        scipy.sparse.csr_matrix
            float32, ``item_features_shape()``.

        Raises
        ------
        ValueError
            Malformed tuples, unknown item ids or feature names, or (with
            ``normalize``) a row without any feature, with LightFM's messages.
        """
        return self._build_features(data, self._item_ids, self._item_features,
                                    self._item_identity_features, normalize, "item")

    @staticmethod
    def _build_features(data: Iterable, ids: IdMapper, features: IdMapper, identity: bool,
                        normalize: bool, entity: str) -> sp.csr_matrix:
        entities: list = []
        names: list = []
        weights: list = []
        counts: list = []
        for datum in _as_list(data, "data"):
            if not isinstance(datum, (tuple, list)) or len(datum) != 2:
                raise ValueError(f"Expected tuples of ({entity}_id, features), got {datum}.")
            entity_id, entity_features = datum
            entities.append(entity_id)
            if isinstance(entity_features, dict):
                names.extend(entity_features.keys())
                weights.extend(entity_features.values())
                counts.append(len(entity_features))
            else:
                entity_features = list(entity_features)
                names.extend(entity_features)
                weights.extend([1.0] * len(entity_features))
                counts.append(len(entity_features))
        entity_keys = np.empty(len(entities), dtype=object)
        entity_keys[:] = entities
        entity_rows = Dataset._lookup(ids, entity_keys,
                                      entity + " id {} not in " + entity + " id mappings.")
        name_keys = np.empty(len(names), dtype=object)
        name_keys[:] = names
        cols = Dataset._lookup(features, name_keys,
                               "Feature {} not in feature mapping. Call fit first.")
        rows = np.repeat(entity_rows, np.asarray(counts, dtype=np.int64))
        values = _weights(weights, "data (feature weights)").astype(np.float32)
        shape = (len(ids), len(features))
        if identity:
            identity_cols = features.transform(ids.keys, name=f"{entity} ids")
            rows = np.concatenate([np.arange(len(ids), dtype=np.int32), rows])
            cols = np.concatenate([identity_cols, cols])
            values = np.concatenate([np.ones(len(ids), dtype=np.float32), values])
        matrix = sp.csr_matrix((values, (rows.astype(np.int32), cols.astype(np.int32))),
                               shape=shape, dtype=np.float32)
        matrix.sum_duplicates()
        if normalize:
            if np.any(np.diff(matrix.indptr) == 0):
                raise ValueError(
                    "Cannot normalize feature matrix: some rows have zero norm. "
                    "Ensure that features were provided for all entries."
                )
            matrix = normalize_rows(matrix)
        return matrix

    # ------------------------------------------------------------------ mappings
    def model_dimensions(self) -> tuple[int, int]:
        """Return ``(number of user features, number of item features)``.

        Returns
        -------
        tuple of int
            The numbers of user and item feature embeddings a model needs.
        """
        return len(self._user_features), len(self._item_features)

    def mapping(self) -> tuple[dict, dict, dict, dict]:
        """Return the mappings from external ids/names to internal indices.

        Returns
        -------
        tuple of dict
            ``(user id map, user feature map, item id map, item feature map)``. These
            are new dicts; editing them does not change the dataset.
        """
        return (self._user_ids.to_dict(), self._user_features.to_dict(),
                self._item_ids.to_dict(), self._item_features.to_dict())

    def mappers(self) -> tuple[IdMapper, IdMapper, IdMapper, IdMapper]:
        """Return the underlying :class:`IdMapper` objects (vectorised lookups, inverse).

        Returns
        -------
        tuple of IdMapper
            ``(user ids, user features, item ids, item features)`` (live objects).
        """
        return self._user_ids, self._user_features, self._item_ids, self._item_features
