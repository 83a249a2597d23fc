"""The four sequence representations: their layer parameters, Spotlight's initialisation,
and the calls into their kernels (``hybridrec.kernels.sequence*``).

A representation maps the items before each position of a sequence to a state ``R[u]``;
the network (``network.SequenceNetwork``) owns the item embeddings, the scoring head
and the optimiser, and asks the representation for minibatch gradients and final
states. Each ``*Spec`` is a small immutable description; ``prepare`` turns the current
parameters into the kernel layouts (transposed weights, prefix tables) once per
minibatch, and ``epoch`` runs the representation's epoch kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._config import INDEX
from ..kernels import sequence as pooling_kernels
from ..kernels import sequence_cnn, sequence_lstm, sequence_recurrent
from .data import SequenceArrays

__all__ = ["CNNSpec", "LSTMSpec", "MixtureSpec", "PoolingSpec", "RepresentationSpec"]


def _f32(values) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float32)


class RepresentationSpec:
    """Interface of a representation (see the module docstring)."""

    kind = ""
    #: Whether the state scores an item by a dot product with its output embedding.
    dot_scoring = True
    #: Layer parameters, in the order they are packed into the flat ``theta`` vector the
    #: epoch kernels read.
    theta_names: ClassVar[tuple[str, ...]] = ()
    #: Whether the epoch kernel shares every minibatch between the workers and steps
    #: once after it (``kernels.sequence_sync``; its streams are per chunk), rather than
    #: letting each worker take whole minibatches and step alone (Hogwild).
    synchronous = False

    def state_width(self, d: int) -> int:
        """Size of ``R[u]``."""
        return d

    def initial_parameters(self, d: int, rng) -> dict[str, np.ndarray]:
        """Layer parameters (float32), initialised as PyTorch initialises the layers."""
        return {}

    def prepare(self, params: dict, max_pads: int) -> dict:
        """Kernel inputs of the scoring kernels for the current parameters (transposed
        weights, prefix tables for ``max_pads`` padding)."""
        return {}

    def epoch(self, common: tuple, theta: np.ndarray, optimizer: tuple, theta_state: tuple,
              buffers: tuple) -> None:
        """Run the representation's epoch kernel (``network.SequenceNetwork.fit_epoch``
        builds the argument groups)."""
        raise NotImplementedError

    def states(self, prepared, E, arrays: SequenceArrays) -> np.ndarray:
        """Final state of every sequence, float32[n, width] (parallel kernel)."""
        raise NotImplementedError

    def state(self, prepared, E, items: np.ndarray, pads: int) -> np.ndarray:
        """Final state of one sequence (serial: for one query at a time)."""
        raise NotImplementedError


@dataclass(frozen=True)
class PoolingSpec(RepresentationSpec):
    """Mean of the preceding items' embeddings (Spotlight's ``PoolNet``).

    Parameters
    ----------
    window : int, default 0
        Pool the ``window`` most recent items; 0 pools all of them.
    shrink : float, default 1.0
        Divide the sum by ``count + shrink`` (Spotlight divides by count + 1, which pulls
        short histories towards zero; 0 gives the plain mean).
    """

    window: int = 0
    shrink: float = 1.0
    kind = "pooling"

    def epoch(self, common, theta, optimizer, theta_state, buffers):
        (order, starts, scales, arrays, E, Eo, b, tied, hashes, mode, n_negatives) = common
        pooling_kernels.pooling_epoch(
            order, starts, scales, arrays.indptr, arrays.items, E, Eo, b, tied, hashes,
            int(self.window), float(self.shrink), mode, n_negatives, *optimizer, *buffers)

    def states(self, prepared, E, arrays):
        out = np.zeros((len(arrays), E.shape[1]), dtype=np.float32)
        if len(arrays):
            pooling_kernels.pooling_states(arrays.indptr, arrays.items, E, int(self.window),
                                           float(self.shrink), out)
        return out

    def state(self, prepared, E, items, pads):
        out = np.zeros(E.shape[1], dtype=np.float32)
        pooling_kernels.pooling_state(items, E, int(self.window), float(self.shrink), out)
        return out


@dataclass(frozen=True)
class CNNSpec(RepresentationSpec):
    """Stacked causal convolutions (Spotlight's ``CNNNet``).

    Parameters
    ----------
    kernel_width, dilation : tuple of int
        One entry per layer.
    relu : bool
        ReLU instead of tanh after each layer.
    residual : bool
        Residual connections between layers.
    """

    kernel_width: tuple = (3,)
    dilation: tuple = (1,)
    relu: bool = False
    residual: bool = True
    kind = "cnn"
    synchronous = True
    theta_names = ("W", "c")

    @property
    def reach(self) -> int:
        return int(sum((k - 1) * q for k, q in zip(self.kernel_width, self.dilation,
                                                  strict=True))) + 1

    def initial_parameters(self, d, rng):
        widths = self.kernel_width
        W = np.zeros((len(widths), max(widths), d, d), dtype=np.float32)
        c = np.zeros((len(widths), d), dtype=np.float32)
        for layer, width in enumerate(widths):
            # torch.nn.Conv2d: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)), bias alike.
            bound = 1.0 / np.sqrt(d * width)
            W[layer, :width] = rng.uniform(-bound, bound, (width, d, d))
            c[layer] = rng.uniform(-bound, bound, d)
        return {"W": W, "c": c}

    def _arrays(self):
        return (np.array(self.kernel_width, dtype=INDEX), np.array(self.dilation, dtype=INDEX))

    def prepare(self, params, max_pads):
        widths, dilations = self._arrays()
        W = params["W"]
        W_t = _f32(W.transpose(0, 1, 3, 2))
        table = np.zeros((len(widths), max_pads + 1, W.shape[2]), dtype=np.float32)
        table_y = np.zeros_like(table)
        sequence_cnn.cnn_prefix(max_pads, W_t, params["c"], widths, dilations, self.relu,
                                self.residual, table, table_y)
        return {"W": W, "W_t": W_t, "c": params["c"], "widths": widths,
                "dilations": dilations, "table": table, "table_y": table_y}

    def epoch(self, common, theta, optimizer, theta_state, buffers):
        (order, starts, scales, arrays, E, Eo, b, tied, hashes, mode, n_negatives) = common
        widths, dilations = self._arrays()
        settings, item_state = optimizer[:7], optimizer[7:]
        sequence_cnn.cnn_epoch(
            order, starts, scales, arrays.indptr, arrays.items, arrays.pads, E, Eo, b, tied,
            hashes, theta, widths, dilations, self.relu, self.residual, mode, n_negatives,
            *settings, *item_state, *theta_state, *buffers)

    def states(self, prepared, E, arrays):
        p = prepared
        out = np.zeros((len(arrays), E.shape[1]), dtype=np.float32)
        if len(arrays):
            sequence_cnn.cnn_states(arrays.indptr, arrays.items, arrays.pads, E, p["W_t"],
                                    p["c"], p["widths"], p["dilations"], self.relu,
                                    self.residual, self.reach, p["table"],
                                    int(arrays.lengths.max()), out)
        return out

    def state(self, prepared, E, items, pads):
        p = prepared
        d = E.shape[1]
        length = pads + items.shape[0] + 1
        n_layers = len(self.kernel_width)
        out = np.zeros(d, dtype=np.float32)
        sequence_cnn.cnn_state(items, pads, E, p["W_t"], p["c"], p["widths"], p["dilations"],
                               self.relu, self.residual, self.reach, p["table"],
                               np.zeros((n_layers + 1, length, d), dtype=np.float32),
                               np.zeros((n_layers, length, d), dtype=np.float32), out)
        return out


@dataclass(frozen=True)
class LSTMSpec(RepresentationSpec):
    """One LSTM layer over the item embeddings (Spotlight's ``LSTMNet``)."""

    kind = "lstm"
    synchronous = True
    theta_names: ClassVar[tuple[str, ...]] = ("W_ih", "W_hh", "b_ih", "b_hh")

    def initial_parameters(self, d, rng):
        # torch.nn.LSTM: every weight and bias U(+-1/sqrt(hidden_size)).
        bound = 1.0 / np.sqrt(d)
        return {name: _f32(rng.uniform(-bound, bound, shape)) for name, shape in
                (("W_ih", (4 * d, d)), ("W_hh", (4 * d, d)), ("b_ih", (4 * d,)),
                 ("b_hh", (4 * d,)))}

    def prepare(self, params, max_pads):
        d = params["W_hh"].shape[1]
        W_ih_t = _f32(params["W_ih"].T)
        W_hh_t = _f32(params["W_hh"].T)
        bias = _f32(params["b_ih"] + params["b_hh"])
        tables = [np.zeros((max_pads + 1, d), dtype=np.float32) for _ in range(3)]
        gates = np.zeros((max_pads + 1, 4 * d), dtype=np.float32)
        sequence_lstm.lstm_prefix(max_pads, W_ih_t, W_hh_t, bias, *tables, gates)
        return {"W_ih": params["W_ih"], "W_hh": params["W_hh"], "W_ih_t": W_ih_t,
                "W_hh_t": W_hh_t, "bias": bias, "tables": (*tables, gates)}

    def epoch(self, common, theta, optimizer, theta_state, buffers):
        (order, starts, scales, arrays, E, Eo, b, tied, hashes, mode, n_negatives) = common
        settings, item_state = optimizer[:7], optimizer[7:]
        sequence_recurrent.recurrent_epoch(
            order, starts, scales, arrays.indptr, arrays.items, arrays.pads, E, Eo, b, tied,
            hashes, theta, self._tastes(), mode, n_negatives, *settings, *item_state,
            *theta_state, *buffers)

    def _tastes(self) -> int:
        # The recurrent kernels' ``m``: 0 is the plain LSTM head.
        return 0

    def _hidden_states(self, prepared, E, arrays):
        p = prepared
        out = np.zeros((len(arrays), E.shape[1]), dtype=np.float32)
        if len(arrays):
            sequence_lstm.lstm_states(arrays.indptr, arrays.items, arrays.pads, E,
                                      p["W_ih_t"], p["W_hh_t"], p["bias"], *p["tables"],
                                      int(arrays.lengths.max()), out)
        return out

    def _hidden_state(self, prepared, E, items, pads):
        p = prepared
        out = np.zeros(E.shape[1], dtype=np.float32)
        sequence_lstm.lstm_state(items, pads, E, p["W_ih_t"], p["W_hh_t"], p["bias"],
                                 *p["tables"], out)
        return out

    def states(self, prepared, E, arrays):
        return self._hidden_states(prepared, E, arrays)

    def state(self, prepared, E, items, pads):
        return self._hidden_state(prepared, E, items, pads)


@dataclass(frozen=True)
class MixtureSpec(LSTMSpec):
    """Mixture-of-tastes LSTM (Spotlight's ``MixtureLSTMNet``).

    Parameters
    ----------
    num_mixtures : int, default 4
        Number of tastes ``m``; the state holds ``m`` taste and ``m`` attention vectors.
    """

    num_mixtures: int = 4
    kind = "mixture"
    dot_scoring = False
    theta_names: ClassVar[tuple[str, ...]] = ("W_ih", "W_hh", "b_ih", "b_hh", "P", "bP")

    def state_width(self, d):
        return 2 * self.num_mixtures * d

    def initial_parameters(self, d, rng):
        params = super().initial_parameters(d, rng)
        width = 2 * self.num_mixtures * d
        bound = 1.0 / np.sqrt(d)          # torch.nn.Conv1d(d, width, kernel_size=1)
        params["P"] = _f32(rng.uniform(-bound, bound, (width, d)))
        params["bP"] = _f32(rng.uniform(-bound, bound, width))
        return params

    def prepare(self, params, max_pads):
        prepared = super().prepare(params, max_pads)
        prepared.update(P=params["P"], P_t=_f32(params["P"].T), bP=params["bP"])
        return prepared

    def _tastes(self) -> int:
        return int(self.num_mixtures)

    def states(self, prepared, E, arrays):
        hidden = self._hidden_states(prepared, E, arrays)
        return _f32(hidden @ prepared["P"].T + prepared["bP"])

    def state(self, prepared, E, items, pads):
        hidden = self._hidden_state(prepared, E, items, pads)
        return _f32(prepared["P"] @ hidden + prepared["bP"])
