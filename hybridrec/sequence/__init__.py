"""Next-item recommendation from time-ordered item sequences.

* data: ``Sequences`` (one item sequence per user, from ``sequences_from_frame``) and
  ``leave_last_out``;
* ``SequenceModel``: the pooling, causal-CNN, LSTM and mixture-of-tastes representations
  of the sequence engine (``network.py`` over the kernels in ``hybridrec.kernels``),
  trained on every time step of every sequence; it scores an arbitrary new sequence in
  real time (``predict``) and recommends top-k for many (``recommend``);
* baselines (popularity, item-to-item transitions) and ``sequence_metrics``.

``hybridrec.spotlight.sequence`` is Spotlight's API over the same engine.
"""

from .baselines import CooccurrenceBaseline, PopularityBaseline
from .data import Sequences, leave_last_out, sequences_from_frame
from .metrics import sequence_metrics
from .model import SequenceModel

__all__ = [
    "CooccurrenceBaseline", "PopularityBaseline", "SequenceModel", "Sequences",
    "leave_last_out", "sequence_metrics", "sequences_from_frame",
]
