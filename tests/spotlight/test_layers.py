"""hybridrec.spotlight.layers: Spotlight's Bloom hashing bit for bit, layer lookups."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from hybridrec.spotlight.factorization.implicit import ImplicitFactorizationModel
from hybridrec.spotlight.factorization.representations import BilinearNet
from hybridrec.spotlight.interactions import Interactions
from hybridrec.spotlight.layers import SEEDS, BloomEmbedding, ScaledEmbedding, ZeroEmbedding

# Spotlight 0.1.6's BloomEmbedding._get_hashed_indices over all ids: sha256 of the int64
# (num_embeddings, num_hash_functions) array and its first rows.
SPOTLIGHT_HASHES = [
    ((944, 0.2, 2, 0), "3eeee3a2c9f5833701fc72efe586b5e38d739a5e701e656805437d6f4410e5c3",
     [[0, 0], [57, 96], [149, 48]]),
    ((1683, 1.5, 4, 0), "c59e260c412b92603735da5473a2b2c6ef7a3c4ad5a182c05a2829a12ad752e4",
     [[0, 0, 0, 0], [1777, 956, 1274, 1674], [1061, 1752, 1744, 239]]),
    ((100, 0.5, 3, 5), "09e94c993ef74877ea419507050fc0795ea28a04d9b6048777629b7ee875dbc3",
     [[13, 10, 48], [1, 32, 32], [11, 2, 6]]),
]


@pytest.mark.parametrize("arguments, digest, first_rows", SPOTLIGHT_HASHES)
def test_bloom_hashes_are_spotlights(arguments, digest, first_rows):
    n, ratio, hashes, padding = arguments
    layer = BloomEmbedding(n, 8, compression_ratio=ratio, num_hash_functions=hashes,
                           padding_idx=padding)
    indices = layer.hashed_indices()
    assert indices.dtype == np.int64 and indices.shape == (n, hashes)
    assert hashlib.sha256(np.ascontiguousarray(indices).tobytes()).hexdigest() == digest
    assert indices[:3].tolist() == first_rows
    assert layer.compressed_num_embeddings == int(ratio * n)


def test_bloom_feature_matrix():
    layer = BloomEmbedding(100, 8, compression_ratio=0.5, num_hash_functions=3, padding_idx=5)
    matrix = layer.feature_matrix()
    assert matrix.shape == (100, 50) and matrix.dtype == np.float32
    hashes = layer.hashed_indices()
    for i in (0, 1, 5, 99):
        expected = np.zeros(50)
        for bucket in hashes[i]:
            if bucket != 5:  # table row padding_idx is fixed at zero (Spotlight's layer)
                expected[bucket] += 1
        np.testing.assert_array_equal(matrix[i].toarray().ravel(), expected)
    # Id 1 hashes twice to row 32: weight 2, as Spotlight's sum of embeddings gives.
    assert matrix[1, 32] == 2.0
    assert (matrix[:, 5].toarray() == 0).all()
    free = BloomEmbedding(100, 8, compression_ratio=0.5, num_hash_functions=2,
                          padding_idx=None)
    assert free.feature_matrix().sum() == 200  # every hash kept


def test_layer_errors():
    with pytest.raises(ValueError, match="Can use at most 24 hash functions"):
        BloomEmbedding(10, 4, compression_ratio=1.0, num_hash_functions=len(SEEDS) + 1)
    with pytest.raises(ValueError, match="leaves 1 table rows"):
        BloomEmbedding(10, 4, compression_ratio=0.1)
    with pytest.raises(ValueError, match="compression_ratio must be a number > 0"):
        BloomEmbedding(10, 4, compression_ratio=-1.0)
    with pytest.raises(ValueError, match="embedding_dim must be a positive integer"):
        ScaledEmbedding(10, 0)
    with pytest.raises(ValueError, match="has no parameters yet"):
        ScaledEmbedding(10, 4)(np.array([1]))
    assert ScaledEmbedding(10, 4).weight is None


@pytest.mark.parametrize("layer_class", [ScaledEmbedding, BloomEmbedding])
def test_embeddings_shapes(layer_class):
    # Spotlight's test_embeddings, on a layer whose parameters a fitted model holds.
    num_embeddings, embedding_dim = 1000, 16
    layer = layer_class(num_embeddings, embedding_dim)
    other = layer_class(50, embedding_dim)
    net = BilinearNet(num_embeddings, 50, user_embedding_layer=layer, item_embedding_layer=other)
    rng = np.random.default_rng(0)
    data = Interactions(rng.integers(1, num_embeddings, 500), rng.integers(1, 50, 500),
                        num_users=num_embeddings, num_items=50)
    ImplicitFactorizationModel(loss="bpr", n_iter=1, representation=net,
                               random_state=np.random.RandomState(0)).fit(data)
    indices = rng.integers(0, num_embeddings, 32)
    assert layer(indices).shape == (32, embedding_dim)
    indices = rng.integers(0, num_embeddings, (32, 8))
    representation = layer(indices)
    assert representation.shape == (32, 8, embedding_dim)
    np.testing.assert_allclose(representation[3, 4], layer(indices[3:4, 4])[0])
    if layer_class is ScaledEmbedding:
        np.testing.assert_array_equal(layer(np.array([7]))[0], layer.weight[7])
    with pytest.raises(ValueError, match="indices must be in"):
        layer(np.array([num_embeddings]))


def test_zero_embedding_initialisation():
    layer = ZeroEmbedding(5, 3)
    np.testing.assert_array_equal(layer.initial_weights(np.random.default_rng(0)),
                                  np.zeros((5, 3)))
    scaled = ScaledEmbedding(2000, 10, padding_idx=0).initial_weights(np.random.default_rng(0))
    assert abs(scaled[1:].std() - 0.1) < 0.005 and (scaled[0] == 0).all()
