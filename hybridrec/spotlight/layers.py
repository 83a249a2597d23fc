"""Spotlight's ``spotlight.layers``: embedding layers, as feature matrices.

In hybridrec an embedding layer is a description of how ids map to rows of a parameter
table, i.e. a sparse ``(num_embeddings, n_rows)`` feature matrix handed to the LightFM
engine, which represents an id by the sum of the embeddings (and biases) of its row's
features:

* :class:`ScaledEmbedding`: one row per id (the identity matrix), initialised like
  Spotlight's, normal with standard deviation ``1 / embedding_dim``;
* :class:`ZeroEmbedding`: the same, initialised to zero;
* :class:`BloomEmbedding`: Spotlight's hashing-trick compression (Serra & Karatzoglou,
  2017): each id is the sum of ``num_hash_functions`` rows, chosen by MurmurHash3 with
  Spotlight's seeds, of a table of ``int(compression_ratio * num_embeddings)`` rows. The
  buckets are Spotlight's bit for bit (same hashes, same padding rule).

A layer holds no parameters until a model using it is fitted; then ``weight`` is the
model's parameter table (a live view: it follows further training) and calling the layer
looks embeddings up, as a PyTorch embedding layer does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from .._validation import check_int, is_real
from ._compat import SPARSE_REASON, warn_no_effect
from ._hashing import murmurhash3_32

if TYPE_CHECKING:
    from ..model import LightFM

__all__ = ["SEEDS", "BloomEmbedding", "ScaledEmbedding", "ScaledEmbeddingBag", "ZeroEmbedding"]

#: Spotlight's hash seeds, one per hash function.
SEEDS = [
    179424941, 179425457, 179425907, 179426369,
    179424977, 179425517, 179425943, 179426407,
    179424989, 179425529, 179425993, 179426447,
    179425003, 179425537, 179426003, 179426453,
    179425019, 179425559, 179426029, 179426491,
    179425027, 179425579, 179426081, 179426549,
]




class _EmbeddingLayer:
    """Shared behaviour: sizes, the feature matrix, binding to a fitted engine, lookup."""

    #: Initialisation of the table: "scaled" (normal, sd 1 / embedding_dim) or "zero".
    init = "scaled"

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None, sparse: bool = False) -> None:
        self.num_embeddings = check_int(num_embeddings, "num_embeddings")
        self.embedding_dim = check_int(embedding_dim, "embedding_dim")
        if padding_idx is not None:
            padding_idx = check_int(padding_idx, "padding_idx", 0)
        self.padding_idx = padding_idx
        if sparse:
            warn_no_effect("sparse=True", SPARSE_REASON)
        self.sparse = bool(sparse)
        self._engine: LightFM | None = None
        self._attribute: str | None = None
        self._features: sp.csr_matrix | None = None

    @property
    def num_rows(self) -> int:
        """Rows of the parameter table."""
        return self.num_embeddings

    def feature_matrix(self) -> sp.csr_matrix:
        """``(num_embeddings, num_rows)`` float32 CSR: row ``i`` holds the table rows
        whose sum represents id ``i``. Here the identity, less the padding row."""
        if self._features is None:
            keep = np.ones(self.num_embeddings, dtype=bool)
            if self.padding_idx is not None and self.padding_idx < self.num_embeddings:
                keep[self.padding_idx] = False  # the padding id has a fixed zero embedding
            ids = np.flatnonzero(keep).astype(np.int32)
            self._features = sp.csr_matrix((np.ones(len(ids), np.float32), (ids, ids)),
                                           shape=(self.num_embeddings, self.num_rows))
        return self._features

    @property
    def rows_per_id(self) -> int:
        """How many table rows are summed into one id's embedding."""
        return 1

    def is_identity(self) -> bool:
        """True when every id is exactly its own table row (no features needed)."""
        return self.padding_idx is None and self.num_rows == self.num_embeddings

    def initial_weights(self, rng: np.random.Generator) -> np.ndarray:
        """A float32 ``(num_rows, embedding_dim)`` table initialised as Spotlight does."""
        if self.init == "zero":
            return np.zeros((self.num_rows, self.embedding_dim), dtype=np.float32)
        weights = rng.normal(0.0, 1.0 / self.embedding_dim,
                             (self.num_rows, self.embedding_dim)).astype(np.float32)
        if self.padding_idx is not None and self.padding_idx < self.num_rows:
            weights[self.padding_idx] = 0.0
        return weights

    def bind(self, engine: LightFM, attribute: str) -> None:
        """Attach the fitted engine whose array ``attribute`` (``"user_embeddings"``,
        ``"item_biases"``, ...) is this layer's table (done by the model at its first fit)."""
        if self._engine is not None and self._engine is not engine:
            raise ValueError(f"this {type(self).__name__} already belongs to another fitted "
                             "model; build a new layer for a new model.")
        self._engine, self._attribute = engine, attribute

    @property
    def bound(self) -> bool:
        """Whether a fitted model holds this layer's parameters."""
        return self._engine is not None

    @property
    def weight(self) -> np.ndarray | None:
        """The parameter table, float32 ``(num_rows, embedding_dim)`` (``None`` until a
        model using the layer is fitted). A live view of the model's parameters."""
        if self._engine is None:
            return None
        table = getattr(self._engine, self._attribute)
        return table[:, None] if table.ndim == 1 else table  # biases as (rows, 1)

    def lookup_rows(self, indices: np.ndarray) -> sp.csr_matrix:
        """The feature rows of ``indices`` (1-d)."""
        return self.feature_matrix()[indices]

    def __call__(self, indices: object) -> np.ndarray:
        """Embeddings of ``indices`` (1-d ``(batch,)`` or 2-d ``(batch, seq)``): arrays of
        shape ``(batch, embedding_dim)`` / ``(batch, seq, embedding_dim)``."""
        weight = self.weight
        if weight is None:
            raise ValueError(f"this {type(self).__name__} has no parameters yet: fit a model "
                             "that uses it first.")
        array = np.asarray(indices)
        if array.ndim not in (1, 2) or array.dtype.kind not in "iu":
            raise ValueError("indices must be a 1-d or 2-d array of integer ids, got "
                             f"shape {array.shape} and dtype {array.dtype}.")
        flat = array.reshape(-1)
        if flat.size and (flat.min() < 0 or flat.max() >= self.num_embeddings):
            raise ValueError(f"indices must be in [0, {self.num_embeddings}), got values from "
                             f"{flat.min()} to {flat.max()}.")
        vectors = np.asarray(self.lookup_rows(flat) @ weight, dtype=np.float32)
        return vectors.reshape(*array.shape, self.embedding_dim)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_embeddings}, {self.embedding_dim})"


class ScaledEmbedding(_EmbeddingLayer):
    """Embedding layer initialised normal with standard deviation ``1 / embedding_dim``.

    Parameters
    ----------
    num_embeddings : int
        Number of ids.
    embedding_dim : int
    padding_idx : int, optional
        An id whose embedding is fixed at zero.
    sparse : bool, default False
        ``True`` warns that it has no effect: hybridrec's updates are always sparse.
    """


class ZeroEmbedding(_EmbeddingLayer):
    """Embedding layer initialised to zero (Spotlight uses it for biases).

    Parameters as :class:`ScaledEmbedding`.
    """

    init = "zero"


class ScaledEmbeddingBag(ScaledEmbedding):
    """Spotlight's ``EmbeddingBag`` variant; the same sums here, so the same layer."""


class BloomEmbedding(_EmbeddingLayer):
    """Compressed embeddings by hashing: each id is the sum of ``num_hash_functions``
    rows of a table of ``int(compression_ratio * num_embeddings)`` rows.

    The rows of id ``i`` are ``murmurhash3_32(i, seed=SEEDS[h]) % num_rows`` (signed
    hashes, as Spotlight computes them); the padding id's hashes are all 0, and table row
    ``padding_idx`` is fixed at zero, exactly as in Spotlight (so with the default
    ``padding_idx=0`` id 0 has a zero embedding and other ids lose any hash that lands in
    row 0). In a factorization model the ids' biases are hashed the same way (Spotlight
    keeps a full bias per id).

    Parameters
    ----------
    num_embeddings : int
        Number of ids.
    embedding_dim : int
    compression_ratio : float, default 0.2
        Table rows per id; below 1 compresses.
    num_hash_functions : int, default 4
        At most ``len(SEEDS)`` (24).
    bag : bool, default False
        Spotlight's choice of PyTorch module (the same sums); ``True`` warns that it has
        no effect.
    padding_idx : int or None, default 0
        ``None``: no padding id, every table row is trainable.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 compression_ratio: float = 0.2, num_hash_functions: int = 4,
                 bag: bool = False, padding_idx: int | None = 0) -> None:
        super().__init__(num_embeddings, embedding_dim, padding_idx=padding_idx)
        if not is_real(compression_ratio) or not (
                np.isfinite(compression_ratio) and compression_ratio > 0):
            raise ValueError(f"compression_ratio must be a number > 0, got "
                             f"{compression_ratio!r}.")
        self.compression_ratio = compression_ratio
        self.compressed_num_embeddings = int(compression_ratio * self.num_embeddings)
        # Row padding_idx is fixed at zero, so at least one more row must exist.
        minimum = 1 if padding_idx is None else max(padding_idx + 1, 2)
        if self.compressed_num_embeddings < minimum:
            raise ValueError(
                f"compression_ratio {compression_ratio} leaves "
                f"{self.compressed_num_embeddings} table rows for {self.num_embeddings} ids; "
                f"at least {minimum} are needed with padding_idx={padding_idx}. Raise "
                "compression_ratio."
            )
        self.num_hash_functions = check_int(num_hash_functions, "num_hash_functions")
        if self.num_hash_functions > len(SEEDS):
            raise ValueError(f"Can use at most {len(SEEDS)} hash functions "
                             f"({self.num_hash_functions} requested).")
        if bag:
            warn_no_effect("bag=True", "Spotlight's EmbeddingBag variant computes the same "
                           "sums of hashed rows, which the feature matrix does here.")
        self.bag = bool(bag)
        self._masks = SEEDS[:self.num_hash_functions]
        self._hashes: np.ndarray | None = None

    @property
    def num_rows(self) -> int:
        return self.compressed_num_embeddings

    @property
    def rows_per_id(self) -> int:
        return self.num_hash_functions

    def is_identity(self) -> bool:
        return False

    def hashed_indices(self) -> np.ndarray:
        """int64 ``(num_embeddings, num_hash_functions)``: the table rows of every id
        (computed once; the padding id's are all 0)."""
        if self._hashes is None:
            ids = np.arange(self.num_embeddings, dtype=np.int32)
            columns = []
            for seed in self._masks:
                hashes = murmurhash3_32(ids, seed=seed).astype(np.int64)
                if self.padding_idx is not None and self.padding_idx < self.num_embeddings:
                    hashes[self.padding_idx] = 0
                columns.append(hashes % self.compressed_num_embeddings)
            self._hashes = np.stack(columns, axis=1)
        return self._hashes

    def feature_matrix(self) -> sp.csr_matrix:
        """``(num_embeddings, compressed_num_embeddings)`` float32 CSR: a 1 per hash
        (2 where two hashes of an id collide), none in the fixed-zero padding row."""
        if self._features is None:
            hashes = self.hashed_indices()
            rows = np.repeat(np.arange(self.num_embeddings, dtype=np.int32),
                             self.num_hash_functions)
            columns = hashes.reshape(-1)
            keep = (np.ones(columns.shape, dtype=bool) if self.padding_idx is None
                    else columns != self.padding_idx)
            matrix = sp.csr_matrix((np.ones(int(keep.sum()), np.float32),
                                    (rows[keep], columns[keep].astype(np.int32))),
                                   shape=(self.num_embeddings, self.compressed_num_embeddings))
            matrix.sum_duplicates()
            matrix.sort_indices()
            self._features = matrix
        return self._features

    def __repr__(self) -> str:
        return (f"<BloomEmbedding (compression_ratio: {self.compression_ratio}): "
                f"{self.compressed_num_embeddings} x {self.embedding_dim} table, "
                f"{self.num_hash_functions} hash functions>")
