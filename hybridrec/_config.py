"""The few numeric constants and dtypes shared by the Python layer and the kernels.

Kernels receive these as arguments (never as module globals of another file), because
numba's on-disk cache does not notice edits to globals defined in other modules.
"""

import numpy as np

#: dtype of every parameter, feature weight, interaction value and sample weight.
FLOAT = np.float32
#: dtype of every id handed to a kernel: user, item and feature rows and columns (CSR
#: ``indices``, ``user_ids`` / ``item_ids``). Ids stay below 2**31 (``IdMapper`` and the
#: shape check refuse more), so int32 halves their memory.
INDEX = np.int32
#: dtype of every position into (or count of) interactions or stored entries handed to a
#: kernel: each CSR ``indptr``, the shuffled epoch order, sequence example positions.
#: Always int64, whatever the size, so that each kernel compiles one specialisation and
#: no count wraps past 2**31 - 1 interactions.
POSITION = np.int64

#: Cap on a single WARP / WARP-kOS loss weight (LightFM's MAX_LOSS).
MAX_LOSS = 10.0

#: Upper bound on redraws when BPR's sampled negative is a positive of the user.
BPR_MAX_REDRAWS = 64

#: Largest positives bit table (``kernels.epoch_inputs.positives_bitset``) the samplers
#: use; beyond it they binary-search the user's row. 32 MiB is e.g. 100k users x 2.6k
#: items; MovieLens-1M needs 2.8 MB.
POSITIVES_BITSET_MAX_BYTES = 32 * 2**20

#: Examples processed between two applications of the L2 decay (see ``model._run_epoch``).
REG_CHUNK_MAX = 32768
REG_CHUNKS_MIN = 16

#: Most examples one training-kernel call takes (an epoch without L2 is one call up to
#: this size): its block bounds ``(block * n) // n_blocks`` stay far inside int64
#: (2**20 blocks x 2**32 examples). Only epochs above 4.3 billion examples are cut.
EPOCH_CHUNK_MAX = 2**32

#: Examples per block of a training epoch: the unit of work the threads take from a
#: shared counter, each with its own random stream (see ``kernels/losses.py``).
TRAIN_BLOCK = 4096

#: Losses and learning schedules the estimator accepts.
LOSSES = ("logistic", "warp", "bpr", "warp-kos", "regression", "poisson", "pointwise",
          "hinge", "adaptive_hinge", "bpr-uniform")
#: Losses that fit the stored values themselves (explicit feedback).
EXPLICIT_LOSSES = ("regression", "poisson")
#: Spotlight's implicit losses (sampled negatives, ``num_negative_samples``).
SAMPLED_LOSSES = ("pointwise", "hinge", "adaptive_hinge")
#: Losses that can draw negatives from the explicit negatives (``negative_mixing``).
MIXING_LOSSES = ("bpr", "warp", "warp-kos", "pointwise", "hinge", "adaptive_hinge",
                 "bpr-uniform")
#: The BPR losses: LightFM's (negatives from the empirical item distribution) and
#: Spotlight's (negatives uniform over the items).
BPR_LOSSES = ("bpr", "bpr-uniform")
SCHEDULES = ("adagrad", "adadelta")
