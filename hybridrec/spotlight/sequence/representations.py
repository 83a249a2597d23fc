"""Spotlight's ``spotlight.sequence.representations``: ways of representing a user by the
items they interacted with before.

Each class has Spotlight's constructor and describes one representation of hybridrec's
sequence engine (``hybridrec.sequence.representations``); its parameters are created
when an :class:`~hybridrec.spotlight.sequence.implicit.ImplicitSequenceModel` using it
is first fitted (then ``weight`` of ``item_embeddings`` / ``item_biases`` is the live
parameter table). Item id 0 is the padding item (``PADDING_IDX``): zero embedding and
bias, never trained.

* :class:`PoolNet`: the sum of the preceding items' embeddings divided by their count
  plus one (Spotlight's cumulative average);
* :class:`CNNNet`: stacked causal (dilated, optionally residual) convolutions;
* :class:`LSTMNet`: one LSTM layer, hidden size ``embedding_dim``;
* :class:`MixtureLSTMNet`: an LSTM whose hidden state is projected to ``num_mixtures``
  taste and attention vectors (mixture of tastes).

Their results agree with Spotlight's PyTorch modules for the same weights (checked to
1e-16 in float64, tests/spotlight/test_sequence_representations.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._validation import check_int_in, is_integer
from ...sequence.representations import (
    CNNSpec,
    LSTMSpec,
    MixtureSpec,
    PoolingSpec,
    RepresentationSpec,
)
from .._compat import warn_no_effect
from ..layers import BloomEmbedding, ScaledEmbedding, ZeroEmbedding

__all__ = ["PADDING_IDX", "CNNNet", "LSTMNet", "MixtureLSTMNet", "PoolNet", "SequenceNet"]

#: The padding item id (Spotlight's ``PADDING_IDX``).
PADDING_IDX = 0


def _to_iterable(value: Any, num: int, name: str) -> tuple:
    """Spotlight's ``_to_iterable``: an int repeated ``num`` times, else the values."""
    if is_integer(value):
        values = (value,) * num
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(f"{name} must be an integer or a sequence of integers, got "
                             f"{value!r}.") from None
    return tuple(check_int_in(v, name) for v in values)


class SequenceNet:
    """Base of the four representations: the item embedding layer, the biases and the
    binding to a fitted model's engine (``network``, a ``SequenceNetwork``; None until
    the first fit)."""

    def __init__(self, num_items: int, embedding_dim: int, item_embedding_layer: object,
                 sparse: bool) -> None:
        self.num_items = check_int_in(num_items, "num_items")
        self.embedding_dim = check_int_in(embedding_dim, "embedding_dim")
        if item_embedding_layer is None:
            item_embedding_layer = ScaledEmbedding(self.num_items, self.embedding_dim,
                                                   padding_idx=PADDING_IDX)
        elif not isinstance(item_embedding_layer, (ScaledEmbedding, BloomEmbedding)):
            raise ValueError(
                "item_embedding_layer must be a hybridrec.spotlight.layers ScaledEmbedding "
                f"or BloomEmbedding, got {type(item_embedding_layer).__name__}: hybridrec "
                "has no PyTorch modules.")
        else:
            bloom = isinstance(item_embedding_layer, BloomEmbedding)
            embeddings = item_embedding_layer.num_embeddings
            if embeddings < self.num_items or (not bloom and embeddings != self.num_items):
                raise ValueError(
                    f"item_embedding_layer has {embeddings} embeddings but the network has "
                    f"num_items={self.num_items}; they must be equal"
                    + ("." if not bloom else " or more."))
            if item_embedding_layer.embedding_dim != self.embedding_dim:
                raise ValueError(
                    f"item_embedding_layer has embedding_dim "
                    f"{item_embedding_layer.embedding_dim} but the network has embedding_dim="
                    f"{self.embedding_dim}; they must agree (the representation's layers use "
                    "the item embedding size).")
            if isinstance(item_embedding_layer, BloomEmbedding) \
                    and item_embedding_layer.padding_idx != PADDING_IDX:
                raise ValueError(
                    "a BloomEmbedding for a sequence model needs padding_idx=0 (item 0 is the "
                    f"padding item), got padding_idx={item_embedding_layer.padding_idx!r}.")
        self.item_embeddings = item_embedding_layer
        self.item_biases = ZeroEmbedding(self.num_items, 1, padding_idx=PADDING_IDX)
        if sparse:
            warn_no_effect("sparse=True", "it chooses PyTorch's gradient storage; hybridrec "
                           "accumulates embedding gradients row by row either way.",
                           stacklevel=4)
        self.sparse = bool(sparse)
        self.network = None

    def engine_spec(self) -> RepresentationSpec:
        """The engine's description of this representation."""
        raise NotImplementedError

    def engine_item_table(self, rng) -> tuple[np.ndarray | None, int | None, np.ndarray]:
        """``(hashes, n_rows, initial table)`` of the item embeddings for the engine."""
        layer = self.item_embeddings
        table = layer.initial_weights(rng)
        if isinstance(layer, BloomEmbedding):
            hashes = layer.hashed_indices()[:self.num_items].astype(np.int32)
            return hashes, layer.num_rows, table
        table[PADDING_IDX] = 0.0
        return None, None, table

    def bind(self, network) -> None:
        """Attach the fitted engine holding this representation's parameters (done by the
        model at its first fit; a representation belongs to one model)."""
        if self.network is not None and self.network is not network:
            raise ValueError(f"this {type(self).__name__} already belongs to another fitted "
                             "model; build a new representation for a new model.")
        self.network = network
        self.item_embeddings.bind(network, "item_table")
        self.item_biases.bind(network, "item_bias_table")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_items}, embedding_dim={self.embedding_dim})"


class PoolNet(SequenceNet):
    """Users as the average of the representations of the items they interacted with
    (Covington et al., 2016): at each step the sum of the preceding items' embeddings
    divided by their number plus one.

    Parameters
    ----------
    num_items : int
    embedding_dim : int, default 32
    item_embedding_layer : ScaledEmbedding or BloomEmbedding, optional
    sparse : bool, default False
        ``True`` warns that it has no effect (a PyTorch gradient-storage option;
        hybridrec accumulates embedding gradients row by row either way).
    """

    def __init__(self, num_items: int, embedding_dim: int = 32,
                 item_embedding_layer: object = None, sparse: bool = False) -> None:
        super().__init__(num_items, embedding_dim, item_embedding_layer, sparse)

    def engine_spec(self) -> RepresentationSpec:
        return PoolingSpec(window=0, shrink=1.0)


class LSTMNet(SequenceNet):
    """Users as the hidden state of an LSTM run over their item sequence (Hidasi et al.,
    2015); input and hidden size ``embedding_dim``.

    Parameters as :class:`PoolNet`.
    """

    def __init__(self, num_items: int, embedding_dim: int = 32,
                 item_embedding_layer: object = None, sparse: bool = False) -> None:
        super().__init__(num_items, embedding_dim, item_embedding_layer, sparse)

    def engine_spec(self) -> RepresentationSpec:
        return LSTMSpec()


class CNNNet(SequenceNet):
    """Users through stacked causal atrous convolutions (van den Oord et al., 2016;
    Kalchbrenner et al., 2016): the output at each step sees only earlier items.

    Parameters
    ----------
    num_items : int
    embedding_dim : int, default 32
        Also the number of filters of every layer.
    kernel_width : int or tuple of int, default 3
        One per layer, or one for all ``num_layers``.
    dilation : int or tuple of int, default 1
        One per layer, or one for all.
    num_layers : int, default 1
    nonlinearity : {'tanh', 'relu'}, default 'tanh'
    residual_connections : bool, default True
    sparse : bool, default False
        ``True`` warns that it has no effect.
    benchmark : bool, default True
        ``cudnn.benchmark`` in Spotlight; accepted and ignored (no CUDA).
    item_embedding_layer : ScaledEmbedding or BloomEmbedding, optional

    Raises
    ------
    ValueError
        ``'Nonlinearity must be one of (tanh, relu)'`` (Spotlight's message); kernel
        widths and dilations of different lengths.
    """

    def __init__(self, num_items: int, embedding_dim: int = 32, kernel_width=3, dilation=1,
                 num_layers: int = 1, nonlinearity: str = "tanh",
                 residual_connections: bool = True, sparse: bool = False,
                 benchmark: bool = True, item_embedding_layer: object = None) -> None:
        super().__init__(num_items, embedding_dim, item_embedding_layer, sparse)
        num_layers = check_int_in(num_layers, "num_layers")
        self.kernel_width = _to_iterable(kernel_width, num_layers, "kernel_width")
        self.dilation = _to_iterable(dilation, num_layers, "dilation")
        if len(self.kernel_width) != len(self.dilation):
            raise ValueError(
                f"kernel_width {self.kernel_width} and dilation {self.dilation} give "
                "different numbers of layers; give one entry per layer (or an int for all "
                f"num_layers={num_layers}).")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError("Nonlinearity must be one of (tanh, relu)")
        self.nonlinearity = nonlinearity
        self.residual_connections = bool(residual_connections)
        self.num_layers = len(self.kernel_width)
        self.benchmark = benchmark

    def engine_spec(self) -> RepresentationSpec:
        return CNNSpec(kernel_width=self.kernel_width, dilation=self.dilation,
                       relu=self.nonlinearity == "relu",
                       residual=self.residual_connections)


class MixtureLSTMNet(SequenceNet):
    """Users as mixtures of tastes (Kula, 2017): an LSTM whose hidden state is projected
    to ``num_mixtures`` taste vectors and as many attention vectors; an item is scored
    by the tastes weighted by the softmax of its match with the attention vectors.

    Parameters
    ----------
    num_items : int
    embedding_dim : int, default 32
    num_mixtures : int, default 4
    item_embedding_layer : ScaledEmbedding or BloomEmbedding, optional
    sparse : bool, default False
        ``True`` warns that it has no effect.
    """

    def __init__(self, num_items: int, embedding_dim: int = 32, num_mixtures: int = 4,
                 item_embedding_layer: object = None, sparse: bool = False) -> None:
        super().__init__(num_items, embedding_dim, item_embedding_layer, sparse)
        self.num_mixtures = check_int_in(num_mixtures, "num_mixtures")

    def engine_spec(self) -> RepresentationSpec:
        return MixtureSpec(num_mixtures=self.num_mixtures)
