"""The sequence engine: item embeddings + a representation + a scoring head, trained by
minibatches on every time step of every sequence, as Spotlight trains.

One epoch is one parallel kernel launch (``spec.epoch``): the sequences are shuffled and
cut into minibatches of ``batch_size``; each minibatch's gradient (the mean loss over
its targets, as Spotlight's masked losses; the exact shared-padding-prefix computation
for the CNN and the LSTM) is followed by one optimiser step (``kernels.adam``: Adam as
``torch.optim.Adam`` with ``weight_decay``, or the package's adagrad). Each minibatch
draws its negatives from its own random stream, so they do not depend on the thread
count.

* CNN, LSTM and mixture (``spec.synchronous``): the workers share every minibatch, in
  chunks of ``SEQUENCES_PER_CHUNK`` sequences, and the step follows the whole minibatch
  (``kernels.sequence_sync``), so any thread count runs Spotlight's sequential algorithm:
  bit for bit the same with one thread, equal up to float summation order with more.
  The earlier Hogwild epochs (each worker taking whole minibatches and stepping alone,
  so that a minibatch could be computed from layer weights a step old) trained these
  models measurably worse with two threads (mixture on MovieLens 100K: epoch-10 loss
  0.617 against 0.594 with one; one thread reproduces the 2-thread curve with weights
  one step old). The synchronisation stays inside the one launch and is bounded: a
  worker waits for the previous step about as long as the other workers' last chunks
  and the step should take, and a worker that waits longer (its peer lost its core to
  another process) goes on with weights one step old (``late_starts`` counts it), so a
  loaded machine degrades towards Hogwild instead of stalling. Measured on MovieLens
  100K (batch 32, 2 threads): idle, 1.11-1.17x Hogwild's time with no late start (the
  padding prefix of each minibatch is serial work on every worker); with two CPU-bound
  processes beside it, 1.19-1.29x.
* Pooling (no layer weights): workers take whole minibatches from an atomic counter and
  step the shared embeddings themselves without locks (Hogwild); with two threads its
  loss curve is the one-thread one within 0.001 (MovieLens 100K), and its epoch is
  dominated by the dense Adam step, which the workers then run concurrently.

A first design split every minibatch with two to four parallel launches and barriers
per minibatch; on the shared 2-core machine (load average 5) two threads then took
1.6-2.5x the wall time of one on MovieLens 100K (batch 32, all four representations).

Item id 0 is the padding item everywhere (zero, frozen embedding and bias).
"""

from __future__ import annotations

from typing import cast

import numpy as np

from .._threads import numba_threads
from ..kernels import adam as optimisers
from ..kernels import sequence as heads
from ..kernels import sequence_sync as sync
from ..kernels.adam import ADAGRAD, ADAM
from .data import SequenceArrays
from .representations import MixtureSpec, RepresentationSpec

__all__ = ["LOSS_MODES", "OPTIMIZERS", "SequenceNetwork"]

#: Loss names -> kernel modes.
LOSS_MODES = {"pointwise": heads.POINTWISE, "bpr": heads.BPR, "hinge": heads.HINGE,
              "adaptive_hinge": heads.ADAPTIVE_HINGE, "adaptive_bpr": heads.ADAPTIVE_BPR}
OPTIMIZERS = ("adam", "adagrad")
#: torch.optim.Adam's defaults.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8
_SEED_HIGH = 2**63
#: Sequences per chunk of a synchronous minibatch (the workers' unit of work sharing):
#: small enough that the workers finish a minibatch together.
SEQUENCES_PER_CHUNK = 2


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
        rows = self.n_items if self.hashes is None else int(cast(int, n_rows))
        # Spotlight's ScaledEmbedding: N(0, 1/d) with a zero padding row; ZeroEmbedding.
        if initial_table is None:
            E = rng.normal(0.0, 1.0 / self.d, (rows, self.d)).astype(np.float32)
        else:
            E = np.array(initial_table, dtype=np.float32, order="C", copy=True)
            if E.shape != (rows, self.d):
                raise ValueError(f"initial_table has shape {E.shape}, expected {(rows, self.d)}.")
        E[0] = 0.0
        self._items = {"E": E, "b": np.zeros(self.n_items, dtype=np.float32)}
        if not self.tied:
            Eo = rng.normal(0.0, 1.0 / self.d, (self.n_items, self.d)).astype(np.float32)
            Eo[0] = 0.0
            self._items["Eo"] = Eo
        # The layer weights are packed into one flat vector, which the kernels update.
        layers = spec.initial_parameters(self.d, rng)
        self._layout = [(name, layers[name].shape) for name in spec.theta_names]
        self.theta = np.concatenate([layers[name].reshape(-1) for name in spec.theta_names]
                                    or [np.zeros(0)]).astype(np.float32)
        self._item_state = {name: self._new_optimizer_state(value)
                            for name, value in self._items.items()}
        self._theta_state = self._new_optimizer_state(self.theta)
        self.steps = 0
        self.late_starts = 0
        #: 'mean' (Spotlight's): a minibatch's loss is the mean over its targets; 'sum'.
        self.reduction = "mean"
        self._buffers: dict | None = None
        self._cache: dict = {}

    # ----------------------------------------------------------------- parameters

    def _new_optimizer_state(self, value: np.ndarray) -> tuple:
        """``(m, v)`` of Adam; adagrad's accumulator (from 1) and an unused array (the
        kernels are compiled for both optimisers, so the shapes must agree)."""
        if self.optimizer == "adam":
            return (np.zeros_like(value), np.zeros_like(value))
        return (np.ones_like(value), np.zeros_like(value))

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Every parameter by name (Spotlight / PyTorch names); the layer weights are views
        of ``theta``, so all are live arrays."""
        params = dict(self._items)
        offset = 0
        for name, shape in self._layout:
            size = int(np.prod(shape))
            params[name] = self.theta[offset:offset + size].reshape(shape)
            offset += size
        return params

    @property
    def item_table(self) -> np.ndarray:
        """The item embedding table (the hashed rows with Bloom), a live array."""
        return self._items["E"]

    @property
    def item_bias_table(self) -> np.ndarray:
        """The item biases, a live array."""
        return self._items["b"]

    def item_vectors(self) -> np.ndarray:
        """Effective input item embeddings (the hashed sums with Bloom)."""
        if self.hashes is None:
            return self._items["E"]
        key = ("items", self.steps)
        if key not in self._cache:
            out = np.empty((self.n_items, self.d), dtype=np.float32)
            optimisers.hashed_rows(self._items["E"], self.hashes, out)
            self._cache[key] = out
        return self._cache[key]

    def output_vectors(self) -> np.ndarray:
        """Embeddings that score the items (the input ones when tied)."""
        return self.item_vectors() if self.tied else self._items["Eo"]

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
            if value.size and not np.isfinite(value).all():
                raise ValueError(
                    f"Not all estimated parameters are finite ({name} has NaN or inf), your "
                    "model may have diverged. Try decreasing the learning rate or "
                    "increasing l2.")

    # ------------------------------------------------------------------- training

    def _ensure_buffers(self, n_workers: int) -> dict:
        # The synchronous epochs keep two consecutive minibatches' gradients apart: two
        # buffer slots per worker (kernels.sequence_sync).
        buffers = self._buffers
        if buffers is None or buffers["n_workers"] != n_workers:
            d = self.d
            slots = 2 * n_workers if self.spec.synchronous else n_workers
            gE = np.zeros((slots, self.n_items, d), dtype=np.float32)
            bloom = self.hashes is not None
            rows = self._items["E"].shape[0]
            buffers = {
                "n_workers": n_workers, "gE": gE,
                "gEo": gE if self.tied else np.zeros_like(gE),
                "gb": np.zeros((slots, self.n_items), dtype=np.float32),
                "touched": np.zeros((slots, self.n_items), dtype=np.uint8),
                "g_theta": np.zeros((slots, self.theta.shape[0]), dtype=np.float32),
                "E_items": np.zeros((n_workers, self.n_items if bloom else 0, d), np.float32),
                "table": np.zeros((slots, rows if bloom else 0, d), dtype=np.float32),
                "table_touched": np.zeros((slots, rows if bloom else 0), dtype=np.uint8),
            }
            self._buffers = buffers
        return buffers

    def fit_epoch(self, arrays: SequenceArrays, batch_size: int, rng, num_threads: int,
                  targets: np.ndarray | None = None) -> float:
        """One pass over ``arrays`` in minibatches of ``batch_size`` shuffled sequences
        (minibatches without targets are left out).

        Returns
        -------
        float
            Mean over the minibatches of their mean loss (Spotlight's epoch loss).
        """
        if targets is None:
            targets = arrays.targets()
        order = rng.permutation(len(arrays)).astype(np.int32)
        starts = np.arange(0, order.shape[0], batch_size)
        sizes = np.diff(np.append(starts, order.shape[0]))
        counts = np.add.reduceat(targets[order], starts) if order.shape[0] else starts
        keep = counts > 0
        if not keep.any():
            return 0.0
        order = np.ascontiguousarray(order[np.repeat(keep, sizes)])
        counts = counts[keep].astype(np.float64)
        batch_starts = np.zeros(counts.shape[0] + 1, dtype=np.int64)
        np.cumsum(sizes[keep], out=batch_starts[1:])
        scales = 1.0 / counts if self.reduction == "mean" else np.ones_like(counts)
        rng_states = draw_seeds(rng, counts.shape[0])
        if self.spec.synchronous:
            stats = np.zeros(3, dtype=np.int64)
            streams = (*self._chunk_streams(order, batch_starts, targets, rng_states),
                       float(sync.WAIT_FACTOR), stats)
        else:
            streams = (rng_states,)
        batch_loss = np.zeros(counts.shape[0], dtype=np.float64)
        buffers = self._ensure_buffers(num_threads)
        steps = np.array([self.steps], dtype=np.int64)
        E = self._items["E"]
        Eo = self._items["Eo"] if not self.tied else E
        mE, vE = self._item_state["E"]
        mEo, vEo = self._item_state["Eo"] if not self.tied else (mE, vE)
        common = (order, batch_starts, scales, arrays, E, Eo, self._items["b"], self.tied,
                  self.hashes, self.mode, self.n_negatives)
        optimizer = (ADAM if self.optimizer == "adam" else ADAGRAD, self.learning_rate,
                     ADAM_BETAS[0], ADAM_BETAS[1], ADAM_EPSILON, self.l2, steps, mE, vE,
                     mEo, vEo, *self._item_state["b"])
        kernel_buffers = (buffers["E_items"], buffers["gE"], buffers["gEo"], buffers["gb"],
                          buffers["touched"], buffers["table"], buffers["table_touched"],
                          batch_loss)
        theta_state = (*self._theta_state, buffers["g_theta"])
        with numba_threads(num_threads):
            if self.spec.theta_names:
                self.spec.epoch(common, self.theta, optimizer, theta_state,
                                (*streams, *kernel_buffers))
            else:
                self.spec.epoch(common, self.theta, optimizer, (),
                                (*streams, *kernel_buffers))
        self.steps = int(steps[0])
        #: Minibatches of the last epoch that a worker started before the previous step
        #: was taken (kernels.sequence_sync; 0 with one thread, and on an idle machine).
        self.late_starts = int(streams[-1][sync.LATE_STARTS]) if self.spec.synchronous else 0
        self._cache = {}
        return float(np.mean(batch_loss / counts))

    def _chunk_streams(self, order: np.ndarray, batch_starts: np.ndarray,
                       targets: np.ndarray, rng_states: np.ndarray) -> tuple:
        """The chunks of the synchronous epochs (``kernels.sequence_sync``): every
        minibatch cut into runs of ``SEQUENCES_PER_CHUNK`` sequences, and the stream each
        run starts from (its minibatch's stream past the draws of the runs before it).

        Returns ``(chunk_bounds, chunk_starts, chunk_states)``: int64[n_chunks + 1]
        positions in ``order``, int64[n_batches + 1] first chunk of every minibatch,
        uint64[n_chunks].
        """
        sizes = np.diff(batch_starts)
        per_batch = -(-sizes // SEQUENCES_PER_CHUNK)
        chunk_starts = np.zeros(per_batch.shape[0] + 1, dtype=np.int64)
        np.cumsum(per_batch, out=chunk_starts[1:])
        n_chunks = int(chunk_starts[-1])
        within = np.arange(n_chunks) - np.repeat(chunk_starts[:-1], per_batch)
        chunk_bounds = np.empty(n_chunks + 1, dtype=np.int64)
        chunk_bounds[:-1] = np.repeat(batch_starts[:-1], per_batch) + within * SEQUENCES_PER_CHUNK
        chunk_bounds[-1] = batch_starts[-1]
        per_target = self.n_negatives if heads.is_adaptive(self.mode) else 1
        chunk_draws = (np.add.reduceat(targets[order], chunk_bounds[:-1]).astype(np.int64)
                       * per_target)
        chunk_states = np.empty(n_chunks, dtype=np.uint64)
        sync.chunk_streams(chunk_starts, chunk_draws, rng_states, chunk_states)
        return chunk_bounds, chunk_starts, chunk_states

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
        b = self._items["b"]
        if items is not None:
            Eo, b = Eo[items], b[items]
        if self.spec.dot_scoring:
            return (Eo @ state + b).astype(np.float32)
        return self._mixture_scores(state[None, :], Eo, b)[0]

    def score_states(self, states: np.ndarray, num_threads: int) -> np.ndarray:
        """Scores of every item for each state (float32[n, n_items])."""
        Eo = self.output_vectors()
        b = self._items["b"]
        if self.spec.dot_scoring:
            return (states @ Eo.T + b).astype(np.float32)
        out = np.empty((states.shape[0], self.n_items), dtype=np.float32)
        for start in range(0, states.shape[0], 256):
            out[start:start + 256] = self._mixture_scores(states[start:start + 256], Eo, b)
        return out

    def _mixture_scores(self, states: np.ndarray, Eo: np.ndarray, b: np.ndarray
                        ) -> np.ndarray:
        """Mixture-of-tastes scores (``kernels.sequence_mixture.mixture_score``) of the
        items ``Eo, b`` for states float32[n, 2 m d], as two matrix products: every
        taste and attention vector against every item."""
        m, d = cast(MixtureSpec, self.spec).num_mixtures, self.d
        n = states.shape[0]
        products = (states.reshape(n * 2 * m, d) @ Eo.T).reshape(n, 2 * m, -1)
        logits = products[:, m:]
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        return ((weights * products[:, :m]).sum(axis=1) + b).astype(np.float32)
