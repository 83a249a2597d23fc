"""The sequence engine: item embeddings + a representation + a scoring head, trained by
minibatches on every time step of every sequence, as Spotlight trains.

One minibatch (``batch_size`` sequences of a per-epoch shuffle) is one optimiser step:

1. the representation's kernel computes the gradient of the mean loss over the batch's
   targets with the parameters held fixed, in parallel over blocks of
   ``BLOCK_SIZE`` sequences (each block with its own random stream, so the negatives do
   not depend on the thread count), each worker adding into its own gradient buffers;
2. the prefix-table gradients go through the shared padding prefix (``CNNSpec``,
   ``LSTMSpec``);
3. the optimiser (``kernels.adam``: Adam as ``torch.optim.Adam`` with ``weight_decay``,
   or the package's adagrad) sums the workers' buffers and updates every parameter.

This is data-parallel synchronous SGD: lock-free (each worker writes only its own
buffers; the shared parameters change only in step 3), the same algorithm as
Spotlight's at any thread count, and bit-for-bit reproducible with one thread. The
measured alternative, Hogwild steps per block, would let two threads apply steps
computed from the same parameters and would still need per-block buffers for the dense
layer weights; with ~4 optimiser steps per epoch on MovieLens (256 sequences of 200)
there is nothing for it to gain, while the reduction costs 1-3 % of a batch
(benchmarks/README.md).

Item id 0 is the padding item everywhere (zero, frozen embedding and bias).
"""

from __future__ import annotations

import numpy as np

from .._threads import numba_threads
from ..kernels import adam as optimisers
from ..kernels import sequence as heads
from ..kernels import sequence_mixture
from .data import SequenceArrays
from .representations import RepresentationSpec

__all__ = ["BLOCK_SIZE", "LOSS_MODES", "OPTIMIZERS", "SequenceNetwork"]

#: Sequences per block: the unit of parallel work, each with its own random stream.
BLOCK_SIZE = 4
#: Loss names -> kernel modes.
LOSS_MODES = {"pointwise": heads.POINTWISE, "bpr": heads.BPR, "hinge": heads.HINGE,
              "adaptive_hinge": heads.ADAPTIVE_HINGE, "adaptive_bpr": heads.ADAPTIVE_BPR}
OPTIMIZERS = ("adam", "adagrad")
#: torch.optim.Adam's defaults.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8
_SEED_HIGH = 2**63


def draw_seeds(rng, count: int) -> np.ndarray:
    """``count`` non-zero uint64 stream seeds from a ``Generator`` or ``RandomState``."""
    if isinstance(rng, np.random.RandomState):
        return rng.randint(1, _SEED_HIGH, size=count, dtype=np.uint64)
    return rng.integers(1, _SEED_HIGH, size=count, dtype=np.uint64)


class SequenceNetwork:
    """Parameters, optimiser state and training / scoring of one sequence model.

    Parameters
    ----------
    spec : RepresentationSpec
    n_items : int
        Items including the padding item 0.
    d : int
        Embedding dimension.
    loss : str
        A key of ``LOSS_MODES``.
    n_negatives : int
        Negatives per target of the adaptive losses.
    optimizer : {'adam', 'adagrad'}
    learning_rate, l2 : float
    rng : numpy.random.Generator or numpy.random.RandomState
        Draws the initial parameters here, and later the shuffles and stream seeds.
    tied : bool, default True
        Score items with their input embeddings (Spotlight); else separate output ones.
    hashes : int32 array (n_items, n_hashes), optional
        Bloom embeddings: item ``i`` is the sum of rows ``hashes[i]`` of a table of
        ``n_rows`` rows (row 0 frozen at zero).
    n_rows : int, optional
        Rows of the hashed table.
    initial_table : float32 array (rows, d), optional
        Initial item embedding table (row 0 is zeroed); default drawn here.
    """

    def __init__(self, spec: RepresentationSpec, n_items: int, d: int, *, loss: str,
                 n_negatives: int, optimizer: str, learning_rate: float, l2: float, rng,
                 tied: bool = True, hashes: np.ndarray | None = None,
                 n_rows: int | None = None, initial_table: np.ndarray | None = None) -> None:
        self.spec = spec
        self.n_items = int(n_items)
        self.d = int(d)
        self.mode = LOSS_MODES[loss]
        self.n_negatives = int(n_negatives)
        self.optimizer = optimizer
        self.learning_rate = float(learning_rate)
        self.l2 = float(l2)
        self.tied = bool(tied)
        self.hashes = None if hashes is None else np.ascontiguousarray(hashes, np.int32)
        rows = self.n_items if self.hashes is None else int(n_rows)
        # Spotlight's ScaledEmbedding: N(0, 1/d) with a zero padding row; ZeroEmbedding.
        if initial_table is None:
            E = rng.normal(0.0, 1.0 / self.d, (rows, self.d)).astype(np.float32)
        else:
            E = np.array(initial_table, dtype=np.float32, order="C", copy=True)
            if E.shape != (rows, self.d):
                raise ValueError(f"initial_table has shape {E.shape}, expected {(rows, self.d)}.")
        E[0] = 0.0
        self.params = {"E": E, "b": np.zeros(self.n_items, dtype=np.float32)}
        if not self.tied:
            Eo = rng.normal(0.0, 1.0 / self.d, (self.n_items, self.d)).astype(np.float32)
            Eo[0] = 0.0
            self.params["Eo"] = Eo
        self.params.update(spec.initial_parameters(self.d, rng))
        self._state = {name: self._new_optimizer_state(value)
                       for name, value in self.params.items()}
        self.steps = 0
        #: 'mean' (Spotlight's): a minibatch's loss is the mean over its targets; 'sum'.
        self.reduction = "mean"
        self._buffers: dict | None = None
        self._cache: dict = {}

    # ----------------------------------------------------------------- parameters

    def _new_optimizer_state(self, value: np.ndarray) -> tuple:
        if self.optimizer == "adam":
            return (np.zeros_like(value), np.zeros_like(value))
        return (np.ones_like(value),)

    @property
    def item_table(self) -> np.ndarray:
        """The item embedding table (the hashed rows with Bloom), a live array."""
        return self.params["E"]

    @property
    def item_bias_table(self) -> np.ndarray:
        """The item biases, a live array."""
        return self.params["b"]

    def item_vectors(self) -> np.ndarray:
        """Effective input item embeddings (the hashed sums with Bloom)."""
        if self.hashes is None:
            return self.params["E"]
        key = ("items", self.steps)
        if key not in self._cache:
            out = np.empty((self.n_items, self.d), dtype=np.float32)
            optimisers.hashed_rows(self.params["E"], self.hashes, out)
            self._cache[key] = out
        return self._cache[key]

    def output_vectors(self) -> np.ndarray:
        """Embeddings that score the items (the input ones when tied)."""
        return self.item_vectors() if self.tied else self.params["Eo"]

    def _prepared(self, max_pads: int) -> dict:
        """``spec.prepare`` for the current parameters, cached until the next step."""
        key = ("prepared", self.steps)
        cached = self._cache.get(key)
        if cached is None or cached[0] < max_pads:
            self._cache = {k: v for k, v in self._cache.items() if k[1] == self.steps}
            cached = (max_pads, self.spec.prepare(self.params, max_pads))
            self._cache[key] = cached
        return cached[1]

    def check_finite(self) -> None:
        """Raise if training diverged (the package's divergence message)."""
        for name, value in self.params.items():
            if not np.isfinite(value).all():
                raise ValueError(
                    f"Not all estimated parameters are finite ({name} has NaN or inf), your "
                    "model may have diverged. Try decreasing the learning rate or "
                    "increasing l2.")

    # ------------------------------------------------------------------- training

    def _ensure_buffers(self, n_workers: int, max_pads: int) -> dict:
        buffers = self._buffers
        if buffers is None or buffers["n_workers"] != n_workers or buffers["max_pads"] < max_pads:
            gE = np.zeros((n_workers, self.n_items, self.d), dtype=np.float32)
            buffers = {
                "n_workers": n_workers, "max_pads": max_pads, "gE": gE,
                "gEo": gE if self.tied else np.zeros_like(gE),
                "gb": np.zeros((n_workers, self.n_items), dtype=np.float32),
                "touched": np.zeros(self.n_items, dtype=np.uint8),
                "layers": self.spec.gradient_buffers(self.params, n_workers, max_pads),
            }
            if self.hashes is not None:
                rows = self.params["E"].shape[0]
                buffers["table"] = np.zeros((1, rows, self.d), dtype=np.float32)
                buffers["table_touched"] = np.zeros(rows, dtype=np.uint8)
            self._buffers = buffers
        return buffers

    def fit_epoch(self, arrays: SequenceArrays, batch_size: int, rng, num_threads: int,
                  targets: np.ndarray | None = None) -> float:
        """One pass over ``arrays`` in minibatches of ``batch_size`` shuffled sequences.

        Returns
        -------
        float
            Mean over the minibatches of their mean loss (Spotlight's epoch loss).
        """
        if targets is None:
            targets = arrays.targets()
        buffers = self._ensure_buffers(num_threads, int(arrays.pads.max(initial=0)))
        order = rng.permutation(len(arrays)).astype(np.int32)
        losses = []
        for start in range(0, order.shape[0], batch_size):
            batch = order[start:start + batch_size]
            count = int(targets[batch].sum())
            if count == 0:
                continue
            losses.append(self._step(arrays, batch, count, rng, num_threads, buffers))
        return float(np.mean(losses)) if losses else 0.0

    def _step(self, arrays, batch, count, rng, num_threads, buffers) -> float:
        n_blocks = -(-batch.shape[0] // BLOCK_SIZE)
        rng_states = draw_seeds(rng, n_blocks)
        block_loss = np.zeros(n_blocks, dtype=np.float64)
        max_pads = int(arrays.pads[batch].max())
        prepared = self._prepared(max_pads)
        E = self.item_vectors()
        Eo = self.output_vectors()
        scale = 1.0 / count if self.reduction == "mean" else 1.0
        layers = buffers["layers"]
        with numba_threads(num_threads):
            self.spec.batch_gradients(prepared, E, Eo, self.params["b"], arrays, batch,
                                      self.mode, self.n_negatives, scale, BLOCK_SIZE,
                                      rng_states, buffers["gE"], buffers["gEo"],
                                      buffers["gb"], layers, buffers["touched"], block_loss)
            self.spec.finish_gradients(prepared, layers, max_pads)
            self._apply(buffers)
        return float(block_loss.sum() / count)

    def _apply(self, buffers: dict) -> None:
        """One optimiser step of every parameter from the summed worker buffers."""
        self.steps += 1
        touched = buffers["touched"]
        rows = {"b": (self.params["b"].reshape(-1, 1),
                      buffers["gb"].reshape(buffers["gb"].shape[0], -1, 1))}
        if not self.tied:
            rows["Eo"] = (self.params["Eo"], buffers["gEo"])
        if self.hashes is None:
            rows["E"] = (self.params["E"], buffers["gE"])
        else:
            optimisers.scatter_hashed(buffers["gE"], touched.copy(), self.hashes,
                                      buffers["table"], buffers["table_touched"])
        names = list(rows)
        for position, name in enumerate(names):
            value, grads = rows[name]
            flags = touched if position == len(names) - 1 else touched.copy()
            self._step_rows(name, value, grads, flags)
        if self.hashes is not None:
            self._step_rows("E", self.params["E"], buffers["table"], buffers["table_touched"])
        gradients = self.spec.layer_gradients(buffers["layers"])
        seen: dict[int, int] = {}
        for name, grads in gradients.items():
            # A buffer shared by two parameters is read by both (copied for the first).
            seen[id(grads)] = seen.get(id(grads), 0) + 1
        for name, grads in gradients.items():
            seen[id(grads)] -= 1
            flat = grads.reshape(grads.shape[0], -1)
            if seen[id(grads)] > 0:
                flat = flat.copy()
            self._step_dense(name, self.params[name].reshape(-1), flat)

    def _step_rows(self, name, value, grads, touched) -> None:
        state = self._state[name]
        if self.optimizer == "adam":
            m, v = (s.reshape(value.shape) for s in state)
            optimisers.adam_rows(value, grads, touched, m, v, self.learning_rate,
                                 ADAM_BETAS[0], ADAM_BETAS[1], ADAM_EPSILON, self.l2,
                                 self.steps, 0)
        else:
            optimisers.adagrad_rows(value, grads, touched, state[0].reshape(value.shape),
                                    self.learning_rate, self.l2, 0)

    def _step_dense(self, name, value, grads) -> None:
        state = self._state[name]
        if self.optimizer == "adam":
            optimisers.adam_dense(value, grads, state[0].reshape(-1), state[1].reshape(-1),
                                  self.learning_rate, ADAM_BETAS[0], ADAM_BETAS[1],
                                  ADAM_EPSILON, self.l2, self.steps)
        else:
            optimisers.adagrad_dense(value, grads, state[0].reshape(-1), self.learning_rate,
                                     self.l2)

    # -------------------------------------------------------------------- scoring

    def states(self, arrays: SequenceArrays, num_threads: int) -> np.ndarray:
        """Final state of every sequence (float32[n, width])."""
        prepared = self._prepared(int(arrays.pads.max(initial=0)))
        with numba_threads(num_threads):
            return self.spec.states(prepared, self.item_vectors(), arrays)

    def state(self, items: np.ndarray, pads: int = 0) -> np.ndarray:
        """Final state of one sequence (``items`` int32 after ``pads`` padding)."""
        prepared = self._prepared(int(pads))
        return self.spec.state(prepared, self.item_vectors(),
                               np.ascontiguousarray(items, dtype=np.int32), int(pads))

    def score_state(self, state: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """Scores of ``items`` (default: all, padding item included) for one state."""
        Eo = self.output_vectors()
        b = self.params["b"]
        if self.spec.dot_scoring:
            if items is None:
                return (Eo @ state + b).astype(np.float32)
            return (Eo[items] @ state + b[items]).astype(np.float32)
        if items is None:
            items = np.arange(self.n_items, dtype=np.int32)
        out = np.empty(items.shape[0], dtype=np.float32)
        sequence_mixture.mixture_scores_serial(state, Eo, b, self.spec.num_mixtures,
                                               np.ascontiguousarray(items, np.int32), out)
        return out

    def score_states(self, states: np.ndarray, num_threads: int) -> np.ndarray:
        """Scores of every item for each state (float32[n, n_items])."""
        Eo = self.output_vectors()
        b = self.params["b"]
        if self.spec.dot_scoring:
            return (states @ Eo.T + b).astype(np.float32)
        out = np.empty((states.shape[0], self.n_items), dtype=np.float32)
        with numba_threads(num_threads):
            sequence_mixture.mixture_scores(np.ascontiguousarray(states), Eo, b,
                                            self.spec.num_mixtures,
                                            np.arange(self.n_items, dtype=np.int32), out)
        return out
