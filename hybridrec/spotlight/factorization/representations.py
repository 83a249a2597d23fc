"""Spotlight's ``spotlight.factorization.representations``: the bilinear representation.

:class:`BilinearNet` describes Spotlight's network: a user embedding layer, an item
embedding layer and one bias per user and per item; the score of a (user, item) pair is
the dot product of the two embeddings plus both biases. hybridrec expresses it as
LightFM's model: each layer becomes a feature matrix (identity for plain embeddings,
hashed columns for :class:`~hybridrec.spotlight.layers.BloomEmbedding`) and the
parameters live in a ``hybridrec.LightFM`` engine created by the model's first fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..._validation import is_integer
from .._compat import SPARSE_REASON, warn_no_effect
from ..layers import BloomEmbedding, ScaledEmbedding, ZeroEmbedding

if TYPE_CHECKING:
    from ...model import LightFM

__all__ = ["BilinearNet"]

_LAYER_TYPES = (ScaledEmbedding, ZeroEmbedding, BloomEmbedding)


def _layer(layer: object, count: int, dim: int, name: str) -> object:
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
        The biases follow the layer's rows (hashed for a ``BloomEmbedding``; Spotlight
        keeps a full bias per id there).
    sparse : bool, default False
        ``True`` warns that it has no effect: hybridrec's updates are always sparse.

    Attributes
    ----------
    user_embeddings, item_embeddings : embedding layers
        Their ``weight`` is the trained table once a model using the net is fitted.
    user_biases, item_biases : ZeroEmbedding
        Their ``weight`` is the trained biases, ``(rows, 1)``, once fitted.
    engine : hybridrec.LightFM or None
        The fitted engine holding the parameters (``None`` before the first fit).
    """

    def __init__(self, num_users: int, num_items: int, embedding_dim: int = 32,
                 user_embedding_layer: object = None, item_embedding_layer: object = None,
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
        self.user_biases = ZeroEmbedding(self.user_embeddings.num_rows, 1)
        self.item_biases = ZeroEmbedding(self.item_embeddings.num_rows, 1)
        self.engine: LightFM | None = None

    @property
    def dimension(self) -> int:
        """The embedding dimension the layers share."""
        return self.user_embeddings.embedding_dim

    @property
    def rows_per_id(self) -> int:
        """The most table rows summed into one user's or item's embedding (1 for plain
        embeddings, ``num_hash_functions`` for a ``BloomEmbedding``)."""
        return max(self.user_embeddings.rows_per_id, self.item_embeddings.rows_per_id)

    def features(self, side: str) -> sp.csr_matrix | None:
        """The engine's feature matrix for ``side`` ("user" or "item"), ``None`` for the
        identity (the engine's fast path)."""
        layer = self.user_embeddings if side == "user" else self.item_embeddings
        return None if layer.is_identity() else layer.feature_matrix()

    def bind(self, engine: LightFM) -> None:
        """Make ``engine`` the holder of this net's parameters (the model's first fit)."""
        if self.engine is not None and self.engine is not engine:
            raise ValueError("this BilinearNet already belongs to another fitted model; build "
                             "a new representation for a new model.")
        for layer, attribute in ((self.user_embeddings, "user_embeddings"),
                                 (self.item_embeddings, "item_embeddings"),
                                 (self.user_biases, "user_biases"),
                                 (self.item_biases, "item_biases")):
            layer.bind(engine, attribute)
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
