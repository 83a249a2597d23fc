"""What the implicit and explicit factorization models share: arguments, the engine,
fitting and prediction.

A model is a thin front of Spotlight's API over a ``hybridrec.LightFM`` engine with the
representation's feature matrices (``BilinearNet``). The mapping of Spotlight's
arguments onto the engine (chosen and measured on MovieLens 100K, see the README's
"Migrating from Spotlight"):

* the optimiser: Spotlight's default is Adam on minibatches; the engine is per-example
  Hogwild SGD with adagrad, whose initial learning rate is ``learning_rate`` times a
  factor per loss (``LEARNING_RATE_SCALES`` in ``implicit.py`` / ``explicit.py``) measured
  at Spotlight's tested settings;
* ``l2``: the same objective, mean loss + ``l2 / 2 * ||params||^2``, i.e. the engine's
  ``user_alpha = item_alpha = l2`` (per-example decay of every parameter);
* with ``BloomEmbedding`` layers that rate is divided by ``num_hash_functions`` (an id
  sums that many rows, each stepped by adagrad; see ``engine_learning_rate``);
* ``batch_size`` does not change anything (there are no minibatches); it is validated;
* initialisation: Spotlight's (embeddings normal with standard deviation
  ``1 / embedding_dim``, biases zero), drawn from the engine's generator.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from ..._validation import check_int, is_integer, is_real
from ...model import LightFM
from .._compat import SPARSE_REASON, warn_no_effect
from ..interactions import Interactions
from .representations import BilinearNet

_NOT_FITTED = ("This model is not fitted yet: call fit(interactions) before predict "
               "(Spotlight initialises the model at the first fit).")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function, as float32."""
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))),
                    np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x)))).astype(np.float32)




def _check_real(value: object, name: str, positive: bool) -> None:
    if not is_real(value) \
            or not np.isfinite(value) or (value <= 0 if positive else value < 0):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, "
                         f"got {value!r}.")


def _ids(values: object, name: str) -> np.ndarray:
    """A 1-d int64 array of ids from an int, numpy integer or array-like."""
    if isinstance(values, (bool, np.bool_)):
        raise ValueError(f"{name} must be integer ids, got a boolean.")
    array = np.asarray(values)
    if array.ndim > 1:
        raise ValueError(f"{name} must be an integer or a 1-d array of them, got shape "
                         f"{array.shape}.")
    if array.dtype.kind == "f" and array.size and np.array_equal(array, np.floor(array)):
        array = array.astype(np.int64)
    if array.size and array.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer ids, got dtype {array.dtype}.")
    return array.reshape(-1).astype(np.int64)


class FactorizationModel:
    """Base of :class:`ImplicitFactorizationModel` and :class:`ExplicitFactorizationModel`.

    Subclasses set ``LOSSES`` (Spotlight's names), ``LEARNING_RATE_SCALES`` (per loss)
    and implement ``_engine_loss``, ``_training_values``, ``_transform`` and
    ``_epoch_loss``.
    """

    LOSSES: tuple[str, ...] = ()
    LEARNING_RATE_SCALES: dict[str, float] = {}

    # -------------------------------------------------------------- arguments
    def _validate(self) -> None:
        if self.loss not in self.LOSSES:
            raise ValueError(f"loss must be one of {self.LOSSES}, got {self.loss!r}.")
        check_int(self.embedding_dim, "embedding_dim", 1)
        check_int(self.n_iter, "n_iter", 0)
        check_int(self.batch_size, "batch_size", 1)
        _check_real(self.l2, "l2", positive=False)
        _check_real(self.learning_rate, "learning_rate", positive=True)
        check_int(self.num_threads, "num_threads", 1)
        if self.use_cuda:
            raise ValueError(
                "use_cuda=True: hybridrec has no GPU path; it trains on the CPU with numba "
                "kernels (lock-free parallel SGD, see num_threads). Use use_cuda=False."
            )
        if self.optimizer_func is not None:
            raise ValueError(
                "optimizer_func takes a PyTorch optimizer factory, which hybridrec cannot use: "
                "it trains with per-example adagrad whose step is set by learning_rate and "
                "whose L2 penalty is l2. Remove optimizer_func and pass learning_rate / l2."
            )
        if self.representation is not None and not isinstance(self.representation, BilinearNet):
            raise ValueError(
                "representation must be a hybridrec.spotlight.factorization.representations."
                f"BilinearNet, got {type(self.representation).__name__}: hybridrec has no "
                "PyTorch modules; a BilinearNet takes BloomEmbedding / ScaledEmbedding layers."
            )
        rs = self.random_state
        if not (rs is None or isinstance(rs, (np.random.RandomState, np.random.Generator))
                or (is_integer(rs) and rs >= 0)):
            raise ValueError("random_state must be None, a numpy.random.RandomState, a "
                             f"Generator or a non-negative int, got {rs!r}.")

    def _warn_pytorch_only(self) -> None:
        """Warn about accepted arguments that change nothing (at construction)."""
        if self.sparse:
            warn_no_effect("sparse=True", SPARSE_REASON, stacklevel=4)

    def _init_state(self) -> None:
        # Spotlight's names: set at the first fit.
        self._num_users: int | None = None
        self._num_items: int | None = None
        self._net: BilinearNet | None = None

    @property
    def _initialized(self) -> bool:
        return self._net is not None

    def __repr__(self) -> str:
        net = "[uninitialised]" if self._net is None else repr(self._net)
        return f"<{type(self).__name__}: {net}>"

    # -------------------------------------------------------------- subclass hooks
    def _engine_loss(self) -> str:
        raise NotImplementedError

    def _engine_negatives(self) -> int:
        return 1

    def _training_values(self, interactions: Interactions) -> np.ndarray:
        raise NotImplementedError

    def _transform(self, scores: np.ndarray) -> np.ndarray:
        return scores

    def _epoch_loss(self, interactions: Interactions, values: np.ndarray,
                    rng: np.random.Generator) -> float:
        raise NotImplementedError

    # -------------------------------------------------------------- fitting
    def _initialize(self, interactions: Interactions) -> None:
        net = self.representation
        if net is None:
            net = BilinearNet(interactions.num_users, interactions.num_items,
                              self.embedding_dim)
        for side, needed in (("user", interactions.num_users), ("item", interactions.num_items)):
            available = getattr(net, f"num_{side}s")
            if needed > available:
                raise ValueError(f"representation has {available} {side}s but the interactions "
                                 f"have num_{side}s={needed}.")
        if net.engine is not None:
            raise ValueError("representation already belongs to another fitted model; build a "
                             "new BilinearNet for a new model.")
        engine = LightFM(no_components=net.dimension, loss=self._engine_loss(),
                         learning_schedule="adagrad",
                         learning_rate=self.engine_learning_rate(net),
                         item_alpha=float(self.l2), user_alpha=float(self.l2),
                         random_state=self.random_state,
                         num_negative_samples=self._engine_negatives())
        # Create the engine's parameter arrays (no training) for every id of the net's
        # layers, then give them Spotlight's initial values from the engine's generator.
        empty = sp.coo_matrix((net.user_embeddings.num_embeddings,
                               net.item_embeddings.num_embeddings), dtype=np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "no stored entries": on purpose
            engine.fit_partial(empty, user_features=net.features("user"),
                               item_features=net.features("item"), epochs=0)
        rng = engine.random_state_
        engine.user_embeddings[:] = net.user_embeddings.initial_weights(rng)
        engine.item_embeddings[:] = net.item_embeddings.initial_weights(rng)
        net.bind(engine)
        self._num_users, self._num_items = interactions.num_users, interactions.num_items
        self._net = net

    def engine_learning_rate(self, net: BilinearNet | None = None) -> float:
        """The engine's adagrad learning rate: ``learning_rate`` times the loss's factor,
        divided by the number of table rows summed into an id (``net.rows_per_id``).

        Adagrad steps every row of an example by about the learning rate, so an id made
        of ``h`` hashed rows (``BloomEmbedding``) would move ``h`` times as fast as a
        plain embedding; the division keeps the per-id step of a plain embedding.
        """
        rows = 1 if net is None else net.rows_per_id
        return float(self.learning_rate) * self.LEARNING_RATE_SCALES[self.loss] / rows

    def _check_input(self, user_ids: object, item_ids: object,
                     allow_items_none: bool = False) -> None:
        """Spotlight's check: ids must be within the model's users and items."""
        for name, ids, count in (("user", user_ids, self._num_users),
                                 ("item", item_ids, self._num_items)):
            if ids is None and name == "item" and allow_items_none:
                continue
            array = _ids(ids, f"{name}_ids")
            if array.size == 0:
                continue
            if array.min() < 0:
                raise ValueError(f"{name} ids must be >= 0, got {array.min()}.")
            if array.max() >= count:
                raise ValueError(
                    f"Maximum {name} id greater than number of {name}s in model: got id "
                    f"{array.max()}, the model was fitted with {count} {name}s (ids 0 .. "
                    f"{count - 1})."
                )

    def fit(self, interactions: Interactions, verbose: bool = False) -> FactorizationModel:
        """Fit the model for ``n_iter`` epochs.

        The first call initialises the model from ``interactions.num_users`` /
        ``num_items``; later calls resume training from where the previous one stopped
        (parameters, optimiser state and random stream), as Spotlight's do.

        Parameters
        ----------
        interactions : Interactions
            Every interaction is one training example (duplicates included); its
            ``weights``, if any, scale its update.
        verbose : bool, default False
            Print ``Epoch {n}: loss {value}`` after each epoch (the training loss at the
            end of the epoch; see ``_epoch_loss``).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Invalid arguments, ids beyond the fitted model's users or items, or a
            diverging fit (the parameters are restored to the last good epoch).
        """
        self._validate()
        if not isinstance(interactions, Interactions):
            raise ValueError("interactions must be a hybridrec.spotlight.interactions."
                             f"Interactions, got {type(interactions).__name__}.")
        interactions.check()
        if len(interactions) == 0:
            raise ValueError("interactions is empty: nothing to fit.")
        values = self._training_values(interactions)
        if not self._initialized:
            self._initialize(interactions)
        self._check_input(interactions.user_ids, interactions.item_ids)
        shape = (self._num_users, self._num_items)
        matrix = sp.coo_matrix((values, (interactions.user_ids, interactions.item_ids)),
                               shape=shape)
        weights = None
        if interactions.weights is not None:
            if (interactions.weights < 0).any():
                raise ValueError("interactions.weights must be >= 0.")
            weights = sp.coo_matrix((interactions.weights,
                                     (interactions.user_ids, interactions.item_ids)), shape=shape)
        engine = self._net.engine
        arguments = dict(user_features=self._net.features("user"),
                         item_features=self._net.features("item"), sample_weight=weights,
                         num_threads=int(self.num_threads))
        if not verbose:
            engine.fit_partial(matrix, epochs=int(self.n_iter), **arguments)
            return self
        # A stream of its own for the loss estimate, so verbose=True trains identically.
        loss_rng = np.random.default_rng(0)
        for epoch in range(int(self.n_iter)):
            engine.fit_partial(matrix, epochs=1, **arguments)
            loss = self._epoch_loss(interactions, values, loss_rng)
            print(f"Epoch {epoch}: loss {loss}")
        return self

    # -------------------------------------------------------------- prediction
    def _scores(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """Raw scores of the pairs (no output transform)."""
        return self._net.engine.predict(user_ids.astype(np.int32), item_ids.astype(np.int32),
                                        item_features=self._net.features("item"),
                                        user_features=self._net.features("user"),
                                        num_threads=int(self.num_threads))

    def predict(self, user_ids: object, item_ids: object = None) -> np.ndarray:
        """Scores for a user over items, or for (user, item) pairs.

        Parameters
        ----------
        user_ids : int or array of int
            One user id: scores of that user for ``item_ids``. An array: scores of the
            pairs ``(user_ids[k], item_ids[k])`` (a length-1 array is repeated).
        item_ids : array of int, optional
            Default: every item, ``0 .. num_items - 1``.

        Returns
        -------
        numpy.ndarray of float32, shape (n,)
            Scores (explicit models: the predicted rating, Poisson rate or probability).

        Raises
        ------
        ValueError
            Before the first fit, for ids beyond the fitted users / items, or for arrays
            of different lengths.
        """
        if not self._initialized:
            raise ValueError(_NOT_FITTED)
        self._check_input(user_ids, item_ids, allow_items_none=True)
        items = (np.arange(self._num_items, dtype=np.int64) if item_ids is None
                 else _ids(item_ids, "item_ids"))
        users = _ids(user_ids, "user_ids")
        if users.shape[0] == 1 and items.shape[0] != 1:
            users = np.repeat(users, items.shape[0])
        if users.shape[0] != items.shape[0]:
            raise ValueError(f"Expected as many user ids ({users.shape[0]}) as item ids "
                             f"({items.shape[0]}), or a single user id.")
        if users.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        return self._transform(self._scores(users, items))
