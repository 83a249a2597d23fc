"""Spotlight's ``spotlight.factorization.representations``: the bilinear representation.

:class:`BilinearNet` describes Spotlight's network: a user embedding layer, an item
embedding layer and one bias per user and per item; the score of a (user, item) pair is
the dot product of the two embeddings plus both biases. hybridrec expresses it as
LightFM's model: each layer becomes a feature matrix (identity for plain embeddings,
hashed columns for :class:`~hybridrec.spotlight.layers.BloomEmbedding`) and the
parameters live in a ``hybridrec.LightFM`` engine created by the model's first fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ..._validation import is_integer
from .._compat import SPARSE_REASON, warn_no_effect
from ..layers import BloomEmbedding, ScaledEmbedding, ZeroEmbedding

if TYPE_CHECKING:
    from ...model import LightFM

__all__ = ["BilinearNet"]

_LAYER_TYPES = (ScaledEmbedding, ZeroEmbedding, BloomEmbedding)


def _layer(layer: Any, count: int, dim: int, name: str) -> Any:
    if layer is None:
        return ScaledEmbedding(count, dim)
    if not isinstance(layer, _LAYER_TYPES):
        raise ValueError(
            f"{name} must be a hybridrec.spotlight.layers embedding layer (ScaledEmbedding, "
            f"ZeroEmbedding or BloomEmbedding), got {type(layer).__name__}. hybridrec has no "
            "PyTorch modules: every layer is a feature matrix of the LightFM engine."
        )
    if layer.num_embeddings < count:
        raise ValueError(f"{name} has {layer.num_embeddings} embeddings but the network needs "
                         f"{count}.")
    return layer


class BilinearNet:
    """Bilinear factorization representation.

    Users and items are embedding layers; the score of a pair is the dot product of their
    embeddings plus a user bias and an item bias.

    Parameters
    ----------
    num_users, num_items : int
    embedding_dim : int, default 32
        Used for the default layers; given layers bring their own (they must agree).
    user_embedding_layer, item_embedding_layer : embedding layer, optional
        A :mod:`hybridrec.spotlight.layers` layer, e.g. ``BloomEmbedding`` to compress.
        The biases are one per id, as in Spotlight (also beside a ``BloomEmbedding``'s
        hashed rows).
    sparse : bool, default False
        ``True`` warns that it has no effect: hybridrec's updates are always sparse.

    Attributes
    ----------
    user_embeddings, item_embeddings : embedding layers
        Their ``weight`` is the trained table once a model using the net is fitted.
    user_biases, item_biases : ZeroEmbedding
        Their ``weight`` is the trained biases, ``(num_users or num_items, 1)``, once
        fitted.
    engine : hybridrec.LightFM or None
        The fitted engine holding the parameters (``None`` before the first fit).

    Notes
    -----
    The engine (a ``LightFM``) holds one side's parameters as feature rows. With a plain
    layer each row is an id's embedding and bias. With a ``BloomEmbedding`` the feature
    matrix is ``[hashed rows | identity]``: the first ``layer.num_rows`` rows carry the
    hashed embeddings (their biases fixed at zero), the next ``num_embeddings`` rows the
    ids' own biases (their embeddings fixed at zero); ``row_parts`` tells the engine
    which part of each row trains.
    """

    def __init__(self, num_users: int, num_items: int, embedding_dim: int = 32,
                 user_embedding_layer: Any = None, item_embedding_layer: Any = None,
                 sparse: bool = False) -> None:
        for name, value in (("num_users", num_users), ("num_items", num_items),
                            ("embedding_dim", embedding_dim)):
            if not is_integer(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        self.num_users = int(num_users)
        self.num_items = int(num_items)
        self.embedding_dim = int(embedding_dim)
        if sparse:
            warn_no_effect("sparse=True", SPARSE_REASON)
        self.sparse = bool(sparse)
        self.user_embeddings = _layer(user_embedding_layer, self.num_users, self.embedding_dim,
                                      "user_embedding_layer")
        self.item_embeddings = _layer(item_embedding_layer, self.num_items, self.embedding_dim,
                                      "item_embedding_layer")
        if self.user_embeddings.embedding_dim != self.item_embeddings.embedding_dim:
            raise ValueError(
                "user and item embedding layers must have the same embedding_dim, got "
                f"{self.user_embeddings.embedding_dim} and {self.item_embeddings.embedding_dim}."
            )
        self.user_biases = ZeroEmbedding(self.user_embeddings.num_embeddings, 1)
        self.item_biases = ZeroEmbedding(self.item_embeddings.num_embeddings, 1)
        self.engine: LightFM | None = None
        self._features: dict[str, sp.csr_matrix] = {}

    @property
    def dimension(self) -> int:
        """The embedding dimension the layers share."""
        return self.user_embeddings.embedding_dim

    @property
    def rows_per_id(self) -> int:
        """The most table rows summed into one user's or item's embedding (1 for plain
        embeddings, ``num_hash_functions`` for a ``BloomEmbedding``)."""
        return max(self.user_embeddings.rows_per_id, self.item_embeddings.rows_per_id)

    def _layer(self, side: str):
        return self.user_embeddings if side == "user" else self.item_embeddings

    def _own_biases(self, side: str) -> bool:
        """Whether ``side`` keeps per-id bias rows beside hashed embedding rows."""
        return isinstance(self._layer(side), BloomEmbedding)

    def features(self, side: str) -> sp.csr_matrix | None:
        """The engine's feature matrix for ``side`` ("user" or "item"), ``None`` for the
        identity (the engine's fast path)."""
        layer = self._layer(side)
        if layer.is_identity():
            return None
        if not self._own_biases(side):
            return layer.feature_matrix()
        if side not in self._features:
            ids = layer.num_embeddings
            self._features[side] = sp.hstack(
                [layer.feature_matrix(), sp.identity(ids, dtype=np.float32, format="csr")],
                format="csr", dtype=np.float32)
        return self._features[side]

    def engine_rows(self, side: str) -> int:
        """Feature rows of ``side`` in the engine (table rows, plus one bias row per id
        beside a ``BloomEmbedding``)."""
        layer = self._layer(side)
        return layer.num_rows + (layer.num_embeddings if self._own_biases(side) else 0)

    def row_parts(self, side: str) -> np.ndarray | None:
        """The engine's per-row parts for ``side`` (``LightFM._fit_partial_rows``): 2
        (embedding only) for the hashed rows and 3 (bias only) for the per-id bias rows
        beside a ``BloomEmbedding``; ``None`` (everything trains) otherwise."""
        if not self._own_biases(side):
            return None
        layer = self._layer(side)
        return np.concatenate([np.full(layer.num_rows, 2, dtype=np.uint8),
                               np.full(layer.num_embeddings, 3, dtype=np.uint8)])

    def initialise(self, engine: LightFM, rng: np.random.Generator) -> None:
        """Give ``engine``'s parameter arrays Spotlight's initial values (embeddings from
        the layers' initialisers, biases zero; the bias rows' embeddings zero)."""
        for side in ("user", "item"):
            layer = self._layer(side)
            table = getattr(engine, f"{side}_embeddings")
            table[:layer.num_rows] = layer.initial_weights(rng)
            table[layer.num_rows:] = 0.0
            getattr(engine, f"{side}_biases")[:] = 0.0

    def bind(self, engine: LightFM) -> None:
        """Make ``engine`` the holder of this net's parameters (the model's first fit)."""
        if self.engine is not None and self.engine is not engine:
            raise ValueError("this BilinearNet already belongs to another fitted model; build "
                             "a new representation for a new model.")
        for side in ("user", "item"):
            layer = self._layer(side)
            biases = self.user_biases if side == "user" else self.item_biases
            if self._own_biases(side):
                layer.bind(engine, f"{side}_embeddings", slice(0, layer.num_rows))
                biases.bind(engine, f"{side}_biases", slice(layer.num_rows, None))
            else:
                layer.bind(engine, f"{side}_embeddings")
                biases.bind(engine, f"{side}_biases")
        self.engine = engine

    def forward(self, user_ids: object, item_ids: object) -> np.ndarray:
        """Scores of the (user, item) pairs: float32 array, one per pair."""
        if self.engine is None:
            raise ValueError("this BilinearNet has no parameters yet: fit a model that uses it.")
        return self.engine.predict(user_ids, item_ids, item_features=self.features("item"),
                                   user_features=self.features("user"))

    __call__ = forward

    def __repr__(self) -> str:
        return (f"BilinearNet(user_embeddings={self.user_embeddings!r}, "
                f"item_embeddings={self.item_embeddings!r})")
