"""``SequenceModel``: next-item recommendation from time-ordered item sequences.

One estimator for the four representations (pooling, causal CNN, LSTM, mixture-of-tastes
LSTM) of the engine in ``network.py``, over ``Sequences`` (``data.py``). Item index
``i`` of the sequences is the engine's item ``i + 1`` (0 is the engine's padding item);
every output here is in the sequences' item indices again.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._config import INDEX
from .._params import ParamsMixin
from .._scoring import top_k
from .._threads import check_num_threads
from .._validation import check_positive_int
from .data import SequenceArrays, Sequences
from .network import LOSS_MODES, OPTIMIZERS, SequenceNetwork
from .representations import CNNSpec, LSTMSpec, MixtureSpec, PoolingSpec, RepresentationSpec

__all__ = ["REPRESENTATIONS", "SequenceModel", "check_item_sequence"]

REPRESENTATIONS = ("pooling", "cnn", "lstm", "mixture")
NONLINEARITIES = ("tanh", "relu")
_NOT_FITTED = "This SequenceModel is not fitted yet: call fit(sequences) first."


def _per_layer(value: Any, num_layers: int, name: str) -> tuple:
    """An int or one int per layer (Spotlight's ``_to_iterable``), validated."""
    values = (value,) * num_layers if isinstance(value, numbers.Integral) else tuple(value)
    if len(values) != num_layers:
        raise ValueError(f"{name} must be an integer or have one entry per layer "
                         f"(num_layers={num_layers}), got {value!r}.")
    return tuple(check_positive_int(v, name) for v in values)


def check_item_sequence(items: object, n_items: int, name: str) -> np.ndarray:
    """A 1-d sequence of item indices in ``[0, n_items)`` as int32 (may be empty)."""
    array = np.asarray(items)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-dimensional sequence of item indices, got "
                         f"shape {array.shape}.")
    if array.size == 0:
        return np.zeros(0, dtype=INDEX)
    if array.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer item indices, got dtype {array.dtype}.")
    bad = array.min() if array.min() < 0 else array.max()
    if bad < 0 or bad >= n_items:
        raise ValueError(f"{name} contains item index {int(bad)}; the model knows items "
                         f"0..{n_items - 1}.")
    return array.astype(INDEX)


class SequenceModel(ParamsMixin):
    """Next-item model trained on every time step of every sequence.

    The state after a sequence's items scores every item; training predicts each item
    of each sequence from the items before it, against sampled negatives, in minibatches
    of sequences (``hybridrec.sequence.network``).

    Parameters
    ----------
    representation : {'pooling', 'cnn', 'lstm', 'mixture'}, default 'pooling'
        How the preceding items become a state: their mean embedding (``max_history``
        most recent), a causal CNN, an LSTM, or an LSTM with ``num_mixtures`` tastes.
    no_components : int, default 64
        Embedding dimension (and the CNN's channels / the LSTM's hidden size).
    loss : {'adaptive_bpr', 'bpr', 'pointwise', 'hinge', 'adaptive_hinge'}, default 'adaptive_bpr'
        ``adaptive_bpr``: ``-log sigmoid(s+ - s-)`` against the highest-scoring of
        ``n_negatives`` uniform draws; the others are Spotlight's losses.
    n_negatives : int, default 20
        Draws per target for the adaptive losses.
    optimizer : {'adagrad', 'adam'}, default 'adagrad'
        The package's adagrad (accumulators start at 1; only the rows a minibatch
        touches move) or PyTorch's Adam (dense, Spotlight's optimiser).
    learning_rate : float, default 0.1
    l2 : float, default 0.0
        L2 penalty, as PyTorch's ``weight_decay``.
    batch_size : int, default 16
        Sequences per optimiser step.
    reduction : {'sum', 'mean'}, default 'sum'
        Whether a minibatch's gradient is the sum of its targets' loss gradients or
        their mean (Spotlight's). With adagrad the sum keeps the step size per target
        independent of the batch.
    epochs : int, default 20
    max_history : int or None, default 3
        Pooling: most recent items pooled (None: all of them); measured on MovieLens,
        the next rating follows the last few closely (3 > 10 > 50).
    kernel_width, dilation : int or sequence of int, default 3, 1
        CNN: per layer, or one value for every layer.
    num_layers : int, default 1
        CNN layers.
    nonlinearity : {'tanh', 'relu'}, default 'tanh'
        CNN.
    residual_connections : bool, default True
        CNN.
    num_mixtures : int, default 4
        Mixture: number of tastes.
    tied_embeddings : bool, default False
        Score items with the embeddings that encode them (Spotlight ties them); by
        default each item has a separate output embedding.
    num_threads : int, default 1
    random_state : int, numpy Generator or None
        With ``num_threads=1`` a fixed seed reproduces the model bit for bit; with more
        threads the negatives are the same, but minibatches are trained concurrently
        without locks (Hogwild), so a minibatch's gradient may be computed from
        parameters a step old.

    The defaults (pooling of the last 3 items, adaptive log-BPR, adagrad, separate
    output embeddings) were chosen on MovieLens latest-small and 100k with the last
    item of every user held out (tests/accuracy/test_sequence.py has the numbers).
    """

    def __init__(self, representation: str = "pooling", no_components: int = 64,
                 loss: str = "adaptive_bpr", n_negatives: int = 20, optimizer: str = "adagrad",
                 learning_rate: float = 0.1, l2: float = 0.0, batch_size: int = 16,
                 reduction: str = "sum", epochs: int = 20, max_history: int | None = 3,
                 kernel_width=3, dilation=1, num_layers: int = 1, nonlinearity: str = "tanh",
                 residual_connections: bool = True, num_mixtures: int = 4,
                 tied_embeddings: bool = False, num_threads: int = 1,
                 random_state=None) -> None:
        self.representation = representation
        self.no_components = no_components
        self.loss = loss
        self.n_negatives = n_negatives
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.l2 = l2
        self.batch_size = batch_size
        self.reduction = reduction
        self.epochs = epochs
        self.max_history = max_history
        self.kernel_width = kernel_width
        self.dilation = dilation
        self.num_layers = num_layers
        self.nonlinearity = nonlinearity
        self.residual_connections = residual_connections
        self.num_mixtures = num_mixtures
        self.tied_embeddings = tied_embeddings
        self.num_threads = num_threads
        self.random_state = random_state

    # ------------------------------------------------------------------ validation

    def _spec(self) -> RepresentationSpec:
        for name, allowed in (("representation", REPRESENTATIONS),
                              ("loss", tuple(LOSS_MODES)), ("optimizer", OPTIMIZERS),
                              ("nonlinearity", NONLINEARITIES), ("reduction", ("sum", "mean"))):
            value = getattr(self, name)
            if not (isinstance(value, str) and value in allowed):
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}.")
        for name in ("no_components", "n_negatives", "batch_size", "num_layers",
                     "num_mixtures"):
            check_positive_int(getattr(self, name), name)
        if (isinstance(self.epochs, bool) or not isinstance(self.epochs, numbers.Integral)
                or self.epochs < 0):
            raise ValueError(f"epochs must be a non-negative integer, got {self.epochs!r}.")
        if self.max_history is not None:
            try:
                check_positive_int(self.max_history, "max_history")
            except ValueError:
                raise ValueError("max_history must be a positive integer or None (every "
                                 f"preceding item), got {self.max_history!r}.") from None
        if not (isinstance(self.learning_rate, numbers.Real) and self.learning_rate > 0
                and np.isfinite(self.learning_rate)):
            raise ValueError(f"learning_rate must be a finite number > 0, got "
                             f"{self.learning_rate!r}.")
        if not (isinstance(self.l2, numbers.Real) and self.l2 >= 0 and np.isfinite(self.l2)):
            raise ValueError(f"l2 must be a finite number >= 0, got {self.l2!r}.")
        check_num_threads(self.num_threads)
        if self.representation == "pooling":
            window = 0 if self.max_history is None else int(self.max_history)
            return PoolingSpec(window=window, shrink=0.0)
        if self.representation == "cnn":
            return CNNSpec(kernel_width=_per_layer(self.kernel_width, self.num_layers,
                                                   "kernel_width"),
                           dilation=_per_layer(self.dilation, self.num_layers, "dilation"),
                           relu=self.nonlinearity == "relu",
                           residual=bool(self.residual_connections))
        if self.representation == "lstm":
            return LSTMSpec()
        return MixtureSpec(num_mixtures=int(self.num_mixtures))

    def _check_fitted(self) -> None:
        if getattr(self, "network_", None) is None:
            raise ValueError(_NOT_FITTED)

    def _check_sequences(self, sequences: object, name: str = "sequences") -> Sequences:
        if not isinstance(sequences, Sequences):
            raise TypeError(f"{name} must be hybridrec.sequence.Sequences (from "
                            f"sequences_from_frame), got {type(sequences).__name__}.")
        return sequences

    # --------------------------------------------------------------------- fitting

    def fit(self, sequences: Sequences) -> SequenceModel:
        """Train from scratch for ``epochs`` epochs.

        Parameters
        ----------
        sequences : Sequences

        Returns
        -------
        SequenceModel
        """
        sequences = self._check_sequences(sequences)
        spec = self._spec()
        self.item_mapper_ = sequences.item_mapper
        self.random_state_ = np.random.default_rng(self.random_state)
        n_items = len(sequences.item_mapper) + 1
        self.network_ = SequenceNetwork(
            spec, n_items, int(self.no_components), loss=self.loss,
            n_negatives=int(self.n_negatives), optimizer=self.optimizer,
            learning_rate=float(self.learning_rate), l2=float(self.l2),
            rng=self.random_state_, tied=bool(self.tied_embeddings))
        return self.fit_partial(sequences, epochs=int(self.epochs))

    def fit_partial(self, sequences: Sequences, epochs: int = 1) -> SequenceModel:
        """Continue training (from scratch if not fitted yet) for ``epochs`` epochs.

        Returns
        -------
        SequenceModel
        """
        sequences = self._check_sequences(sequences)
        if getattr(self, "network_", None) is None:
            saved, self.epochs = self.epochs, 0
            try:
                self.fit(sequences)
            finally:
                self.epochs = saved
        if len(sequences.item_mapper) + 1 != self.network_.n_items:
            raise ValueError(f"sequences have {len(sequences.item_mapper)} items but the model "
                             f"was fitted on {self.network_.n_items - 1}; use the same item "
                             "mapper (sequences_from_frame(..., item_mapper=model.item_mapper_)).")
        num_threads = check_num_threads(self.num_threads)
        arrays = SequenceArrays.from_sequences(sequences)
        targets = arrays.targets()
        # The first item of a sequence is a target too (predicted from nothing): the
        # engine's position 0 state, as in Spotlight.
        if epochs and targets.sum() == 0:
            raise ValueError("sequences contain no items to train on.")
        batch_size = check_positive_int(self.batch_size, "batch_size")
        self.network_.reduction = self.reduction
        for _ in range(epochs):
            self.network_.fit_epoch(arrays, batch_size, self.random_state_, num_threads,
                                    targets)
            self.network_.check_finite()
        return self

    # ------------------------------------------------------------------- querying

    @property
    def n_items_(self) -> int:
        """Number of items (of the fitted item mapper)."""
        self._check_fitted()
        return self.network_.n_items - 1

    @property
    def input_embeddings_(self) -> np.ndarray:
        """float32[n_items, d]: the embeddings of the items in the sequences (row ``i``
        is item code ``i``; the engine's padding row is left out)."""
        self._check_fitted()
        return self.network_.item_vectors()[1:]

    @property
    def output_embeddings_(self) -> np.ndarray:
        """float32[n_items, d]: the embeddings that score the items (the input ones when
        tied)."""
        self._check_fitted()
        return self.network_.output_vectors()[1:]

    @property
    def biases_(self) -> np.ndarray:
        """float32[n_items]: the item biases."""
        self._check_fitted()
        return self.network_.item_bias_table[1:]

    def user_states(self, sequences: Sequences) -> np.ndarray:
        """State after each sequence's items.

        Returns
        -------
        numpy.ndarray of float32, shape (n_sequences, width)
            ``width`` is ``no_components`` (``2 * num_mixtures * no_components`` for
            the mixture).
        """
        self._check_fitted()
        sequences = self._check_sequences(sequences)
        return self.network_.states(SequenceArrays.from_sequences(sequences),
                                    check_num_threads(self.num_threads))

    def item_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(output embeddings, biases)`` that score a state by a dot product.

        Raises
        ------
        ValueError
            For the mixture representation, whose score is not a dot product.
        """
        self._check_fitted()
        if not self.network_.spec.dot_scoring:
            raise ValueError("The mixture representation does not score items by a dot "
                             "product; use scores() or recommend().")
        return self.network_.output_vectors()[1:], self.network_.params["b"][1:]

    def scores(self, sequences: Sequences) -> np.ndarray:
        """Score of every item after each sequence, float32 (n_sequences, n_items)."""
        self._check_fitted()
        num_threads = check_num_threads(self.num_threads)
        states = self.user_states(sequences)
        return np.ascontiguousarray(self.network_.score_states(states, num_threads)[:, 1:])

    def predict(self, items: object) -> np.ndarray:
        """Score every item as the next one after an arbitrary sequence, in real time.

        Parameters
        ----------
        items : sequence of int
            Item indices (of ``item_mapper_``) in time order; may be empty.

        Returns
        -------
        numpy.ndarray of float32, shape (n_items,)
        """
        self._check_fitted()
        items = check_item_sequence(items, self.n_items_, "items")
        state = self.network_.state(items + 1, 0)
        return self.network_.score_state(state)[1:]

    def recommend(self, sequences: Sequences | list, k: int = 10, exclude_seen: bool = True
                  ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best next items after each sequence.

        Parameters
        ----------
        sequences : Sequences or list of sequences of item indices
        k : int, default 10
        exclude_seen : bool, default True
            Leave out the items a sequence already contains.

        Returns
        -------
        items : numpy.ndarray of int32, shape (n_sequences, k)
            Best first; -1 where fewer than ``k`` items are left.
        scores : numpy.ndarray of float32, shape (n_sequences, k)
        """
        self._check_fitted()
        k = check_positive_int(k, "k")
        num_threads = check_num_threads(self.num_threads)
        if isinstance(sequences, Sequences):
            arrays = SequenceArrays.from_sequences(sequences)
        else:
            lists = [check_item_sequence(s, self.n_items_, f"sequences[{i}]") + 1
                     for i, s in enumerate(sequences)]
            arrays = SequenceArrays.from_lists(lists)
        return recommend_from_arrays(self.network_, arrays, k, exclude_seen, num_threads,
                                     shift=1)


def recommend_from_arrays(network: SequenceNetwork, arrays: SequenceArrays, k: int,
                          exclude_seen: bool, num_threads: int, shift: int = 0
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` items after each sequence of ``arrays``, as engine ids minus ``shift``
    (-1 where fewer than ``k`` remain); the padding item 0 is never recommended."""
    n = len(arrays)
    n_items = network.n_items
    states = network.states(arrays, num_threads)
    if exclude_seen and n:
        rows = np.repeat(np.arange(n), arrays.n_items)
        seen = sp.csr_matrix((np.ones(rows.shape[0], np.float32), (rows, arrays.items)),
                             shape=(n, n_items))
        seen.sum_duplicates()
    else:
        seen = None
    allowed = np.ones(n_items, dtype=bool)
    allowed[0] = False
    if network.spec.dot_scoring:
        items, scores = top_k(states, network.output_vectors(), network.params["b"],
                              np.arange(n, dtype=INDEX), k, num_threads, exclude=seen,
                              allowed_items=allowed)
    else:
        items = np.full((n, k), -1, dtype=INDEX)
        scores = np.full((n, k), -np.inf, dtype=np.float32)
        for start in range(0, n, 1024):
            block = network.score_states(states[start:start + 1024], num_threads)
            block[:, ~allowed] = -np.inf
            if seen is not None:
                part = seen[start:start + 1024].tocoo()
                block[part.row, part.col] = -np.inf
            kk = min(k, n_items)
            order = np.argsort(-block, axis=1, kind="stable")[:, :kk]
            chosen = np.take_along_axis(block, order, axis=1)
            valid = np.isfinite(chosen)
            items[start:start + block.shape[0], :kk] = np.where(valid, order, -1)
            scores[start:start + block.shape[0], :kk] = np.where(valid, chosen, -np.inf)
    valid = items >= 0
    items = np.where(valid, items - shift, -1).astype(INDEX)
    return items, scores
