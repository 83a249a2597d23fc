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
#: ... and at most this many bytes per positive and epoch of the call: building it is a
#: serial pass writing the whole table (zeroed pages), which a call must repay with
#: cheaper lookups. StackExchange (3.2k users x 72k items: 29 MB for 57k positives) has
#: a 1-epoch ``fit_partial`` pay ~10 ms for it and save less; MovieLens-1M (2.8 MB for
#: 575k positives) always builds it.
POSITIVES_BITSET_BYTES_PER_EXAMPLE = 256

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
#: Each kernel call (one L2 chunk, or the epoch without L2) is cut into at least this
#: many blocks, as long as blocks keep ``TRAIN_MIN_BLOCK_SIZE`` examples
#: (``_epochs.block_count``): with L2 on a small data set a chunk is a few thousand
#: examples, and a single block of up to 4096 left every thread but one idle
#: (StackExchange's 57k examples: 16 one-block calls). A block is a random stream, so
#: this sets the floats of every call under 16 x 4096 examples; 1 restores the layout
#: (and floats) from before it. Test AUC is unchanged within noise (benchmarks/README.md,
#: issue 19: StackExchange over 60 seeds).
TRAIN_MIN_BLOCKS = 16
TRAIN_MIN_BLOCK_SIZE = 128

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
