"""``hybridrec.LightFM``: a drop-in for ``lightfm.LightFM`` 1.17 on numba Hogwild kernels.

The estimator owns the parameters, validation and the epoch loop; the arithmetic lives in
``hybridrec.kernels`` and is chosen with a plain ``if`` on the loss name.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import numbers
import time
import types
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import numba
import numpy as np
import scipy.sparse as sp

from . import _config
from ._early_stopping import EarlyStopping, ValidationTracker
from ._epochs import epoch_chunks
from ._guard import current_view, published_before_update, reading, writing
from ._params import InvalidParameterError, ParamsMixin
from ._scoring import check_identity_shape, prepare_test_train, rank_items
from ._threads import check_num_threads, numba_threads
from ._validation import (
    KernelFeatures,
    KernelInteractions,
    as_features,
    as_id_array,
    as_interactions,
    as_row_mask,
    csr_kernel_arrays,
    identity_features,
    is_integer,
    is_real,
)
from .kernels import epoch_inputs, losses, scoring, state, updates

__all__ = ["LightFM"]

_DIVERGED = (
    "Not all estimated parameters are finite, your model may have diverged. Try decreasing "
    "the learning rate or normalising feature values and sample weights"
)
_NOT_FITTED = "You must fit the model before trying to obtain predictions."
#: Pending L2 log-decay below which the rescaling of all parameters is postponed.
_DECAY_BATCH = 1e-3

#: Arrays smaller than this (elements) are copied / checked by NumPy on one core: a
#: parallel launch costs tens of microseconds, and on a loaded machine it waits until
#: every thread is scheduled.
_PARALLEL_PASS_MIN = 2**18

_PARAMETER_ARRAYS = (
    "embeddings", "embedding_gradients", "embedding_momentum",
    "biases", "bias_gradients", "bias_momentum",
)
_SIDES = ("user", "item")


def _every_row() -> np.ndarray:
    """The kernels' trainable mask meaning "every row trains" (an empty uint8 array)."""
    return np.zeros(0, dtype=np.uint8)


@dataclass
class ModelState:
    """A copy of a model's trainable state: the twelve parameter / accumulator arrays
    (keyed by attribute name, e.g. ``"item_embeddings"``) and the generator state
    (``None`` before the first fit). Made by ``LightFM._snapshot`` and put back by
    ``LightFM._restore_snapshot``; the arrays belong to the snapshot (never shared with
    the model), so one snapshot can be restored any number of times."""

    arrays: dict[str, np.ndarray]
    generator_state: dict | None

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return int(sum(array.nbytes for array in self.arrays.values()))


def _reads(method: Callable) -> Callable:
    """Run ``method`` as a read of ``self``: beside another thread's fit it reads the state
    from before that fit (``hybridrec._guard.reading``)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with reading(self, f"{type(self).__name__}.{method.__name__}",
                     lambda: ValueError(_NOT_FITTED)):
            return method(self, *args, **kwargs)
    return wrapper


def _writes(method: Callable) -> Callable:
    """Run ``method`` as a fit of ``self`` (``hybridrec._guard.writing``): other threads'
    reads meanwhile see a copy of the state from before it."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with writing(self, f"{type(self).__name__}.{method.__name__}",
                     self._published_copy):
            return method(self, *args, **kwargs)
    return wrapper


def _make_generator(random_state: Any) -> np.random.Generator:
    """A numpy Generator from ``random_state`` (None, int, Generator or RandomState)."""
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    return np.random.default_rng(int(random_state))


class LightFM(ParamsMixin):
    """A hybrid latent representation recommender model (LightFM's model family).

    Users and items are represented by the sums of the embeddings (and biases) of their
    features; the score of a (user, item) pair is the dot product of the two
    representations plus both biases. Without feature matrices every user and item is
    its own single feature (the identity matrix), which is plain matrix factorisation.

    Training is lock-free ("Hogwild") parallel SGD written as numba kernels.
    ``num_threads=1`` with a fixed ``random_state`` is bit-for-bit reproducible; with
    more threads results vary slightly from run to run.

    Thread safety: ``predict``, ``predict_rank`` and ``get_*_representations`` may be
    called from several Python threads at once. While one thread fits the model, those
    calls from other threads (and a second fit) raise ``RuntimeError``; to retrain while
    serving, fit a new model and swap it in. A call that raises for a bad input changes
    nothing; a diverging ``fit_partial`` epoch is rolled back before the error.

    Parameters
    ----------
    no_components : int, default 10
        Dimensionality of the feature embeddings.
    k : int, default 5
        For WARP-kOS: the k-th positive of the ``n`` sampled is used.
    n : int, default 10
        For WARP-kOS: number of positives sampled per update.
    learning_schedule : {'adagrad', 'adadelta'}, default 'adagrad'
    loss : str, default 'logistic'
        One of ``'logistic'``, ``'bpr'``, ``'warp'``, ``'warp-kos'``, ``'regression'``,
        ``'poisson'``, ``'pointwise'``, ``'hinge'``, ``'adaptive_hinge'``,
        ``'bpr-uniform'``.
        ``logistic`` treats stored values > 0 as positives and the rest as negatives;
        ``bpr``, ``warp`` and ``warp-kos`` learn rankings from the positives only
        (sample weights scale every update, also for ``warp-kos``, which LightFM
        refuses). Stored values <= 0 (explicit negatives) differ by loss: ``bpr`` draws
        its negative as LightFM does, as the item of a random stored interaction (any
        value), redrawn while it is any stored entry of the user, so explicit negatives
        are never its negatives; ``warp`` and ``warp-kos`` treat only values > 0 as the
        user's positives, so explicit negatives may be the violators they push down
        (README, migration table). Explicit feedback, every stored value being a target
        (e.g. a rating):
        ``regression`` minimises the squared error and ``predict`` returns the rating
        estimate ``user_repr . item_repr + user_bias + item_bias``; ``poisson`` minimises
        the Poisson negative log-likelihood of the values (counts, ``>= 0``) with a log
        link and ``predict`` returns the rate ``exp(score)`` (rankings are unchanged,
        the map being monotone). Biases matter for both: a rating scale needs them.
        Spotlight's implicit losses, from the positives with ``num_negative_samples``
        negatives drawn uniformly from the items per positive: ``pointwise`` (logistic
        log-loss, label 1 on the positive, 0 on each negative, the negatives' terms
        averaged), ``hinge`` (margin 1, averaged over the negatives) and
        ``adaptive_hinge`` (margin 1 against the highest-scoring negative only), and
        ``bpr-uniform``: ``bpr`` with Spotlight's negatives (uniform over the items,
        redrawn while a positive of the user) instead of LightFM's.
    learning_rate : float, default 0.05
        Initial learning rate of adagrad (unused by adadelta).
    rho : float, default 0.95
        Adadelta's decay, ``0 < rho < 1``.
    epsilon : float, default 1e-6
        Adadelta's conditioning constant, ``>= 0``.
    item_alpha, user_alpha : float, default 0.0
        L2 penalty on item / user feature embeddings and biases.
    max_sampled : int, default 10
        Maximum number of negatives WARP draws per positive.
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None
        Seed or generator. Stored unmodified; the generator actually used is created at
        the start of ``fit`` (so ``fit`` twice with an int seed gives identical models)
        and kept as ``random_state_`` for ``fit_partial`` calls.
    num_negative_samples : int, default 1
        Not a LightFM parameter. Negatives sampled per positive by ``pointwise``,
        ``hinge``, ``adaptive_hinge``, ``bpr`` and ``bpr-uniform``. With ``bpr`` and more
        than one, the loss is the average of the pairs' BPR losses (one step per
        negative, each of weight ``1 / num_negative_samples``, negatives drawn from the
        empirical item distribution as with one; ``bpr-uniform`` likewise, uniformly);
        with 1, ``bpr`` is exactly LightFM's.
    negative_mixing : float, default 0.0
        Not a LightFM parameter. Negative feedback: for ``bpr``, ``warp``, ``warp-kos``,
        ``pointwise``, ``hinge`` and ``adaptive_hinge``, the probability
        (``0 <= p <= 1``) that a sampled negative is drawn uniformly from the user's
        explicit negatives (stored values < 0, e.g. dislikes as -1) instead of the usual
        distribution, for users that have any. For ``warp`` and ``warp-kos`` this
        applies to every draw of the search for a margin violator; draws from the
        explicit negatives count towards ``max_sampled`` and the rank estimate like
        uniform draws (so a violated dislike found at the first draw gets the largest
        weight; see ``hybridrec.kernels.losses.fit_warp``). A positive of the user is
        never used as a negative, even if it is also stored with a value < 0 (such a
        pair is left out of the explicit negatives). 0 keeps
        the usual sampling (and LightFM's BPR and WARP, bit for bit).

    Attributes
    ----------
    item_embeddings : float32 array (n_item_features, no_components)
    item_embedding_gradients, item_embedding_momentum : float32 arrays, same shape
        Adagrad / adadelta accumulators.
    item_biases : float32 array (n_item_features,)
    item_bias_gradients, item_bias_momentum : float32 arrays, same shape
    user_embeddings, user_embedding_gradients, user_embedding_momentum,
    user_biases, user_bias_gradients, user_bias_momentum
        The same for users. All are ``None`` until the model is fitted.
    """

    # The parameter arrays are assigned with setattr (``_reset_state``, ``_initialize``):
    # None before the first fit, float32 arrays after it.
    item_embeddings: np.ndarray | None
    user_embeddings: np.ndarray | None

    def __init__(
        self,
        no_components: int = 10,
        k: int = 5,
        n: int = 10,
        learning_schedule: str = "adagrad",
        loss: str = "logistic",
        learning_rate: float = 0.05,
        rho: float = 0.95,
        epsilon: float = 1e-6,
        item_alpha: float = 0.0,
        user_alpha: float = 0.0,
        max_sampled: int = 10,
        random_state: object = None,
        num_negative_samples: int = 1,
        negative_mixing: float = 0.0,
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
        self.random_state = random_state
        self.num_negative_samples = num_negative_samples
        self.negative_mixing = negative_mixing
        # Fail fast, as LightFM does, but without converting anything (sklearn's rule).
        self._validate_params()
        self._reset_state()

    # ------------------------------------------------------------------ parameters
    def _validate_params(self) -> None:
        def integer(name: str, minimum: int) -> None:
            value = getattr(self, name)
            if not is_integer(value):
                raise InvalidParameterError(f"{name} must be an integer, got {value!r}.")
            if value < minimum:
                raise InvalidParameterError(f"{name} must be >= {minimum}, got {value}.")

        def real(name: str, low: float, low_inclusive: bool, high: float | None = None) -> None:
            value = getattr(self, name)
            if not is_real(value):
                raise InvalidParameterError(f"{name} must be a number, got {value!r}.")
            if not np.isfinite(value):
                raise InvalidParameterError(f"{name} must be finite, got {value}.")
            too_low = value < low if low_inclusive else value <= low
            too_high = high is not None and value >= high
            if too_low or too_high:
                bound = (">= " if low_inclusive else "> ") + str(low)
                if high is not None:
                    bound += f" and < {high}"
                raise InvalidParameterError(f"{name} must be {bound}, got {value}.")

        if self.loss not in _config.LOSSES:
            raise InvalidParameterError(f"loss must be one of {_config.LOSSES}, got {self.loss!r}.")
        if self.learning_schedule not in _config.SCHEDULES:
            raise InvalidParameterError(
                f"learning_schedule must be one of {_config.SCHEDULES}, "
                f"got {self.learning_schedule!r}."
            )
        integer("no_components", 1)
        integer("num_negative_samples", 1)
        real("negative_mixing", 0.0, True)
        if self.negative_mixing > 1.0:
            raise InvalidParameterError(
                f"negative_mixing must be <= 1, got {self.negative_mixing}.")
        if self.negative_mixing > 0.0 and self.loss not in _config.MIXING_LOSSES:
            raise InvalidParameterError(
                f"negative_mixing > 0 needs loss in {_config.MIXING_LOSSES}, got "
                f"loss={self.loss!r}."
            )
        integer("k", 1)
        integer("n", 1)
        if self.k > self.n:
            raise InvalidParameterError(
                f"k must be <= n (the k-th of n sampled positives is used), got k={self.k}, "
                f"n={self.n}."
            )
        if (not is_integer(self.max_sampled) or self.max_sampled < 1):
            raise InvalidParameterError(
                f"max_sampled must be a positive integer, got {self.max_sampled!r}."
            )
        real("learning_rate", 0.0, False)
        real("rho", 0.0, False, 1.0)
        real("epsilon", 0.0, True)
        real("item_alpha", 0.0, True)
        real("user_alpha", 0.0, True)
        rs: Any = self.random_state
        valid_seed = (is_integer(rs)
                      and 0 <= rs < 2**63)
        if not (rs is None or valid_seed
                or isinstance(rs, (np.random.Generator, np.random.RandomState))):
            raise InvalidParameterError(
                "random_state must be None, a non-negative int, a numpy.random.Generator or a "
                f"numpy.random.RandomState, got {rs!r}."
            )

    # ------------------------------------------------------------------ state
    def _reset_state(self) -> None:
        for side in ("item", "user"):
            for suffix in _PARAMETER_ARRAYS:
                setattr(self, f"{side}_{suffix}", None)
        self.random_state_: np.random.Generator | None = None
        #: One dict per epoch of the latest fit / fit_partial call (see ``fit``).
        self.history_: list[dict] = []
        #: The epoch of that call whose state the model holds (0 if the call ran none,
        #: None before any fit).
        self.best_epoch_: int | None = None

    def __sklearn_is_fitted__(self) -> bool:
        return self.item_embeddings is not None

    def _check_initialized(self) -> None:
        if self._array("item_embeddings") is None or self._array("user_embeddings") is None:
            raise ValueError(_NOT_FITTED)

    def _initialize(self, n_item_features: int, n_user_features: int) -> None:
        # Items are drawn first, as in LightFM.
        for side, rows in (("item", n_item_features), ("user", n_user_features)):
            for suffix, array in self._fresh_rows(rows).items():
                setattr(self, f"{side}_{suffix}", array)

    def _fresh_rows(self, rows: int) -> dict[str, np.ndarray]:
        """Newly initialised parameters for ``rows`` feature rows, keyed by suffix of
        ``_PARAMETER_ARRAYS``: embeddings U[-0.5, 0.5) / d drawn from ``random_state_``
        (LightFM's initialisation), zero biases, accumulators at the schedule's start
        (1 for adagrad, 0 for adadelta) and zero momentum."""
        d = self.no_components
        assert self.random_state_ is not None  # created before any parameter is
        embeddings = ((self.random_state_.random((rows, d), dtype=np.float32)
                       - np.float32(0.5)) / np.float32(d))
        accumulator = np.ones if self.learning_schedule == "adagrad" else np.zeros
        return {
            "embeddings": np.ascontiguousarray(embeddings),
            "embedding_gradients": accumulator((rows, d), np.float32),
            "embedding_momentum": np.zeros((rows, d), np.float32),
            "biases": np.zeros(rows, dtype=np.float32),
            "bias_gradients": accumulator(rows, np.float32),
            "bias_momentum": np.zeros(rows, np.float32),
        }

    @_writes
    def _insert_rows(self, side: str, position: int | None, count: int) -> np.ndarray:
        """Insert ``count`` freshly initialised feature rows into one side's parameters.

        The rows get ``_initialize``'s values (embeddings drawn from ``random_state_``,
        which is created from ``random_state`` first if missing; zero biases; the
        schedule's starting accumulators; zero momentum). The rows at ``position`` and
        after move down by ``count``. Each of the side's six arrays is replaced by a new
        array (never resized in place), so a reader holding the old arrays keeps valid
        ones; the other side is untouched.

        Parameters
        ----------
        side : {'user', 'item'}
        position : int or None
            Index the first new row gets, ``0 <= position <= n_rows``; ``None`` appends.
        count : int
            Number of rows, ``>= 0`` (0 changes nothing and draws nothing).

        Returns
        -------
        numpy.ndarray of int32
            The new rows' indices, ``position .. position + count - 1``.

        Raises
        ------
        ValueError
            An unfitted model, an unknown side, or a position or count out of range.
        """
        self._check_initialized()
        if side not in _SIDES:
            raise ValueError(f"side must be 'user' or 'item', got {side!r}.")
        n_rows = self._embedding_rows(side)
        assert n_rows is not None  # _check_initialized() above
        if position is None:
            position = n_rows
        elif (not is_integer(position)):
            raise ValueError(f"position must be an integer or None, got {position!r}.")
        elif not 0 <= position <= n_rows:
            raise ValueError(
                f"position must be in 0..{n_rows} (the model has {n_rows} {side} feature "
                f"rows; {n_rows} or None appends), got {position}."
            )
        if (not is_integer(count)
                or count < 0):
            raise ValueError(f"count must be a non-negative integer, got {count!r}.")
        position, count = int(position), int(count)
        if count:
            if self.random_state_ is None:
                self.random_state_ = _make_generator(self.random_state)
            for suffix, fresh in self._fresh_rows(count).items():
                name = f"{side}_{suffix}"
                current = getattr(self, name)
                grown = np.empty((n_rows + count, *current.shape[1:]), dtype=current.dtype)
                grown[:position] = current[:position]
                grown[position:position + count] = fresh
                grown[position + count:] = current[position:]
                setattr(self, name, grown)
        return np.arange(position, position + count, dtype=_config.INDEX)

    def _side_arrays(self, side: str) -> list[np.ndarray]:
        return [getattr(self, f"{side}_{suffix}") for suffix in _PARAMETER_ARRAYS]

    def _state_names(self) -> list[str]:
        return [f"{side}_{suffix}" for side in ("item", "user") for suffix in _PARAMETER_ARRAYS]

    def _snapshot(self, into: ModelState | None = None) -> ModelState:
        """Copy the parameters, accumulators and generator state (see ``ModelState``).

        ``into`` (a snapshot of arrays of the same shapes) is refilled in place instead
        of allocating new arrays (the per-epoch rollback copy reuses its buffers).
        """
        self._check_initialized()
        # Read through this thread's view: a save beside another thread's fit copies the
        # state from before that fit.
        generator = self._array("random_state_")
        generator_state = None if generator is None else generator.bit_generator.state
        arrays = {name: self._array(name) for name in self._state_names()}
        if into is None or any(into.arrays.get(name) is None
                               or into.arrays[name].shape != array.shape
                               for name, array in arrays.items()):
            return ModelState({name: array.copy() for name, array in arrays.items()},
                              generator_state)
        for name, array in arrays.items():
            np.copyto(into.arrays[name], array)
        into.generator_state = generator_state
        return into

    def _load_state(self, state: ModelState) -> None:
        """Take the arrays and generator state of a saved model, after checking them.

        Raises
        ------
        ValueError
            A missing or non-float32 array, shapes that do not fit ``no_components`` or
            each other, non-finite parameters or accumulators, or an invalid
            generator state. Nothing is changed then.
        """
        arrays = {}
        for name in self._state_names():
            array = state.arrays.get(name)
            if array is None or array.dtype != np.float32:
                raise ValueError(f"lacks a float32 array {name!r}.")
            arrays[name] = np.ascontiguousarray(array)
        for side in ("item", "user"):
            n, d = arrays[f"{side}_embeddings"].shape
            if d != self.no_components:
                raise ValueError(f"{side}_embeddings has {d} columns but no_components is "
                                 f"{self.no_components}.")
            for suffix in _PARAMETER_ARRAYS:
                expected = (n, d) if suffix.startswith("embedding") else (n,)
                if arrays[f"{side}_{suffix}"].shape != expected:
                    raise ValueError(f"{side}_{suffix} has shape "
                                     f"{arrays[f'{side}_{suffix}'].shape}, expected {expected}.")
        generator = None
        if state.generator_state is not None:
            generator = np.random.default_rng()
            try:
                generator.bit_generator.state = state.generator_state
            except (TypeError, ValueError, KeyError) as error:
                raise ValueError(f"has an invalid generator state: {error}") from None
        previous = {name: getattr(self, name) for name in self._state_names()}
        for name, array in arrays.items():
            setattr(self, name, array)
        if not self._is_healthy():
            for name, array in previous.items():
                setattr(self, name, array)
            raise ValueError("holds non-finite parameters (NaN or inf embeddings or biases, "
                             "or accumulators); such a model cannot predict.")
        self.random_state_ = generator

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """Run the block as a read of this model (beside another thread's fit: of the
        state from before it)."""
        with reading(self, what, lambda: ValueError(_NOT_FITTED)):
            yield

    def _array(self, name: str) -> Any:
        """An attribute as this thread's read sees it (``hybridrec._guard.current_view``):
        the live one, or the copy published by a fit running in another thread."""
        return getattr(current_view(self), name)

    def _published_copy(self) -> types.SimpleNamespace | None:
        """What other threads read while this model is fitted: copies of its arrays and
        generator (None when it is not fitted yet). Costs the state's memory once more
        for the length of the fit (docs/RELIABILITY.md)."""
        if self.item_embeddings is None or self.user_embeddings is None:
            return None
        # Arrays no epoch writes (the momenta under adagrad) are shared, not copied:
        # nothing changes them while the fit runs.
        trained = set(self._trained_names())
        frozen = types.SimpleNamespace(**{
            name: getattr(self, name).copy() if name in trained else getattr(self, name)
            for name in self._state_names()})
        frozen.random_state_ = copy.deepcopy(self.random_state_)
        return frozen

    def _trained_names(self) -> list[str]:
        """The state arrays an epoch may write: all of them under adadelta; under adagrad
        the four momentum arrays are neither read nor written by any kernel, so the
        rollback copy and the finite check after an epoch leave them out."""
        if self.learning_schedule == "adadelta":
            return self._state_names()
        return [name for name in self._state_names() if not name.endswith("momentum")]

    def _rollback_copy(self, into: ModelState | None, num_threads: int) -> ModelState:
        """``_snapshot`` of the arrays an epoch may write (``_trained_names``), copied by
        ``num_threads`` threads; ``into`` (a previous rollback copy) is refilled in place
        when its shapes still fit."""
        names = self._trained_names()
        generator = self.random_state_
        generator_state = None if generator is None else dict(generator.bit_generator.state)
        arrays = {name: getattr(self, name) for name in names}
        if into is None or set(into.arrays) != set(names) or any(
                into.arrays[name].shape != array.shape for name, array in arrays.items()):
            into = ModelState({name: np.empty_like(array) for name, array in arrays.items()},
                              None)
        with numba_threads(num_threads):
            for name, array in arrays.items():
                if array.size < _PARALLEL_PASS_MIN:  # a parallel launch costs more
                    np.copyto(into.arrays[name], array)
                elif array.ndim == 2:
                    state.copy_2d(array, into.arrays[name])
                else:
                    state.copy_1d(array, into.arrays[name])
        into.generator_state = generator_state
        return into

    def _trained_finite(self, num_threads: int) -> bool:
        """``_is_healthy`` for the arrays an epoch may write, checked by ``num_threads``
        threads without temporaries (an epoch is rolled back when this fails)."""
        with numba_threads(num_threads):
            for name in self._trained_names():
                array = getattr(self, name)
                if array.size < _PARALLEL_PASS_MIN:  # a parallel launch costs more
                    finite = bool(np.isfinite(array).all())
                elif array.ndim == 2:
                    finite = state.count_nonfinite_2d(array) == 0
                else:
                    finite = state.count_nonfinite_1d(array) == 0
                if not finite:
                    return False
        return True

    def _restore_snapshot(self, snapshot: ModelState, generator: bool = True) -> None:
        """Put a snapshot's state back: arrays are copied in place where the shapes
        match and replaced by copies otherwise (the model grew since); with
        ``generator`` the generator is rewound to the saved state too (else it goes
        on from where it is, e.g. after early stopping picked an earlier epoch)."""
        for name, saved in snapshot.arrays.items():
            current = getattr(self, name)
            if current is not None and current.shape == saved.shape:
                np.copyto(current, saved)
            else:
                setattr(self, name, saved.copy())
        if not generator:
            return
        if snapshot.generator_state is None:
            self.random_state_ = None
        else:
            if self.random_state_ is None:
                self.random_state_ = np.random.default_rng()
            self.random_state_.bit_generator.state = snapshot.generator_state

    def _is_healthy(self) -> bool:
        """Every parameter and accumulator finite (frozen rows are a kernel mask, so no
        array ever holds an infinity on purpose)."""
        return all(np.isfinite(getattr(self, name)).all() for name in self._state_names())

    def _check_finite(self) -> None:
        if not self._is_healthy():
            raise ValueError(_DIVERGED)

    # ------------------------------------------------------------------ features
    def _embedding_rows(self, side: str) -> int | None:
        embeddings = self._array(f"{side}_embeddings")
        return None if embeddings is None else embeddings.shape[0]

    def _features(self, features: object, side: str, n_rows: int, what: str,
                  fresh: bool = False) -> KernelFeatures:
        """Feature matrix for ``n_rows`` users/items, checked against the model's size.

        ``what`` says where ``n_rows`` comes from, for error messages; ``fresh`` skips
        the size check (``fit`` builds new parameters).
        """
        name = f"{side}_features"
        if features is None:
            matrix = identity_features(n_rows)
        else:
            matrix = as_features(features, name)
            if matrix.n_rows < n_rows:
                raise ValueError(
                    f"Number of {side} feature rows does not equal the number of {side}s: "
                    f"{name} has {matrix.n_rows} rows but {what} needs {n_rows} "
                    f"(one row per {side})."
                )
        embedding_rows = None if fresh else self._embedding_rows(side)
        if embedding_rows is not None and matrix.n_features > embedding_rows:
            detail = (
                f"{what} needs {n_rows} {side}s and no {name} were given, so each {side} is "
                "its own feature"
                if features is None
                else f"{name} has {matrix.n_features} columns"
            )
            raise ValueError(
                f"The {side} feature matrix specifies more features than there are estimated "
                f"feature embeddings: {matrix.n_features} vs {embedding_rows}. ({detail}; the "
                f"model was built with {embedding_rows} {side} features.)"
            )
        return matrix

    # ------------------------------------------------------------------ training
    @_writes
    def fit(self, interactions: sp.spmatrix, user_features: sp.spmatrix | None = None,
            item_features: sp.spmatrix | None = None,
            sample_weight: sp.coo_matrix | None = None, epochs: int = 1,
            num_threads: int = 1, verbose: bool = False, *,
            early_stopping: EarlyStopping | None = None) -> LightFM:
        """Fit the model from scratch (resetting any previous state).

        Parameters
        ----------
        interactions : scipy.sparse matrix, shape (n_users, n_items)
            Every stored entry is a training example (duplicates included). Values > 0
            are positives; for the logistic loss values <= 0 are negatives.
        user_features : scipy.sparse matrix, shape (>= n_users, n_user_features), optional
            Each row holds the weights of a user's features. Default: identity.
        item_features : scipy.sparse matrix, shape (>= n_items, n_item_features), optional
        sample_weight : scipy.sparse.coo_matrix, optional
            Per-interaction weights with exactly the coordinates (and order) of
            ``interactions.tocoo()``. They scale each example's update for every
            loss (``warp-kos`` included, unlike LightFM).
        epochs : int, default 1
        num_threads : int, default 1
            Parallel threads. More than numba was started with
            (``numba.config.NUMBA_NUM_THREADS``, by default the core count) runs with
            that many and warns once.
        verbose : bool, default False
            Show a progress bar over epochs (with the validation metric, if any).
        early_stopping : hybridrec.EarlyStopping, optional
            Not a LightFM argument (keyword only). Validate after every epoch, stop when
            the validation metric has not improved for ``patience`` epochs, and end with
            the best epoch's state; ``epochs`` is then the most epochs run. Default: no
            validation, at no cost.

        Returns
        -------
        LightFM
            ``self``. ``history_`` lists one dict per epoch run in this call (``epoch``,
            ``train_time`` in seconds and, with ``early_stopping``, ``eval_time`` and the
            validation metrics, e.g. ``precision@10``); ``best_epoch_`` is the epoch
            whose state the model holds (the last one without ``early_stopping``).

        Raises
        ------
        ValueError
            Invalid hyper-parameters or inputs, or divergence (non-finite parameters).
            Either way the model keeps the state it had before the call.
        RuntimeError
            Another thread is fitting this model.
        """
        self._validate_params()
        prepared = self._prepare(interactions, user_features, item_features, sample_weight,
                                 epochs, num_threads, fresh=True)
        tracker = self._tracker(early_stopping, prepared, user_features, item_features,
                                num_threads)
        # Every input is valid: only now replace the state. A fit that still fails
        # (divergence, interruption) puts the previous state back, so ``fit`` either
        # succeeds or leaves the model as it was.
        previous = {name: getattr(self, name) for name in self._state_names()}
        previous_generator = self.random_state_
        previous_history = (getattr(self, "history_", []), getattr(self, "best_epoch_", None))
        self._reset_state()
        try:
            self._fit_prepared(prepared, epochs, num_threads, verbose, tracker)
        except BaseException:
            for name, array in previous.items():
                setattr(self, name, array)
            self.random_state_ = previous_generator
            self.history_, self.best_epoch_ = previous_history
            raise
        return self

    @_writes
    def fit_partial(self, interactions: sp.spmatrix, user_features: sp.spmatrix | None = None,
                    item_features: sp.spmatrix | None = None,
                    sample_weight: sp.coo_matrix | None = None, epochs: int = 1,
                    num_threads: int = 1, verbose: bool = False, *,
                    early_stopping: EarlyStopping | None = None) -> LightFM:
        """Fit the model, resuming from its current state (initialising it on first call).

        The matrices may not have more users, items or features than the model was built
        with. Parameters and return value as in ``fit``.

        Every input is validated before anything changes, so a call that raises for a
        bad input leaves the model exactly as it was. If an epoch diverges (non-finite
        parameters) or is interrupted, the parameters, accumulators and generator are
        restored to their state before that epoch (the last good state) and the error
        is raised.

        With ``early_stopping`` the epochs are counted within this call, and the best
        of them (not the state before the call) is kept.
        """
        self._validate_params()
        prepared = self._prepare(interactions, user_features, item_features, sample_weight,
                                 epochs, num_threads, fresh=False)
        tracker = self._tracker(early_stopping, prepared, user_features, item_features,
                                num_threads)
        return self._fit_prepared(prepared, epochs, num_threads, verbose, tracker)

    @_writes
    def _fit_partial_rows(self, interactions: sp.spmatrix,
                          user_features: sp.spmatrix | None = None,
                          item_features: sp.spmatrix | None = None,
                          sample_weight: sp.coo_matrix | None = None, epochs: int = 1,
                          num_threads: int = 1, trainable_user_features: object = None,
                          trainable_item_features: object = None,
                          user_row_parts: object = None,
                          item_row_parts: object = None) -> LightFM:
        """``fit_partial`` with only some feature rows trainable, the others frozen.

        Every example is visited as in ``fit_partial`` (same shuffling, sampling, loss,
        learning schedule and L2), and frozen rows take part in scoring as usual (they
        are read, e.g. drawn as negatives, and enter the gradients of the rows that do
        train); they are just never stepped and never decayed by L2, so their
        embeddings, biases, accumulators and momenta stay bit-identical. The L2 decay of
        an example is derived from the steps it actually takes (an example that steps
        no trainable row adds none). With every row of both sides trainable the result
        is ``fit_partial``'s, float for float.

        Parameters
        ----------
        interactions, user_features, item_features, sample_weight, epochs, num_threads
            As in ``fit_partial``.
        trainable_user_features, trainable_item_features : array-like of int, optional
            Indices of the feature rows (rows of ``user_embeddings`` /
            ``item_embeddings``) whose parameters may change; ``None`` (default): every
            row of that side; an empty sequence: none. With identity features, feature
            row ``r`` is user / item ``r``.
        user_row_parts, item_row_parts : array-like of int, optional
            Instead of ``trainable_<side>_features``: one value per feature row of that
            side saying which of its parameters train: 0 none (frozen), 1 all, 2 only
            the embedding (the bias stays as it is), 3 only the bias (the embedding stays
            as it is). Spotlight's Bloom layers use 2 for the hashed rows and 3 for the
            per-id bias rows.

        Returns
        -------
        LightFM
            ``self``.

        Raises
        ------
        ValueError
            An unfitted model (there are no rows to freeze yet), indices that are not
            integers in ``0 .. n_rows - 1``, any input ``fit_partial`` refuses, or
            divergence (the epoch is rolled back as in ``fit_partial``).
        """
        self._validate_params()
        if self.item_embeddings is None or self.user_embeddings is None:
            raise ValueError(
                "_fit_partial_rows freezes rows of a fitted model, but this model has no "
                "parameters yet: fit it first (or call fit_partial)."
            )
        prepared = self._prepare(interactions, user_features, item_features, sample_weight,
                                 epochs, num_threads, fresh=False)
        trainable = cast(tuple[np.ndarray, np.ndarray], tuple(
            self._row_parts(side, rows, parts)
            for side, rows, parts in (("user", trainable_user_features, user_row_parts),
                                      ("item", trainable_item_features, item_row_parts))))
        return self._fit_prepared(prepared, epochs, num_threads, False, trainable=trainable)

    def _row_parts(self, side: str, rows: Any, parts: Any) -> np.ndarray:
        """The kernels' trainable mask of ``side`` from row indices or per-row parts."""
        n_rows = cast(int, self._embedding_rows(side))
        if parts is None:
            return as_row_mask(rows, n_rows, f"trainable_{side}_features",
                               f"{side} feature rows")
        name = f"{side}_row_parts"
        if rows is not None:
            raise ValueError(f"pass trainable_{side}_features or {name}, not both.")
        array = np.asarray(parts)
        if array.shape != (n_rows,) or array.dtype.kind not in "iu":
            raise ValueError(f"{name} must be a 1-d integer array with one value per {side} "
                             f"feature row ({n_rows}), got shape {array.shape} and dtype "
                             f"{array.dtype}.")
        if array.size and (array.min() < 0 or array.max() > 3):
            raise ValueError(f"{name} values must be 0 (frozen), 1 (trainable), 2 (embedding "
                             f"only) or 3 (bias only), got values from {array.min()} to "
                             f"{array.max()}.")
        if array.size and array.max() >= 2 and self.loss in ("warp", "warp-kos"):
            # Not verified against the reference for the WARP family (its kernel
            # diverged from it in the row-parts test); no caller needs it.
            raise ValueError(f"{name} with values 2 (embedding only) or 3 (bias only) is "
                             f"not supported with loss={self.loss!r}; use 0/1 masks "
                             f"(trainable_{side}_features) or another loss.")
        return array.astype(np.uint8)

    def _prepare(self, interactions: Any, user_features: Any, item_features: Any,
                 sample_weight: Any, epochs: Any, num_threads: Any, fresh: bool
                 ) -> tuple[KernelInteractions, KernelFeatures, KernelFeatures]:
        """Validate and convert every input of ``fit`` / ``fit_partial``; change nothing."""
        if (not is_integer(epochs)
                or epochs < 0):
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}.")
        check_num_threads(num_threads)
        data = as_interactions(interactions, sample_weight)
        n_users, n_items = data.shape
        if n_users == 0 or n_items == 0:
            raise ValueError(
                f"interactions has shape {data.shape}; a model needs at least one user and "
                "one item (one row and one column)."
            )
        user_matrix = self._features(user_features, "user", n_users, "interactions", fresh)
        item_matrix = self._features(item_features, "item", n_items, "interactions", fresh)
        return data, user_matrix, item_matrix

    @staticmethod
    def _tracker(early_stopping: object, prepared: tuple, user_features: object,
                 item_features: object, num_threads: int) -> ValidationTracker | None:
        """The validation tracker of a fit (``None`` without early stopping), made before
        anything changes so that bad validation inputs leave the model as it was."""
        if early_stopping is None:
            return None
        if not isinstance(early_stopping, EarlyStopping):
            raise TypeError("early_stopping must be a hybridrec.EarlyStopping, got "
                            f"{type(early_stopping).__name__}.")
        return early_stopping.start(prepared[0].shape, user_features, item_features,
                                    check_num_threads(num_threads))

    def _fit_prepared(self, prepared: tuple, epochs: int, num_threads: int, verbose: bool,
                      tracker: ValidationTracker | None = None,
                      trainable: tuple[np.ndarray, np.ndarray] | None = None) -> LightFM:
        """The epoch loop; ``tracker`` does early stopping, ``trainable`` = the (user,
        item) row masks of ``_run_epoch``."""
        data, user_matrix, item_matrix = prepared
        num_threads = check_num_threads(num_threads)
        if data.nnz == 0:
            warnings.warn("interactions has no stored entries: the model is initialised but "
                          "learns nothing.", UserWarning, stacklevel=4)

        if self.random_state_ is None:
            self.random_state_ = _make_generator(self.random_state)
        # The copy other threads read during this fit holds the state from before it;
        # unless this call initialises the parameters, that is also the state before
        # the first epoch, so it serves as that epoch's rollback copy (read only).
        published = published_before_update(self)
        if self.item_embeddings is None:
            self._initialize(item_matrix.n_features, user_matrix.n_features)
            published = None

        extra = self._loss_arguments(data, data.shape[1], epochs)
        # The last good state, kept so that a diverging or interrupted epoch never leaves
        # NaNs behind: the arrays an epoch may write (``_trained_names``) are copied, in
        # parallel, into buffers allocated once per call and reused every epoch (the
        # first epoch of a fit_partial uses the published copy instead). The price is
        # that state's memory once more (docs/RELIABILITY.md).
        backup: ModelState | None = None
        best: ModelState | None = None  # early stopping: the best epoch's state
        history: list[dict] = []
        self.history_, self.best_epoch_ = history, 0
        progress = self._progress(epochs, verbose)
        for epoch in progress:
            if epoch == 0 and published is not None:
                generator_state = dict(self.random_state_.bit_generator.state)
                rollback = ModelState({name: getattr(published, name)
                                       for name in self._trained_names()}, generator_state)
            else:
                backup = self._rollback_copy(backup, num_threads)
                rollback = backup
            started = time.perf_counter()
            try:
                self._run_epoch(data, user_matrix, item_matrix, extra, num_threads,
                                trainable)
                healthy = self._trained_finite(num_threads)
            except BaseException:
                self._restore_snapshot(rollback)
                raise
            if not healthy:
                self._restore_snapshot(rollback)
                raise ValueError(
                    f"{_DIVERGED}. The parameters were restored to their state before the "
                    f"failing epoch ({epoch + 1} of {epochs} in this call)."
                )
            record = {"epoch": epoch + 1, "train_time": time.perf_counter() - started}
            history.append(record)
            self.best_epoch_ = epoch + 1
            if tracker is None:
                continue
            improved, stop = tracker.score(self, record)
            if improved and tracker.config.restore_best:
                best = self._snapshot(into=best)
            if hasattr(progress, "set_postfix"):
                key = tracker.config.key
                progress.set_postfix({key: f"{record[key]:.4f}"})
            if stop:
                break
        if tracker is not None and tracker.best_epoch is not None:
            if best is not None and tracker.best_epoch != self.best_epoch_:
                self._restore_snapshot(best)
            if tracker.config.restore_best:
                self.best_epoch_ = tracker.best_epoch
        return self

    def _progress(self, epochs: int, verbose: bool) -> Iterable[int]:
        if not verbose:
            return range(epochs)
        try:
            from tqdm.auto import trange
        except ImportError:  # tqdm is a dependency, but stay usable without it
            def announce() -> Iterable[int]:
                for epoch in range(epochs):
                    print(f"Epoch {epoch}")
                    yield epoch
            return announce()
        return trange(epochs, desc="Epoch")

    def _loss_arguments(self, data: KernelInteractions, n_items: int, epochs: int = 1
                        ) -> tuple:
        """The loss-specific trailing kernel arguments, built once per ``fit_partial``
        call of ``epochs`` epochs."""
        if self.loss == "logistic":
            return ()
        if self.loss in _config.EXPLICIT_LOSSES:
            return (self.loss == "poisson",)
        positives = self._membership(data, n_items, data.values, epochs)
        if self.loss == "bpr-uniform":
            # Spotlight's BPR negative: uniform over the items, redrawn while it is a
            # positive of the user (as the other sampled losses draw).
            negative_pool = np.arange(n_items, dtype=_config.INDEX)
            if self._sampled_bpr():
                return (*positives, negative_pool, _config.BPR_MAX_REDRAWS,
                        int(self.num_negative_samples), losses.SAMPLED_BPR,
                        *self._known_negatives(data, positives))
            return (*positives, negative_pool, _config.BPR_MAX_REDRAWS)
        if self.loss == "bpr":
            # LightFM's BPR negative: the item of a random stored interaction, whatever its
            # value, redrawn while it is any stored entry of the user (a disliked item is
            # "known", never an unobserved negative). On MovieLens 100k binarised to +-1
            # (LightFM's test_bpr_precision) this gives train / test AUC 0.915 / 0.876
            # against 0.891 / 0.843 with positives-only sampling (5 seeds; benchmarks/
            # bench_explicit_negatives.py). Without entries <= 0 the lookup and the pool
            # are the positives' ones, as before (no extra work, the same draws).
            if bool(np.all(data.values > 0)):
                stored, negative_pool = positives, data.item_ids
            else:
                stored = self._membership(data, n_items, np.ones_like(data.values),
                                           epochs)
                negative_pool = self._bpr_pool(data, positives)
            if self._sampled_bpr():
                return (*stored, negative_pool, _config.BPR_MAX_REDRAWS,
                        int(self.num_negative_samples), losses.SAMPLED_BPR,
                        *self._known_negatives(data, positives))
            return (*stored, negative_pool, _config.BPR_MAX_REDRAWS)
        if self.loss in _config.SAMPLED_LOSSES:
            mode = {"pointwise": losses.SAMPLED_POINTWISE, "hinge": losses.SAMPLED_HINGE,
                    "adaptive_hinge": losses.SAMPLED_ADAPTIVE_HINGE}[self.loss]
            # Uniform over the items, as Spotlight samples.
            negative_pool = np.arange(n_items, dtype=_config.INDEX)
            return (*positives, negative_pool, _config.BPR_MAX_REDRAWS,
                    int(self.num_negative_samples), mode,
                    *self._known_negatives(data, positives))
        warp = (*positives, n_items, int(self.max_sampled), _config.MAX_LOSS)
        known = (None, None, 0.0)  # the kernels' compile-time specialisation: plain WARP
        if self.negative_mixing > 0.0:
            negatives = self._known_negatives(data, positives)
            if negatives[1].shape[0] > 0:
                known = negatives
        if self.loss == "warp":
            return (*warp, *known)
        return (*warp, int(self.k), int(self.n), *known)

    @staticmethod
    def _membership(data: KernelInteractions, n_items: int, values: np.ndarray,
                    epochs: int = 1) -> tuple:
        """(indptr, indices, bits) of the distinct (user, item) cells with value > 0: the
        samplers' "may this item not be drawn as a negative?" lookup. The bit table is
        built when it is small enough to stay in cache and the ``epochs`` epochs of the
        call do enough lookups to repay building it, else it is empty and the kernels
        binary-search the CSR row (the same answers: no float changes either way)."""
        indptr, indices = epoch_inputs.positives_lookup(
            data.shape[0], data.shape[1], data.user_ids, data.item_ids, values)
        bits = np.zeros((0, 0), dtype=np.uint64)
        table_bytes = data.shape[0] * -(-n_items // 64) * 8
        if (table_bytes <= _config.POSITIVES_BITSET_MAX_BYTES
                and table_bytes <= (_config.POSITIVES_BITSET_BYTES_PER_EXAMPLE
                                    * indices.shape[0] * max(1, epochs))):
            bits = epoch_inputs.positives_bitset(data.shape[0], n_items, indptr, indices)
        return indptr, indices, bits

    @staticmethod
    def _bpr_pool(data: KernelInteractions, positives: tuple) -> np.ndarray:
        """Item ids of the stored entries (duplicates included, as LightFM draws them),
        without the entries <= 0 of pairs that are also positives: a like stored beside a
        dislike of the same item counts once, as the like (as in ``_known_negatives``)."""
        non_positive = ~(data.values > 0)
        indptr, indices = positives[:2]
        liked = sp.csr_matrix((np.ones(indices.shape[0], dtype=bool), indices, indptr),
                              shape=data.shape)
        conflicting = np.zeros(data.nnz, dtype=bool)
        conflicting[non_positive] = np.asarray(
            liked[data.user_ids[non_positive], data.item_ids[non_positive]]).ravel()
        return np.ascontiguousarray(data.item_ids[~conflicting])

    def _sampled_bpr(self) -> bool:
        """BPR through ``fit_sampled`` (several negatives or explicit negatives); else
        LightFM's ``fit_bpr``."""
        return self.num_negative_samples > 1 or self.negative_mixing > 0.0

    def _known_negatives(self, data: KernelInteractions, positives: tuple) -> tuple:
        """(indptr, indices) CSR of each user's explicit negatives (value < 0), sorted,
        and the mixing probability: the trailing arguments of ``fit_sampled``,
        ``fit_warp`` and ``fit_warp_kos``. ``positives`` is the (indptr, indices, ...)
        lookup of the value > 0 cells built by ``_loss_arguments``."""
        # The value < 0 cells are the value > 0 cells of the negated values.
        indptr, indices = epoch_inputs.positives_lookup(
            data.shape[0], data.shape[1], data.user_ids, data.item_ids, -data.values)
        disliked = sp.csr_matrix((np.ones(indices.shape[0], dtype=np.float32), indices,
                                  indptr), shape=data.shape)
        # A pair stored both as a positive and with a value < 0 (a like and a dislike of
        # one item) stays a positive only: drop it here, so no sampler can draw it.
        positives_indptr, positives_indices = positives[:2]
        liked = sp.csr_matrix((np.ones(positives_indices.shape[0], dtype=bool),
                               positives_indices, positives_indptr), shape=data.shape)
        disliked = disliked - disliked.multiply(liked)
        disliked.eliminate_zeros()
        disliked.sort_indices()
        return (*csr_kernel_arrays(disliked), float(self.negative_mixing))

    def _run_epoch(self, data: KernelInteractions, user_matrix: KernelFeatures,
                   item_matrix: KernelFeatures, extra: tuple, num_threads: int,
                   trainable: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """One epoch. ``trainable``: the (user, item) uint8 masks of the rows that may
        change (see ``kernels.losses``; empty = every row), default every row."""
        if trainable is None:
            trainable = (_every_row(), _every_row())
        rng = self.random_state_
        assert rng is not None  # created by _fit_prepared before the first epoch
        # Only examples that can produce an update are visited, in a random order.
        positive_only = self.loss != "logistic" and self.loss not in _config.EXPLICIT_LOSSES
        order = epoch_inputs.shuffled_active(data.weights, data.values, positive_only,
                                             rng.integers(1, 2**63, dtype=np.uint64))
        n = order.shape[0]
        if n == 0:
            return

        kernel = {
            "logistic": losses.fit_logistic,
            "bpr": losses.fit_bpr,
            "bpr-uniform": losses.fit_bpr,
            "warp": losses.fit_warp,
            "warp-kos": losses.fit_warp_kos,
            "regression": losses.fit_explicit,
            "poisson": losses.fit_explicit,
            "pointwise": losses.fit_sampled,
            "hinge": losses.fit_sampled,
            "adaptive_hinge": losses.fit_sampled,
        }[self.loss]
        if self.loss in _config.BPR_LOSSES and self._sampled_bpr():
            kernel = losses.fit_sampled
        regularised = self.item_alpha > 0 or self.user_alpha > 0
        # L2 is applied as a decay of every (trainable) parameter after each chunk of examples
        # (exactly what per-example weight decay amounts to, without touching every
        # parameter per example). Without L2 the whole epoch is one chunk (up to 2**32
        # examples). Each chunk is cut into blocks (``_epochs.block_count``), each with its
        # own random stream; the threads take blocks from a shared counter. Blocks and
        # streams depend on the data and the generator only, not on num_threads.
        chunks = epoch_chunks(n, regularised)
        blocks = [n_blocks for _, _, n_blocks in chunks]
        rng_states = rng.integers(1, 2**63, size=sum(blocks), dtype=np.uint64)
        user_arrays = self._side_arrays("user")
        item_arrays = self._side_arrays("item")
        reg_log_decay = np.zeros((max(blocks), 2), dtype=np.float64)
        pending = np.zeros(2, dtype=np.float64)  # (user, item) log-decay not yet applied
        first_block = 0
        with numba_threads(num_threads):
            for start, stop, n_blocks in chunks:
                reg_log_decay[:] = 0.0
                kernel(data.user_ids, data.item_ids, data.values, data.weights,
                       order[start:stop],
                       *user_matrix.kernel_args(), *item_matrix.kernel_args(),
                       *user_arrays, *item_arrays, *trainable,
                       float(self.learning_rate), float(self.rho), float(self.epsilon),
                       self.learning_schedule == "adadelta",
                       float(self.user_alpha), float(self.item_alpha),
                       rng_states[first_block:first_block + n_blocks],
                       reg_log_decay[:n_blocks], *extra)
                first_block += n_blocks
                if regularised:
                    pending += reg_log_decay.sum(axis=0)
                    last = stop >= n
                    # Rescaling every parameter costs a pass over all of them, so a
                    # small pending decay (< 0.1 %) waits for the next chunk; the epoch
                    # always ends with nothing pending.
                    for side, log_decay, mask in zip(_SIDES, pending, trainable,
                                                     strict=True):
                        if log_decay > 0 and (last or log_decay > _DECAY_BATCH):
                            updates.decay_parameters(getattr(self, f"{side}_embeddings"),
                                                     getattr(self, f"{side}_biases"),
                                                     float(np.exp(-log_decay)), mask)
                    if last:
                        pending[:] = 0.0
                    else:
                        pending[pending > _DECAY_BATCH] = 0.0

    # ------------------------------------------------------------------ prediction
    @_reads
    def predict(self, user_ids: object, item_ids: object,
                item_features: sp.spmatrix | None = None,
                user_features: sp.spmatrix | None = None, num_threads: int = 1) -> np.ndarray:
        """Scores of (user, item) pairs.

        Parameters
        ----------
        user_ids : int or array-like of int
            A single user id (Python or numpy integer) is paired with every item id.
        item_ids : array-like of int
        item_features, user_features : scipy.sparse matrix, optional
            Feature matrices (note LightFM's order: items before users). Default: identity.
        num_threads : int, default 1

        Returns
        -------
        numpy.ndarray of float32, shape (n_pairs,)
            ``user_repr . item_repr + user_bias + item_bias``; with ``loss='poisson'``
            its exponential (the predicted rate).
        """
        self._check_initialized()
        num_threads = check_num_threads(num_threads)
        scalar_user = isinstance(user_ids, (numbers.Integral, np.integer)) and not isinstance(
            user_ids, (bool, np.bool_))
        item_array = as_id_array(item_ids, "item_ids")
        user_array = as_id_array(user_ids, "user_ids")
        if scalar_user:
            user_array = np.full(item_array.shape[0], user_array[0], dtype=_config.INDEX)
        if user_array.shape[0] != item_array.shape[0]:
            raise ValueError(
                f"Expected the number of user IDs ({user_array.shape[0]}) to equal the number "
                f"of item IDs ({item_array.shape[0]})"
            )
        out = np.empty(item_array.shape[0], dtype=np.float32)
        if out.shape[0] == 0:
            return out
        user_matrix = self._id_features(user_features, "user", user_array)
        item_matrix = self._id_features(item_features, "item", item_array)
        with numba_threads(num_threads) as threads:
            scoring.predict_pairs(user_array, item_array, *user_matrix.kernel_args(),
                                  *item_matrix.kernel_args(), self._array("user_embeddings"),
                                  self._array("user_biases"), self._array("item_embeddings"),
                                  self._array("item_biases"),
                                  threads, out)
        if self.loss == "poisson":
            np.exp(out, out=out)
        return out

    def _id_features(self, features: object, side: str, ids: np.ndarray) -> KernelFeatures:
        """Feature matrix covering every id in ``ids`` (ids must index its rows)."""
        largest = int(ids.max())
        if features is None:
            rows = self._embedding_rows(side)
            assert rows is not None  # the callers checked that the model is fitted
            if largest >= rows:
                raise ValueError(
                    f"{side}_ids contains id {largest}, but the model has {rows} {side} "
                    f"embeddings (ids 0..{rows - 1}) and no {side}_features were given. "
                    f"The {side} feature matrix specifies more features than there are "
                    f"estimated feature embeddings: {largest + 1} vs {rows}."
                )
            return identity_features(rows)
        return self._features(features, side, largest + 1, f"{side}_ids (largest id {largest})")

    @_reads
    def predict_rank(self, test_interactions: sp.spmatrix,
                     train_interactions: sp.spmatrix | None = None,
                     item_features: sp.spmatrix | None = None,
                     user_features: sp.spmatrix | None = None, num_threads: int = 1,
                     check_intersections: bool = True) -> sp.csr_matrix:
        """Rank of every test interaction among all items, train items excluded.

        Parameters
        ----------
        test_interactions : scipy.sparse matrix, shape (n_users, n_items)
            The entries whose ranks are wanted.
        train_interactions : scipy.sparse matrix, same shape, optional
            Items stored here for a user are left out of that user's ranking.
        item_features, user_features : scipy.sparse matrix, optional
        num_threads : int, default 1
        check_intersections : bool, default True
            Raise if train and test share entries.

        Returns
        -------
        scipy.sparse.csr_matrix of float32, same sparsity as ``test_interactions``
            Rank 0 is the top. Ties count against the item (an all-zero model ranks
            every item last).
        """
        self._check_initialized()
        num_threads = check_num_threads(num_threads)
        test, train = prepare_test_train(test_interactions, train_interactions,
                                         check_intersections)
        # Before anything else, as LightFM: a wrong shape is an error even when the
        # matrix holds no entries.
        check_identity_shape(test.shape, user_features is None, item_features is None,
                             cast(int, self._embedding_rows("user")),
                             cast(int, self._embedding_rows("item")))
        n_users, n_items = test.shape
        if n_users == 0 or n_items == 0 or test.nnz == 0:
            return sp.csr_matrix((np.zeros(test.nnz, dtype=np.float32), test.indices,
                                  test.indptr), shape=test.shape)
        user_matrix = self._id_features(user_features, "user", np.array([n_users - 1]))
        item_matrix = self._id_features(item_features, "item", np.array([n_items - 1]))
        with numba_threads(num_threads):
            user_vectors, _ = self._representations(user_matrix, "user", n_users)
            item_vectors, item_biases = self._representations(item_matrix, "item", n_items)
        result = rank_items(user_vectors, item_vectors, item_biases, test, train, num_threads)
        return sp.csr_matrix((result.ranks, test.indices, test.indptr), shape=test.shape)

    def _representations(self, matrix: KernelFeatures, side: str, n_rows: int
                         ) -> tuple[np.ndarray, np.ndarray]:
        """Representations of rows ``0 .. n_rows-1`` (views for the identity)."""
        embeddings = self._array(f"{side}_embeddings")
        biases = self._array(f"{side}_biases")
        if matrix.identity:
            return embeddings[:n_rows], biases[:n_rows]
        out_embeddings = np.empty((n_rows, embeddings.shape[1]), dtype=np.float32)
        out_biases = np.empty(n_rows, dtype=np.float32)
        # The caller's thread count (numba's default outside a ``numba_threads`` block).
        with numba_threads(numba.get_num_threads()):
            scoring.representations(*matrix.kernel_args(), n_rows, embeddings,
                                    biases, out_embeddings,
                                    out_biases)
        return out_embeddings, out_biases

    def _get_representations(self, features: Any, side: str
                             ) -> tuple[np.ndarray, np.ndarray]:
        self._check_initialized()
        biases = self._array(f"{side}_biases")
        embeddings = self._array(f"{side}_embeddings")
        if features is None:
            return biases.copy(), embeddings.copy()
        matrix = self._features(features, side, 0, f"{side}_features")
        out_embeddings, out_biases = self._representations(matrix, side, matrix.n_rows)
        return out_biases.copy(), out_embeddings.copy()

    @_reads
    def get_user_representations(self, features: sp.spmatrix | None = None
                                 ) -> tuple[np.ndarray, np.ndarray]:
        """User biases and embeddings, optionally through a user feature matrix.

        Parameters
        ----------
        features : scipy.sparse matrix, shape (n_users, n_user_features), optional
            Without it the per-feature parameters are returned.

        Returns
        -------
        biases : float32 array (n,)
        embeddings : float32 array (n, no_components)
            ``features @ user_biases`` and ``features @ user_embeddings`` (copies).
        """
        return self._get_representations(features, "user")

    @_reads
    def get_item_representations(self, features: sp.spmatrix | None = None
                                 ) -> tuple[np.ndarray, np.ndarray]:
        """Item biases and embeddings, optionally through an item feature matrix.

        Parameters and returns as ``get_user_representations``.
        """
        return self._get_representations(features, "item")
