"""The samplers' membership test: the positives bit table and the binary search over the
user's row draw exactly the same negatives, so a fit does not depend on which one the
catalogue size selects (``_config.POSITIVES_BITSET_MAX_BYTES``)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hybridrec import LightFM, _config


def _interactions() -> sp.coo_matrix:
    rng = np.random.default_rng(5)
    dense = rng.random((60, 90)) < 0.2
    dense[:, :5] = rng.random((60, 5)) < 0.9  # popular items: many draws are positives
    return sp.coo_matrix(dense.astype(np.float32))


@pytest.mark.parametrize("loss, extra", [("warp", {}), ("warp-kos", {}), ("bpr", {}),
                                         ("hinge", {"num_negative_samples": 3})])
def test_bit_table_and_binary_search_fit_identically(loss, extra, monkeypatch):
    interactions = _interactions()

    def fit() -> LightFM:
        model = LightFM(loss=loss, no_components=8, random_state=3, **extra)
        return model.fit(interactions, epochs=3, num_threads=1)

    with_table = fit()
    monkeypatch.setattr(_config, "POSITIVES_BITSET_MAX_BYTES", 0)
    with_search = fit()
    for name in ("item_embeddings", "user_embeddings", "item_biases", "user_biases",
                 "item_embedding_gradients", "user_embedding_gradients"):
        np.testing.assert_array_equal(getattr(with_table, name), getattr(with_search, name),
                                      err_msg=f"{loss}: {name}")


def test_table_is_used_for_small_catalogues_only(monkeypatch):
    """The model builds the table only under the size limit (else an empty one: search)."""
    from hybridrec.kernels import epoch_inputs

    built = []
    real = epoch_inputs.positives_bitset

    def spy(*args):
        table = real(*args)
        built.append(table.nbytes)
        return table

    monkeypatch.setattr(epoch_inputs, "positives_bitset", spy)
    interactions = _interactions()
    LightFM(loss="warp", no_components=4, random_state=0).fit(interactions)
    assert built == [60 * 2 * 8]  # 90 items -> 2 words per user
    monkeypatch.setattr(_config, "POSITIVES_BITSET_MAX_BYTES", 60 * 2 * 8 - 1)
    LightFM(loss="warp", no_components=4, random_state=0).fit(interactions)
    assert built == [60 * 2 * 8]


def test_table_is_built_only_when_the_call_repays_it(monkeypatch):
    """A table much larger than the call's positives times its epochs is not built (its
    serial construction would cost more than the lookups it saves); the fit is the same
    either way (see the first test)."""
    from hybridrec.kernels import epoch_inputs

    built = []
    real = epoch_inputs.positives_bitset

    def spy(*args):
        table = real(*args)
        built.append(table.nbytes)
        return table

    monkeypatch.setattr(epoch_inputs, "positives_bitset", spy)
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 60, 100), rng.integers(0, 6400, 100)
    interactions = sp.coo_matrix((np.ones(100, dtype=np.float32), (rows, cols)),
                                 shape=(60, 6400))
    positives = sp.csr_matrix(interactions).nnz  # distinct cells
    table_bytes = 60 * 100 * 8
    per_epoch = _config.POSITIVES_BITSET_BYTES_PER_EXAMPLE * positives
    epochs_needed = -(-table_bytes // per_epoch)
    assert epochs_needed >= 2  # the data is built so that one epoch does not repay it
    LightFM(loss="warp", no_components=4, random_state=0).fit(interactions,
                                                              epochs=epochs_needed - 1)
    assert built == []
    LightFM(loss="warp", no_components=4, random_state=0).fit(interactions,
                                                              epochs=epochs_needed)
    assert built == [table_bytes]
