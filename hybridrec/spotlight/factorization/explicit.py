"""Spotlight's ``spotlight.factorization.explicit``: matrix factorization for explicit
feedback (ratings) on hybridrec's LightFM engine."""

from __future__ import annotations

import numpy as np

from .. import losses
from ..interactions import Interactions
from ._base import FactorizationModel, sigmoid

__all__ = ["ExplicitFactorizationModel"]


class ExplicitFactorizationModel(FactorizationModel):
    """An explicit feedback matrix factorization model.

    The score of a pair is the dot product of the user and item vectors plus both biases
    (a :class:`~hybridrec.spotlight.factorization.representations.BilinearNet`); it is
    fitted to the interactions' ratings.

    Parameters
    ----------
    loss : {'regression', 'poisson', 'logistic'}, default 'regression'
        ``regression``: squared error, ``predict`` returns the rating estimate;
        ``poisson``: Poisson likelihood of the ratings (counts, >= 0) with a log link,
        ``predict`` returns the rate ``exp(score)``; ``logistic``: ratings are labels,
        positive (> 0) or not (Spotlight's -1 / +1), ``predict`` returns the
        probability ``sigmoid(score)``.
    embedding_dim, n_iter, batch_size, l2, optimizer_func, use_cuda, representation,
    sparse, random_state, num_threads
        As in :class:`~hybridrec.spotlight.factorization.implicit.ImplicitFactorizationModel`.
    learning_rate : float, default 1e-2
        Spotlight's (Adam) learning rate; the engine's adagrad starts at
        ``LEARNING_RATE_SCALES[loss]`` (20) times it (Spotlight tests its explicit models at
        10x smaller rates than its implicit ones; 20 brings those to the adagrad rates that
        fit best).
    """

    LOSSES = ("regression", "poisson", "logistic")
    #: adagrad's initial learning rate = LEARNING_RATE_SCALES[loss] x learning_rate,
    #: measured on MovieLens 100K (README, "Migrating from Spotlight").
    LEARNING_RATE_SCALES = {"regression": 20.0, "poisson": 20.0, "logistic": 20.0}

    def __init__(self, loss: str = "regression", embedding_dim: int = 32, n_iter: int = 10,
                 batch_size: int = 256, l2: float = 0.0, learning_rate: float = 1e-2,
                 optimizer_func: object = None, use_cuda: bool = False,
                 representation: object = None, sparse: bool = False,
                 random_state: object = None, num_threads: int = 1) -> None:
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
        self.num_threads = num_threads
        self._validate()
        self._warn_pytorch_only()
        self._init_state()

    def _engine_loss(self) -> str:
        return self.loss

    def _training_values(self, interactions: Interactions) -> np.ndarray:
        if interactions.ratings is None:
            raise ValueError("ExplicitFactorizationModel needs interactions.ratings (the "
                             "targets); these interactions have none.")
        if self.loss == "poisson" and (interactions.ratings < 0).any():
            raise ValueError("loss='poisson' needs ratings >= 0 (counts); got "
                             f"{interactions.ratings.min()}.")
        return interactions.ratings

    def _transform(self, scores: np.ndarray) -> np.ndarray:
        # The engine returns exp(score) for poisson already.
        return sigmoid(scores) if self.loss == "logistic" else scores

    def _epoch_loss(self, interactions: Interactions, values: np.ndarray,
                    rng: np.random.Generator) -> float:
        """Spotlight's loss on the training ratings."""
        scores = self._scores(interactions.user_ids.astype(np.int64),
                              interactions.item_ids.astype(np.int64))
        if self.loss == "regression":
            return losses.regression_loss(values, scores)
        if self.loss == "poisson":
            return losses.poisson_loss(values, scores)
        return losses.logistic_loss(values, scores)
