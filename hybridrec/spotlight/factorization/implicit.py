"""Spotlight's ``spotlight.factorization.implicit``: matrix factorization for implicit
feedback, trained by negative sampling on hybridrec's LightFM engine."""

from __future__ import annotations

import numpy as np

from ..._validation import check_int
from .. import losses
from ..interactions import Interactions
from ._base import FactorizationModel

__all__ = ["ImplicitFactorizationModel"]


class ImplicitFactorizationModel(FactorizationModel):
    """An implicit feedback matrix factorization model.

    Users and items are latent vectors (plus biases), given by a
    :class:`~hybridrec.spotlight.factorization.representations.BilinearNet`; the score of
    a pair is their dot product plus both biases. Every interaction is a positive (ratings
    are ignored, as in Spotlight); for each, negatives are drawn uniformly from the items.

    Parameters
    ----------
    loss : {'pointwise', 'bpr', 'hinge', 'adaptive_hinge'}, default 'pointwise'
        ``pointwise``: logistic log-loss, positive against one negative; ``bpr``: BPR
        (``log sigmoid`` of the positive's margin over one negative); ``hinge``: margin 1
        against one negative; ``adaptive_hinge``: margin 1 against the highest-scoring of
        ``num_negative_samples`` negatives. See the README for how each differs from
        Spotlight's.
    embedding_dim : int, default 32
    n_iter : int, default 10
        Epochs per ``fit`` call.
    batch_size : int, default 256
        Accepted and validated; training is per example, so it changes nothing.
    l2 : float, default 0.0
        L2 penalty: the objective is the mean loss plus ``l2 / 2`` times the squared norm
        of every parameter (Spotlight's weight decay).
    learning_rate : float, default 1e-2
        Spotlight's (Adam) learning rate; the engine's adagrad starts at
        ``LEARNING_RATE_SCALES[loss]`` times it (5, and 2 for ``bpr``).
    optimizer_func : None
        Must be None: a PyTorch optimizer factory cannot be used (``ValueError``).
    use_cuda : bool, default False
        ``True`` raises ``ValueError`` (no GPU path).
    representation : BilinearNet, optional
        The network, e.g. with ``BloomEmbedding`` layers; default a ``BilinearNet`` of
        ``embedding_dim`` built at the first fit.
    sparse : bool, default False
        ``True`` warns that it has no effect (updates are always sparse).
    random_state : numpy.random.RandomState, Generator or int, optional
        Seeds the engine at the first fit (a RandomState is advanced once).
    num_negative_samples : int, default 5
        Negatives per positive for ``adaptive_hinge`` (the other losses use one, as in
        Spotlight).
    num_threads : int, default 1
        Not a Spotlight parameter: threads of the Hogwild training. 1 with a fixed
        ``random_state`` is bit-for-bit reproducible.
    """

    LOSSES = ("pointwise", "bpr", "hinge", "adaptive_hinge")
    #: adagrad's initial learning rate = LEARNING_RATE_SCALES[loss] x learning_rate,
    #: measured on MovieLens 100K at Spotlight's tested settings (README, "Migrating from
    #: Spotlight"). ``bpr`` is the engine's LightFM BPR, whose negatives are drawn in
    #: proportion to popularity (Spotlight's uniformly); it does best with smaller steps.
    LEARNING_RATE_SCALES = {"pointwise": 5.0, "bpr": 2.0, "hinge": 5.0, "adaptive_hinge": 5.0}

    def __init__(self, loss: str = "pointwise", embedding_dim: int = 32, n_iter: int = 10,
                 batch_size: int = 256, l2: float = 0.0, learning_rate: float = 1e-2,
                 optimizer_func: object = None, use_cuda: bool = False,
                 representation: object = None, sparse: bool = False,
                 random_state: object = None, num_negative_samples: int = 5,
                 num_threads: int = 1) -> None:
        self.loss = loss
        self.embedding_dim = embedding_dim
        self.n_iter = n_iter
        self.batch_size = batch_size
        self.l2 = l2
        self.learning_rate = learning_rate
        self.optimizer_func = optimizer_func
        self.use_cuda = use_cuda
        self.representation = representation
        self.sparse = sparse
        self.random_state = random_state
        self.num_negative_samples = num_negative_samples
        self.num_threads = num_threads
        self._validate()
        self._warn_pytorch_only()
        self._init_state()

    def _validate(self) -> None:
        super()._validate()
        check_int(self.num_negative_samples, "num_negative_samples", 1)

    def _engine_loss(self) -> str:
        return self.loss

    def _engine_negatives(self) -> int:
        return int(self.num_negative_samples) if self.loss == "adaptive_hinge" else 1

    def _training_values(self, interactions: Interactions) -> np.ndarray:
        return np.ones(len(interactions), dtype=np.float32)

    def _epoch_loss(self, interactions: Interactions, values: np.ndarray,
                    rng: np.random.Generator) -> float:
        """Spotlight's loss on the training interactions with freshly drawn negatives."""
        users = interactions.user_ids.astype(np.int64)
        positive = self._scores(users, interactions.item_ids.astype(np.int64))
        draws = self._engine_negatives()
        negatives = rng.integers(0, self._num_items, (draws, len(users)))
        negative = np.stack([self._scores(users, row) for row in negatives])
        if self.loss == "adaptive_hinge":
            return losses.adaptive_hinge_loss(positive, negative)
        function = {"pointwise": losses.pointwise_loss, "bpr": losses.bpr_loss,
                    "hinge": losses.hinge_loss}[self.loss]
        return function(positive, negative[0])
