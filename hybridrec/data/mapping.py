"""IdMapper: arbitrary hashable keys <-> contiguous int32 indices, vectorised."""

from __future__ import annotations

import json
import uuid
from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd

from .._validation import show_keys

__all__ = ["IdMapper", "as_key_array", "check_no_missing_keys", "factorize_keys", "map_keys",
           "tag_key", "untag_key"]

_INT32_MAX = int(np.iinfo(np.int32).max)
_SHOW = 5


def as_key_array(keys: Any, name: str = "keys") -> np.ndarray | pd.api.extensions.ExtensionArray:
    """Return ``keys`` as a one-dimensional array-like pandas can factorize.

    Parameters
    ----------
    keys : array-like, pandas.Series, pandas.Index or iterable
        The keys.
    name : str
        Argument name used in error messages.

    Returns
    -------
    numpy.ndarray or pandas ExtensionArray
        One-dimensional keys (the Series' own array when a Series is given, no copy).

    Raises
    ------
    ValueError
        If ``keys`` is not one-dimensional.
    """
    if isinstance(keys, (pd.Series, pd.Index)):
        return keys.array
    if isinstance(keys, (str, bytes)):
        raise ValueError(f"{name} must be a sequence of keys, got a single string {keys!r}.")
    if not isinstance(keys, (np.ndarray, pd.api.extensions.ExtensionArray, list, tuple)):
        try:
            keys = list(keys)
        except TypeError:
            raise TypeError(f"{name} must be a sequence of keys (list, array, Series, ...), "
                            f"got {type(keys).__name__} {keys!r}.") from None
    if isinstance(keys, (list, tuple)):
        array = np.empty(len(keys), dtype=object)
        array[:] = keys
        # Homogeneous ints get a native dtype (faster hashing). Strings stay objects:
        # numpy's fixed-width str dtype drops trailing NUL characters, which would merge
        # the distinct keys "a" and "a\x00".
        if len(keys) and pd.api.types.infer_dtype(array, skipna=False) == "integer":
            array = np.asarray(keys)
        keys = array
    if keys.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {keys.shape}.")
    return keys


def all_same_scalar_type(array: np.ndarray) -> bool:
    """Whether an object array holds only Python ints or only Python strs (no bools).

    Parameters
    ----------
    array : numpy.ndarray
        Object array.

    Returns
    -------
    bool
        True when ``numpy.asarray`` would keep every key's identity.
    """
    kind = pd.api.types.infer_dtype(array, skipna=False)
    return kind in ("integer", "string")


def check_no_missing_keys(keys: Any, name: str) -> None:
    """Raise if any key is NaN or None.

    Parameters
    ----------
    keys : array-like
        Keys (as returned by :func:`as_key_array`).
    name : str
        Argument (or column) name used in the message.

    Raises
    ------
    ValueError
        Naming ``name``, the number of missing keys and their first positions.
    """
    missing = pd.isna(keys)
    if np.any(missing):
        positions = np.flatnonzero(missing)
        raise ValueError(
            f"{name} contains {positions.size} missing key(s) (NaN or None) at "
            f"position(s) {positions[:_SHOW].tolist()}; every id must be a valid key. "
            f"Drop or fill those rows first."
        )


def factorize_keys(array: Any) -> tuple[np.ndarray, Any]:
    """``pandas.factorize`` (first-appearance order, -1 for NaN/None), faster for objects.

    Hashing millions of Python objects (strings) is dominated by cache misses on the
    objects themselves. Rows usually repeat the *same* objects (a column gathered from
    a key table, or read by pandas' CSV parser, which reuses equal strings), so the
    object pointers are factorized first, as integers, and only the distinct objects
    are then hashed by value (which merges equal keys held by different objects). The
    pointers are read through the buffer protocol and never dereferenced; ``array``
    keeps the objects alive meanwhile.

    Parameters
    ----------
    array : array-like
        One-dimensional keys (numpy or pandas array).

    Returns
    -------
    codes : numpy.ndarray of intp
        Code of every key, -1 for NaN/None.
    uniques : array-like
        Distinct keys in order of first appearance.
    """
    objects = np.asarray(array) if isinstance(array, pd.api.extensions.ExtensionArray) \
        and getattr(array.dtype, "storage", None) == "python" else array
    if (isinstance(objects, np.ndarray) and objects.dtype == object and objects.ndim == 1
            and objects.size > 50_000 and objects.flags.c_contiguous):
        pointers = np.frombuffer(memoryview(objects).cast("B"), dtype=np.intp)
        pointer_codes, distinct = pd.factorize(pointers)
        first = np.empty(distinct.size, dtype=np.intp)
        first[pointer_codes[::-1]] = np.arange(pointer_codes.size - 1, -1, -1)
        value_codes, uniques = pd.factorize(objects[first], use_na_sentinel=True)
        codes = value_codes[pointer_codes]
        if isinstance(array, pd.api.extensions.ExtensionArray):
            uniques = pd.array(uniques, dtype=array.dtype)
        return codes, uniques
    return pd.factorize(array, use_na_sentinel=True)


def map_keys(keys: Any, mapper: IdMapper | None, unknown: str, column: Hashable,
                   allowed: tuple[str, ...] = ("raise", "ignore")
                   ) -> tuple[np.ndarray, IdMapper, np.ndarray | None]:
    """Indices of ``keys`` in ``mapper`` under an unknown-key policy.

    Parameters
    ----------
    keys : array-like
        Keys of one id column.
    mapper : IdMapper or None
        None fits a new mapper on ``keys`` (first-appearance order).
    unknown : {"raise", "ignore", "extend"}
        Keys missing from ``mapper``: raise ``ValueError`` naming them, drop them, or
        add them to a copy of the mapper.
    column : hashable
        The column's name, for messages.
    allowed : tuple of str
        The policies the caller supports.

    Returns
    -------
    codes : numpy.ndarray of int32
        Index of every kept key.
    mapper : IdMapper
        The mapper used (new, or a copy with ``"extend"``).
    keep : numpy.ndarray of bool or None
        Which keys were kept (None when all were).
    """
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
            f"column {column!r} has {bad.size} id(s) not in the given mapper: {show_keys(bad)}. "
            f"Add them to the mapper first (IdMapper.partial_fit) or pass "
            f"unknown='ignore' to drop those rows."
        )
    return codes[known], mapper, known


class IdMapper:
    """Map hashable keys (str, int, UUID, mixed) to contiguous ``int32`` indices.

    Keys get indices ``0 .. n-1`` in order of first appearance; the order is stable
    under :meth:`partial_fit`, which only appends new keys (fold-in of new users or
    items). All operations are vectorised with pandas' hashing (``factorize``,
    ``Index.get_indexer``); nothing loops over rows in Python.

    Keys are compared as Python compares them: ``1``, ``1.0`` and ``True`` are the
    same key, while ``1`` and ``"1"`` are different keys. NaN and None are not
    valid keys.

    Parameters
    ----------
    keys : array-like, optional
        Keys to fit immediately (same as calling :meth:`fit`).

    Examples
    --------
    >>> mapper = IdMapper(["b", "a", "b"])
    >>> mapper.transform(["a", "b"])
    array([1, 0], dtype=int32)
    >>> mapper.inverse_transform([0, 1])
    array(['b', 'a'], dtype=object)
    """

    def __init__(self, keys: Any = None) -> None:
        self._index = pd.Index([], dtype=object)
        if keys is not None:
            self.fit(keys)

    # ------------------------------------------------------------------ fitting
    def fit(self, keys: Any) -> IdMapper:
        """Reset the mapping to the distinct ``keys`` in order of first appearance.

        Parameters
        ----------
        keys : array-like
            Keys; duplicates are allowed.

        Returns
        -------
        IdMapper
            ``self``.

        Raises
        ------
        ValueError
            If a key is NaN/None or there are more than 2**31 - 1 distinct keys.
        """
        self._index = pd.Index([], dtype=object)
        self.fit_transform(keys)
        return self

    def fit_transform(self, keys: Any, name: str = "keys") -> np.ndarray:
        """Extend the mapping with ``keys`` (like :meth:`partial_fit`) and return their indices.

        One hashing pass: the fast path for building a matrix from a new column.

        Parameters
        ----------
        keys : array-like
            Keys; duplicates are allowed.
        name : str
            Argument name used in error messages.

        Returns
        -------
        numpy.ndarray of int32
            The index of every key.

        Raises
        ------
        ValueError
            If a key is NaN/None or the mapping would exceed 2**31 - 1 keys.
        """
        array = as_key_array(keys, name)
        try:
            codes, uniques = factorize_keys(array)
        except TypeError as error:  # unhashable keys (lists, dicts, ...)
            raise TypeError(f"{name}: every key must be hashable; {error}.") from None
        if codes.size and codes.min() < 0:
            check_no_missing_keys(array, name)
        if len(self._index) == 0:
            self._check_size(len(uniques))
            if len(uniques):
                self._index = pd.Index(uniques)
            return codes.astype(np.int32, copy=False)
        positions = self._index.get_indexer(pd.Index(uniques))
        new = positions < 0
        n_new = int(new.sum())
        if n_new:
            self._check_size(len(self._index) + n_new)
            positions[new] = np.arange(len(self._index), len(self._index) + n_new)
            self._index = self._index.append(pd.Index(uniques[new]))
        return positions.astype(np.int32)[codes]

    def partial_fit(self, keys: Any) -> IdMapper:
        """Append keys not seen before; existing keys keep their indices.

        Parameters
        ----------
        keys : array-like
            Keys; duplicates and already known keys are allowed.

        Returns
        -------
        IdMapper
            ``self``.
        """
        self.fit_transform(keys)
        return self

    @staticmethod
    def _check_size(size: int) -> None:
        if size > _INT32_MAX:
            raise ValueError(
                f"IdMapper holds int32 indices: at most {_INT32_MAX} distinct keys, "
                f"got {size}."
            )

    # ---------------------------------------------------------------- transform
    def transform(self, keys: Any, unknown: str = "raise", name: str = "keys") -> np.ndarray:
        """Indices of ``keys``.

        Parameters
        ----------
        keys : array-like
            Keys to look up.
        unknown : {"raise", "ignore"}
            ``"raise"``: a key not in the mapping raises ``KeyError`` showing a few of
            them. ``"ignore"``: unknown keys map to -1 (see also :meth:`lookup`).
        name : str
            Argument name used in error messages.

        Returns
        -------
        numpy.ndarray of int32
            Index of every key (-1 for unknown keys with ``unknown="ignore"``).

        Raises
        ------
        KeyError
            If ``unknown="raise"`` and some keys are not in the mapping.
        ValueError
            If ``unknown`` is not one of the allowed values or a key is NaN/None.
        """
        if unknown not in ("raise", "ignore"):
            raise ValueError(f"unknown must be 'raise' or 'ignore', got {unknown!r}.")
        array = as_key_array(keys, name)
        if len(self._index) == 0:
            codes = np.full(len(array), -1, dtype=np.int32)
        elif len(array) > 50_000:
            # Many rows: hash the distinct keys once, then gather.
            row_codes, uniques = factorize_keys(array)
            positions = self._index.get_indexer(pd.Index(uniques)).astype(np.int32)
            codes = np.where(row_codes >= 0, positions[row_codes], -1).astype(np.int32)
        else:
            codes = self._index.get_indexer(array).astype(np.int32)
        if unknown == "raise":
            bad = codes < 0
            if np.any(bad):
                check_no_missing_keys(array, name)
                values = pd.unique(np.asarray(array, dtype=object)[bad])
                raise KeyError(
                    f"{name}: {values.size} key(s) not in the mapping: {show_keys(values)}. "
                    f"Fit the mapper on them first (IdMapper.partial_fit) or pass "
                    f"unknown='ignore' to map them to -1."
                )
        return codes

    def lookup(self, keys: Any, name: str = "keys") -> tuple[np.ndarray, np.ndarray]:
        """Indices of ``keys`` with -1 for unknown keys, and the mask of known keys.

        Parameters
        ----------
        keys : array-like
            Keys to look up.
        name : str
            Argument name used in error messages.

        Returns
        -------
        codes : numpy.ndarray of int32
            Index of every key, -1 where unknown.
        known : numpy.ndarray of bool
            True where the key is in the mapping.
        """
        codes = self.transform(keys, unknown="ignore", name=name)
        return codes, codes >= 0

    def inverse_transform(self, indices: Any) -> np.ndarray:
        """Keys of ``indices``.

        Parameters
        ----------
        indices : array-like of int
            Indices in ``0 .. len(self) - 1``.

        Returns
        -------
        numpy.ndarray
            The keys (object dtype unless all keys share a native dtype).

        Raises
        ------
        IndexError
            If an index is out of range, naming a few of them.
        """
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu":
            raise ValueError(f"indices must be integers, got dtype {indices.dtype}.")
        bad = (indices < 0) | (indices >= len(self._index))
        if np.any(bad):
            raise IndexError(
                f"indices out of range [0, {len(self._index)}): "
                f"{show_keys(np.unique(indices[bad]))}."
            )
        return self._index.to_numpy()[indices]

    # --------------------------------------------------------------- properties
    @property
    def keys(self) -> pd.Index:
        """pandas.Index: the keys, position ``i`` holding the key of index ``i``."""
        return self._index

    def __len__(self) -> int:
        """Number of keys."""
        return len(self._index)

    def __contains__(self, key: Any) -> bool:
        """Whether ``key`` is in the mapping."""
        try:
            return key in self._index
        except TypeError:
            return False

    def __eq__(self, other: object) -> bool:
        """Same keys in the same order."""
        if not isinstance(other, IdMapper):
            return NotImplemented
        return len(self) == len(other) and bool(
            np.all(self._index.to_numpy(dtype=object) == other._index.to_numpy(dtype=object))
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """Short description."""
        return f"IdMapper(n_keys={len(self)})"

    def to_dict(self) -> dict:
        """The mapping as a ``{key: index}`` dict (as LightFM's ``Dataset.mapping``).

        Returns
        -------
        dict
            Key to int index.
        """
        return dict(zip(self._index.tolist(), range(len(self._index)), strict=True))

    def copy(self) -> IdMapper:
        """An independent copy.

        Returns
        -------
        IdMapper
            A mapper with the same keys.
        """
        other = IdMapper()
        other._index = self._index.copy()
        return other

    # -------------------------------------------------------------- persistence
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for ``numpy.savez`` (``allow_pickle=False`` safe).

        Integer keys are stored as int64 and string keys as unicode. Other key types
        (UUIDs, mixed types) are stored as the tagged JSON strings of :meth:`to_json`.

        Returns
        -------
        dict of str to numpy.ndarray
            ``{"keys": array, "kind": 0-d str array}``.
        """
        kind = pd.api.types.infer_dtype(self._index, skipna=False)
        if len(self) == 0 or kind == "empty":
            return {"keys": np.array([], dtype=np.int64), "kind": np.array("int")}
        if kind == "integer":
            return {"keys": self._index.to_numpy(dtype=np.int64), "kind": np.array("int")}
        if kind == "string" and not any(key.endswith("\x00") for key in self._index):
            # (numpy's str dtype would drop trailing NULs: such keys go through JSON)
            return {"keys": self._index.to_numpy(dtype=str), "kind": np.array("str")}
        return {"keys": np.array([self.to_json()]), "kind": np.array("json")}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> IdMapper:
        """Rebuild a mapper saved with :meth:`to_arrays`.

        Parameters
        ----------
        arrays : dict of str to numpy.ndarray
            Must hold ``keys`` and ``kind``.

        Returns
        -------
        IdMapper
            The mapper.
        """
        kind = str(arrays["kind"])
        if kind == "json":
            return cls.from_json(str(arrays["keys"][0]))
        if kind not in ("int", "str"):
            raise ValueError(f"arrays['kind'] must be 'int', 'str' or 'json', got {kind!r}.")
        keys = np.asarray(arrays["keys"])
        mapper = cls()
        mapper._index = pd.Index(keys.astype(object) if kind == "str" else keys)
        return mapper

    def to_json(self) -> str:
        """JSON text that :meth:`from_json` turns back into an equal mapper.

        Integer and string keys are stored as such; other keys are tagged pairs
        ``[type, value]`` for ``float``, ``bool``, ``uuid`` and ``bytes`` (hex).

        Returns
        -------
        str
            JSON document ``{"format": 1, "kind": ..., "keys": [...]}``.

        Raises
        ------
        TypeError
            If a key has a type with no JSON encoding, naming it.
        """
        kind = pd.api.types.infer_dtype(self._index, skipna=False)
        if kind in ("integer", "string", "empty"):
            keys = self._index.tolist()
            return json.dumps({"format": 1, "kind": "plain", "keys": keys})
        return json.dumps({"format": 1, "kind": "tagged",
                           "keys": [tag_key(key) for key in self._index.tolist()]})

    @classmethod
    def from_json(cls, text: str) -> IdMapper:
        """Rebuild a mapper from :meth:`to_json` output.

        Parameters
        ----------
        text : str
            JSON produced by :meth:`to_json`.

        Returns
        -------
        IdMapper
            The mapper.
        """
        payload = json.loads(text)
        if payload.get("format") != 1:
            raise ValueError(f"unsupported IdMapper JSON format {payload.get('format')!r}.")
        keys = payload["keys"]
        if payload["kind"] == "tagged":
            keys = [untag_key(pair) for pair in keys]
        mapper = cls()
        if keys:
            mapper._index = pd.Index(as_key_array(keys))
        return mapper


def tag_key(key: Any) -> list:
    """A key as a JSON-able ``[type, value]`` pair (see ``IdMapper.to_json``)."""
    if isinstance(key, (bool, np.bool_)):
        return ["bool", bool(key)]
    if isinstance(key, (int, np.integer)):
        return ["int", int(key)]
    if isinstance(key, str):
        return ["str", key]
    if isinstance(key, (float, np.floating)):
        return ["float", float(key)]
    if isinstance(key, uuid.UUID):
        return ["uuid", str(key)]
    if isinstance(key, bytes):
        return ["bytes", key.hex()]
    raise TypeError(
        f"IdMapper.to_json cannot encode key {key!r} of type {type(key).__name__}; "
        f"supported: int, str, float, bool, uuid.UUID, bytes."
    )


def untag_key(pair: list) -> Any:
    """The key of a :func:`tag_key` pair."""
    kind, value = pair
    decoders = {"bool": bool, "int": int, "str": str, "float": float,
                "uuid": uuid.UUID, "bytes": bytes.fromhex}
    return decoders[kind](value)

