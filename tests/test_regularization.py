"""L2 regularisation: the model applies the decay the kernels account for, and strong
regularisation shrinks the model instead of blowing it up."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from hybridrec import LightFM
from hybridrec.kernels import epoch_inputs
from tests import naive


def test_one_epoch_with_l2_matches_reference():
    """One serial epoch (one decay chunk) equals the reference epoch followed by the
    multiplicative decay exp(-sum log(1 + alpha * lr_avg)) of every parameter."""
    rng = np.random.default_rng(0)
    cells = rng.choice(8 * 12, size=30, replace=False)
    train = sp.coo_matrix((np.ones(30, dtype=np.float32), (cells // 12, cells % 12)),
                          shape=(8, 12))
    seed, alpha_user, alpha_item = 5, 0.02, 0.05
    start = LightFM(loss="warp", no_components=3, random_state=seed,
                    user_alpha=alpha_user, item_alpha=alpha_item).fit(train, epochs=0)
    model = LightFM(loss="warp", no_components=3, random_state=seed,
                    user_alpha=alpha_user, item_alpha=alpha_item).fit(train, epochs=1)

    # Replay the model's use of its generator: initialisation, then the shuffle's seed
    # and the blocks' seeds (30 examples: one block).
    generator = np.random.default_rng(seed)
    generator.random((12, 3), dtype=np.float32)
    generator.random((8, 3), dtype=np.float32)
    order = epoch_inputs.shuffled_active(np.ones(30, dtype=np.float32), train.data, True,
                                         generator.integers(1, 2**63, dtype=np.uint64))
    thread_seed = int(generator.integers(1, 2**63, size=1, dtype=np.uint64)[0])

    params = {f"{side}_{suffix}": getattr(start, f"{side}_{suffix}")
              for side in ("user", "item")
              for suffix in ("embeddings", "embedding_gradients", "embedding_momentum",
                             "biases", "bias_gradients", "bias_momentum")}
    reference = naive.NaiveModel(params, np.eye(8), np.eye(12), 0.05, 0.95, 1e-6, False)
    user_decay, item_decay = naive.run_epoch(
        "warp", reference, train.row, train.col, train.data, np.ones(30), order, 8, 12,
        thread_seed, user_alpha=alpha_user, item_alpha=alpha_item)
    assert user_decay > 0 and item_decay > user_decay
    for side, decay in (("user", user_decay), ("item", item_decay)):
        for name in ("embeddings", "biases"):
            np.testing.assert_allclose(getattr(model, f"{side}_{name}"),
                                       reference.p[f"{side}_{name}"] * math.exp(-decay),
                                       rtol=2e-4, atol=1e-6)
        np.testing.assert_allclose(getattr(model, f"{side}_embedding_gradients"),
                                   reference.p[f"{side}_embedding_gradients"], rtol=2e-4)


def test_excessive_regularisation_shrinks_without_blowing_up():
    train = sp.random(200, 300, density=0.05, random_state=1, format="coo", dtype=np.float32)
    for loss in ("logistic", "bpr", "warp", "warp-kos"):
        model = LightFM(loss=loss, item_alpha=1.0, user_alpha=1.0, random_state=0)
        model.fit(train, epochs=3, num_threads=2)
        assert np.isfinite(model.item_embeddings).all()
        assert np.abs(model.item_embeddings).max() < 1e-3
        free = LightFM(loss=loss, random_state=0).fit(train, epochs=3, num_threads=2)
        assert np.abs(free.item_embeddings).max() > 10 * np.abs(model.item_embeddings).max()
