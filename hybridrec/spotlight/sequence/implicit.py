"""Spotlight's ``spotlight.sequence.implicit``: sequence models for implicit feedback.

:class:`ImplicitSequenceModel` has Spotlight's constructor, ``fit`` and ``predict``, and
trains as Spotlight trains: minibatches of ``batch_size`` shuffled sequences, the loss of
every time step of every sequence (padding masked) against uniformly drawn negatives,
averaged, and one Adam step per minibatch (``torch.optim.Adam`` with
``weight_decay=l2``, Spotlight's optimiser). The network runs on hybridrec's numba
kernels (``hybridrec.sequence.network``); with ``num_threads`` > 1 the threads train
whole minibatches concurrently (Hogwild), with one thread the training is Spotlight's
step for step (tests/spotlight/test_sequence_representations.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._validation import check_int_in, is_integer, is_real
from ...sequence.data import SequenceArrays
from ...sequence.model import recommend_from_arrays
from ...sequence.network import SequenceNetwork
from .._compat import warn_no_effect
from .representations import CNNNet, LSTMNet, MixtureLSTMNet, PoolNet, SequenceNet

__all__ = ["ImplicitSequenceModel"]

LOSSES = ("pointwise", "bpr", "hinge", "adaptive_hinge")
REPRESENTATIONS = {"pooling": PoolNet, "cnn": CNNNet, "lstm": LSTMNet,
                   "mixture": MixtureLSTMNet}
_NOT_FITTED = ("This model is not fitted yet: call fit(interactions) before predict "
               "(Spotlight initialises the model at the first fit).")
#: Why ``sparse=True`` changes nothing for the sequence models.
SPARSE_REASON = ("it chooses PyTorch's gradient storage; hybridrec accumulates the item "
                 "embedding gradients row by row and takes the same dense Adam step.")
_TOO_LARGE = "Maximum item id greater than number of items in model."


def _check_real(value: Any, name: str, positive: bool) -> float:
    if not is_real(value) or not np.isfinite(value) or (value <= 0 if positive else value < 0):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, "
                         f"got {value!r}.")
    return float(value)


def _item_ids(values: object, name: str) -> np.ndarray:
    """Item ids as a flat int64 array (any shape accepted, as Spotlight flattens)."""
    if isinstance(values, (bool, np.bool_)):
        raise ValueError(f"{name} must be integer item ids, got a boolean.")
    array = np.asarray(values)
    if array.dtype.kind == "f" and array.size:
        if not (np.isfinite(array).all() and np.array_equal(array, np.floor(array))):
            raise ValueError(f"{name} must hold integer item ids; got non-integer or "
                             "non-finite floats.")
        array = array.astype(np.int64)
    if array.size and array.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer item ids, got dtype {array.dtype}.")
    array = array.reshape(-1).astype(np.int64)
    if array.size and array.min() < 0:
        raise ValueError(f"{name} contains the negative item id {int(array.min())}; item "
                         "ids are >= 0 (0 is the padding item).")
    return array


class ImplicitSequenceModel:
    """Model for sequential recommendations using implicit feedback.

    Parameters
    ----------
    loss : {'pointwise', 'bpr', 'hinge', 'adaptive_hinge'}, default 'pointwise'
        Spotlight's losses (``spotlight.losses``): ``pointwise``
        ``(1 - sigmoid(s+)) + sigmoid(s-)``, ``bpr`` ``1 - sigmoid(s+ - s-)``, ``hinge``
        ``max(0, 1 - s+ + s-)``, ``adaptive_hinge`` the hinge against the highest-scoring
        of ``num_negative_samples`` negatives.
    representation : {'pooling', 'cnn', 'lstm', 'mixture'} or a representation, default 'pooling'
        A :mod:`~hybridrec.spotlight.sequence.representations` instance overrides
        ``embedding_dim``.
    embedding_dim : int, default 32
    n_iter : int, default 10
        Epochs per ``fit`` call.
    batch_size : int, default 256
        Sequences per minibatch (one optimiser step).
    l2 : float, default 0.0
        L2 penalty (Adam's ``weight_decay``: ``g += l2 * theta`` on every parameter).
    learning_rate : float, default 1e-2
        Adam's learning rate.
    optimizer_func : None
        Must be None: it takes a PyTorch optimizer factory; hybridrec trains with Adam
        (``learning_rate``, ``l2``) on its own kernels (``ValueError`` otherwise).
    use_cuda : bool, default False
        ``True`` raises ``ValueError`` (no GPU path; use ``num_threads``).
    sparse : bool, default False
        ``True`` warns that it has no effect: it chooses PyTorch's gradient storage;
        hybridrec accumulates embedding gradients row by row either way (the Adam step
        is the same dense one, as Spotlight's Adam with dense gradients).
    random_state : numpy.random.RandomState, Generator, int or None
        As in Spotlight, one number is drawn from it at construction (Spotlight seeds
        PyTorch with it; here it seeds the initial parameters), and it draws the
        shuffles and negatives during ``fit``.
    num_negative_samples : int, default 5
        Negatives per target for ``adaptive_hinge``.
    num_threads : int, default 1
        Not a Spotlight parameter: threads of the training and scoring kernels. With 1
        a fit is Spotlight's sequential training and, with a fixed ``random_state``,
        bit-for-bit reproducible. With more, minibatches are trained concurrently
        without locks (Hogwild): the shuffles and negatives are the same, but a
        minibatch's gradient may be computed from parameters a step old (on Spotlight's
        synthetic tests, 2 threads gave 0.001-0.012 lower mean MRR than 1).

    Notes
    -----
    During fitting the loss is computed for every timestep of the supplied sequences:
    for ``[[1, 2, 3, 4, 5], [0, 0, 7, 1, 4]]`` the first row contributes the losses of
    predicting 2 from [1], 3 from [1, 2], ... (and 1 from nothing), zeros being masked.
    """

    def __init__(self, loss: str = "pointwise", representation: Any = "pooling",
                 embedding_dim: int = 32, n_iter: int = 10, batch_size: int = 256,
                 l2: float = 0.0, learning_rate: float = 1e-2, optimizer_func: Any = None,
                 use_cuda: bool = False, sparse: bool = False, random_state: Any = None,
                 num_negative_samples: int = 5, num_threads: int = 1) -> None:
        self.loss = loss
        self.representation = representation
        self.embedding_dim = embedding_dim
        self.n_iter = n_iter
        self.batch_size = batch_size
        self.l2 = l2
        self.learning_rate = learning_rate
        self.optimizer_func = optimizer_func
        self.use_cuda = use_cuda
        self.sparse = sparse
        self.num_negative_samples = num_negative_samples
        self.num_threads = num_threads
        self._validate()
        if sparse:
            warn_no_effect("sparse=True", SPARSE_REASON)
        if not (random_state is None
                or isinstance(random_state, (np.random.RandomState, np.random.Generator))
                or (is_integer(random_state) and random_state >= 0)):
            raise ValueError("random_state must be None, a numpy.random.RandomState, a "
                             f"Generator or a non-negative int, got {random_state!r}.")
        if random_state is None:
            random_state = np.random.RandomState()
        elif is_integer(random_state):
            random_state = np.random.RandomState(int(random_state))
        self.random_state = random_state
        # Spotlight draws PyTorch's seed here; it seeds the initial parameters instead.
        if isinstance(random_state, np.random.RandomState):
            self._seed = int(random_state.randint(-10**8, 10**8)) + 10**8
        else:
            self._seed = int(random_state.integers(-10**8, 10**8)) + 10**8
        self._num_items: int | None = None
        self._net: SequenceNet | None = None
        self._network: SequenceNetwork | None = None

    def _validate(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}.")
        representation = self.representation
        if isinstance(representation, str):
            if representation not in REPRESENTATIONS:
                raise ValueError(f"representation must be one of {tuple(REPRESENTATIONS)} or "
                                 f"a representation instance, got {representation!r}.")
        elif not isinstance(representation, SequenceNet):
            raise ValueError(
                "representation must be 'pooling', 'cnn', 'lstm', 'mixture' or an instance of "
                "hybridrec.spotlight.sequence.representations (PoolNet, CNNNet, LSTMNet, "
                f"MixtureLSTMNet), got {type(representation).__name__}: hybridrec has no "
                "PyTorch modules.")
        check_int_in(self.embedding_dim, "embedding_dim", 1)
        check_int_in(self.n_iter, "n_iter", 0)
        check_int_in(self.batch_size, "batch_size", 1)
        _check_real(self.l2, "l2", positive=False)
        _check_real(self.learning_rate, "learning_rate", positive=True)
        check_int_in(self.num_negative_samples, "num_negative_samples", 1)
        check_int_in(self.num_threads, "num_threads", 1)
        if self.use_cuda:
            raise ValueError(
                "use_cuda=True: hybridrec has no GPU path; it trains on the CPU with numba "
                "kernels, in parallel over the sequences of each minibatch (num_threads). "
                "Use use_cuda=False.")
        if self.optimizer_func is not None:
            raise ValueError(
                "optimizer_func takes a PyTorch optimizer factory, which hybridrec cannot use: "
                "it trains with Adam (Spotlight's default) whose step is learning_rate and "
                "whose weight decay is l2. Remove optimizer_func and pass learning_rate / l2 "
                "(hybridrec.sequence.SequenceModel also offers optimizer='adagrad').")

    def __repr__(self) -> str:
        net = "[uninitialised]" if self._net is None else repr(self._net)
        return f"<ImplicitSequenceModel: {net}>"

    @property
    def _initialized(self) -> bool:
        return self._net is not None

    # ------------------------------------------------------------------- fitting

    def _initialize(self, interactions) -> None:
        num_items = int(interactions.num_items)
        representation = self.representation
        if isinstance(representation, str):
            net = REPRESENTATIONS[representation](num_items, self.embedding_dim)
        else:
            net = representation
            if net.num_items < num_items:
                raise ValueError(f"representation has num_items={net.num_items} but the "
                                 f"interactions have num_items={num_items}.")
            if net.network is not None:
                raise ValueError("representation already belongs to another fitted model; "
                                 "build a new representation for a new model.")
        rng = np.random.default_rng(self._seed)
        hashes, n_rows, table = net.engine_item_table(rng)
        network = SequenceNetwork(net.engine_spec(), net.num_items, net.embedding_dim,
                                  loss=self.loss,
                                  n_negatives=int(self.num_negative_samples), optimizer="adam",
                                  learning_rate=float(self.learning_rate), l2=float(self.l2),
                                  rng=rng, hashes=hashes, n_rows=n_rows, initial_table=table)
        net.bind(network)
        self._num_items = num_items
        self._net = net
        self._network = network

    def _check_input(self, item_ids: np.ndarray) -> None:
        if item_ids.size and item_ids.max() >= self._num_items:
            raise ValueError(_TOO_LARGE)

    @staticmethod
    def _sequences(interactions) -> np.ndarray:
        sequences = getattr(interactions, "sequences", None)
        if sequences is None or not hasattr(interactions, "num_items"):
            raise ValueError("interactions must be a SequenceInteractions (with sequences and "
                             "num_items; see Interactions.to_sequence), got "
                             f"{type(interactions).__name__}.")
        array = np.asarray(sequences)
        if array.ndim != 2:
            raise ValueError("interactions.sequences must be a 2-dimensional array "
                             f"(num_sequences x max_sequence_length), got shape {array.shape}.")
        if array.shape[0] == 0 or array.shape[1] == 0:
            raise ValueError(f"interactions.sequences is empty (shape {array.shape}).")
        return _item_ids(array, "interactions.sequences").reshape(array.shape)

    def fit(self, interactions, verbose: bool = False) -> ImplicitSequenceModel:
        """Fit the model; a further call resumes from where the previous one stopped.

        Parameters
        ----------
        interactions : SequenceInteractions
            The input sequence dataset.
        verbose : bool, default False
            Print the loss of every epoch.

        Returns
        -------
        ImplicitSequenceModel
            ``self`` (Spotlight returns None).

        Raises
        ------
        ValueError
            Item ids out of range (Spotlight's ``'Maximum item id greater than number of
            items in model.'``), a degenerate epoch loss (NaN or 0, as Spotlight), or
            diverged parameters.
        """
        sequences = self._sequences(interactions)
        if not self._initialized:
            self._initialize(interactions)
        self._check_input(sequences)
        arrays = SequenceArrays.from_padded(sequences)
        targets = arrays.targets()
        assert self._network is not None   # set just above
        if targets.sum() == 0:
            raise ValueError("interactions.sequences holds only padding (item 0): nothing to "
                             "train on.")
        batch_size = int(self.batch_size)
        for epoch_num in range(int(self.n_iter)):
            epoch_loss = self._network.fit_epoch(arrays, batch_size, self.random_state,
                                                 int(self.num_threads), targets)
            if verbose:
                print(f"Epoch {epoch_num}: loss {epoch_loss}")
            if np.isnan(epoch_loss) or epoch_loss == 0.0:
                raise ValueError(f"Degenerate epoch loss: {epoch_loss}")
            self._network.check_finite()
        return self

    # ----------------------------------------------------------------- prediction

    def predict(self, sequences, item_ids=None) -> np.ndarray:
        """Scores of candidate next items after one sequence of interactions.

        Parameters
        ----------
        sequences : array of int, shape (max_sequence_length,) or (1, max_sequence_length)
            The item ids of one sequence, in order (leading zeros are padding, as made
            by ``to_sequence``).
        item_ids : array of int, optional
            Items to score, shape ``(n,)`` or ``(n, 1)``; default every item
            ``0..num_items - 1`` (item 0, the padding item, scores 0).

        Returns
        -------
        numpy.ndarray of float32, shape (n,)

        Raises
        ------
        ValueError
            Before ``fit``; ids out of range (Spotlight's message) or negative; more
            than one sequence (Spotlight would silently join the rows into one).
        """
        if not self._initialized:
            raise ValueError(_NOT_FITTED)
        array = np.atleast_2d(np.asarray(sequences))
        if array.ndim != 2 or array.shape[0] != 1:
            raise ValueError(
                "predict scores one sequence: pass a 1-d array or shape (1, length), got "
                f"shape {np.shape(sequences)}. For many sequences call predict per row, or "
                "recommend(sequences, k) for top-k lists.")
        sequence = _item_ids(array, "sequences")
        items = None if item_ids is None else _item_ids(item_ids, "item_ids")
        if items is not None:
            self._check_input(items)
        self._check_input(sequence)
        nonzero = np.flatnonzero(sequence)
        pads = int(nonzero[0]) if nonzero.size else int(sequence.shape[0])
        assert self._network is not None   # _check_input refuses an unfitted model
        state = self._network.state(sequence[pads:].astype(np.int32), pads)
        scores = self._network.score_state(state, None if items is None
                                           else items.astype(np.int32))
        if items is None:
            scores = scores[:self._num_items]
        return np.asarray(scores, dtype=np.float32)

    def recommend(self, sequences, k: int = 10, exclude_preceding: bool = True
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` next items after each of many sequences (not in Spotlight).

        Parameters
        ----------
        sequences : array of int, shape (n, max_sequence_length)
            Left-padded sequences (e.g. ``SequenceInteractions.sequences``).
        k : int, default 10
        exclude_preceding : bool, default True
            Leave out the items already in each sequence. The padding item 0 is never
            recommended.

        Returns
        -------
        item_ids : numpy.ndarray of int32, shape (n, k)
            Best first; -1 where fewer than ``k`` items remain.
        scores : numpy.ndarray of float32, shape (n, k)
        """
        if not self._initialized:
            raise ValueError(_NOT_FITTED)
        k = check_int_in(k, "k", 1)
        array = np.asarray(sequences)
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2:
            raise ValueError("sequences must be a 2-dimensional array of left-padded item "
                             f"ids, got shape {array.shape}.")
        matrix = _item_ids(array, "sequences").reshape(array.shape)
        self._check_input(matrix)
        arrays = SequenceArrays.from_padded(matrix)
        assert self._network is not None   # _check_input refuses an unfitted model
        items, scores = recommend_from_arrays(self._network, arrays, k,
                                              bool(exclude_preceding),
                                              int(self.num_threads), shift=0)
        # Item ids beyond the interactions' num_items (a larger net) are not offered.
        outside = items >= self._num_items
        if outside.any():
            items = np.where(outside, -1, items).astype(np.int32)
            scores = np.where(outside, -np.inf, scores).astype(np.float32)
        return items, scores
