"""Spotlight's sequence-model accuracy expectations, for the front door.

A port of Spotlight 0.1.6's tests/sequence/test_sequence_implicit.py: the same synthetic
data (``generate_sequential`` with RandomState(42), order 2, user-based split, sequences
of 10; bit for bit Spotlight's data), the same model settings, metric and thresholds.

Spotlight's test fits each model once, from the RandomState that made the data. That is
one draw of the training randomness (initial weights, shuffles, negatives): measured on
the same data with PyTorch 2.13, Spotlight's own LSTM reaches 0.598-0.652 over model
seeds, so its 0.61 threshold holds for some seeds and not others. Here each case fits
``len(MODEL_SEEDS)`` models on Spotlight's data -- the first from the data's RandomState
exactly as in Spotlight's test, the others from fresh RandomStates -- and asserts that
their mean MRR clears Spotlight's threshold. Everything is deterministic (one thread,
fixed seeds).

Measured (the five models' mean, and their range; concentration 1e-3 unless noted):
pooling 0.194 (0.179-0.206); lstm 0.619 (0.570-0.658); cnn 0.660 (0.643-0.683); cnn
kernel 3 on 20,000 interactions, 1 layer 0.653 (0.648-0.659), 2 dilated layers 0.683
(0.669-0.694); mixture 0.496 (0.461-0.545); random data (concentration 100) 0.049-0.055;
pooling losses pointwise 0.168, hinge 0.179, bpr 0.194, adaptive_hinge 0.183; Bloom
(compression 0.2 / 0.5 / 1.0) cnn 0.248 / 0.402 / 0.523, lstm 0.498 / 0.655 / 0.670,
pooling 0.073 / 0.113 / 0.146.
"""

from __future__ import annotations

import numpy as np
import pytest

from hybridrec.spotlight.cross_validation import user_based_train_test_split
from hybridrec.spotlight.datasets import synthetic
from hybridrec.spotlight.evaluation import sequence_mrr_score
from hybridrec.spotlight.layers import BloomEmbedding
from hybridrec.spotlight.sequence.implicit import ImplicitSequenceModel
from hybridrec.spotlight.sequence.representations import CNNNet, LSTMNet, PoolNet

pytestmark = pytest.mark.accuracy

RANDOM_SEED = 42
NUM_EPOCHS = 5
EMBEDDING_DIM = 32
BATCH_SIZE = 128
LOSS = "bpr"
#: None: continue the data's RandomState (Spotlight's test); an int: a fresh RandomState.
MODEL_SEEDS = [None, 1, 2, 3, 4]


def _get_synthetic_data(num_users=100, num_items=100, num_interactions=10000,
                        randomness=0.01, order=2, max_sequence_length=10,
                        random_state=None):
    interactions = synthetic.generate_sequential(num_users=num_users, num_items=num_items,
                                                 num_interactions=num_interactions,
                                                 concentration_parameter=randomness,
                                                 order=order, random_state=random_state)
    train, test = user_based_train_test_split(interactions, random_state=random_state)
    train = train.to_sequence(max_sequence_length=max_sequence_length, step_size=None)
    test = test.to_sequence(max_sequence_length=max_sequence_length, step_size=None)
    return train, test


def _mean_mrr(build, randomness=1e-3, num_interactions=10000):
    """Mean test MRR of the models ``build(train, random_state)`` over MODEL_SEEDS."""
    values = []
    for seed in MODEL_SEEDS:
        random_state = np.random.RandomState(RANDOM_SEED)
        train, test = _get_synthetic_data(randomness=randomness,
                                          num_interactions=num_interactions,
                                          random_state=random_state)
        if seed is not None:
            random_state = np.random.RandomState(seed)
        model = build(train, random_state)
        model.fit(train)
        values.append(sequence_mrr_score(model, test).mean())
    return float(np.mean(values))


def _model(random_state, **kwargs):
    kwargs.setdefault("loss", LOSS)
    kwargs.setdefault("batch_size", BATCH_SIZE)
    return ImplicitSequenceModel(random_state=random_state, **kwargs)


@pytest.mark.parametrize("randomness, expected_mrr", [(1e-3, 0.18), (1e2, 0.03)])
def test_implicit_pooling_synthetic(randomness, expected_mrr):
    mrr = _mean_mrr(lambda train, rs: _model(rs, embedding_dim=EMBEDDING_DIM,
                                             learning_rate=1e-1, l2=1e-9, n_iter=NUM_EPOCHS),
                    randomness)
    assert mrr > expected_mrr


@pytest.mark.parametrize("randomness, expected_mrr", [(1e-3, 0.61), (1e2, 0.03)])
def test_implicit_lstm_synthetic(randomness, expected_mrr):
    mrr = _mean_mrr(lambda train, rs: _model(rs, representation="lstm",
                                             embedding_dim=EMBEDDING_DIM, learning_rate=1e-2,
                                             l2=1e-7, n_iter=NUM_EPOCHS * 5), randomness)
    assert mrr > expected_mrr


@pytest.mark.parametrize("randomness, expected_mrr", [(1e-3, 0.65), (1e2, 0.03)])
def test_implicit_cnn_synthetic(randomness, expected_mrr):
    def build(train, rs):
        net = CNNNet(train.num_items, embedding_dim=EMBEDDING_DIM, kernel_width=5,
                     num_layers=1)
        return _model(rs, representation=net, learning_rate=1e-2, l2=0.0,
                      n_iter=NUM_EPOCHS * 5)
    assert _mean_mrr(build, randomness) > expected_mrr


@pytest.mark.parametrize("num_layers, dilation, expected_mrr", [(1, (1,), 0.65),
                                                                (2, (1, 2), 0.65)])
def test_implicit_cnn_dilation_synthetic(num_layers, dilation, expected_mrr):
    def build(train, rs):
        net = CNNNet(train.num_items, embedding_dim=EMBEDDING_DIM, kernel_width=3,
                     dilation=dilation, num_layers=num_layers)
        return _model(rs, representation=net, learning_rate=1e-2, l2=0.0,
                      n_iter=NUM_EPOCHS * 5 * num_layers)
    assert _mean_mrr(build, 1e-3, num_interactions=20000) > expected_mrr


@pytest.mark.parametrize("randomness, expected_mrr", [(1e-3, 0.3), (1e2, 0.03)])
def test_implicit_lstm_mixture_synthetic(randomness, expected_mrr):
    mrr = _mean_mrr(lambda train, rs: _model(rs, representation="mixture",
                                             embedding_dim=EMBEDDING_DIM, learning_rate=1e-2,
                                             l2=1e-7, n_iter=NUM_EPOCHS * 10), randomness)
    assert mrr > expected_mrr


@pytest.mark.parametrize("loss, expected_mrr", [("pointwise", 0.15), ("hinge", 0.16),
                                                ("bpr", 0.18), ("adaptive_hinge", 0.16)])
def test_implicit_pooling_losses(loss, expected_mrr):
    mrr = _mean_mrr(lambda train, rs: _model(rs, loss=loss, embedding_dim=EMBEDDING_DIM,
                                             learning_rate=1e-1, l2=1e-9, n_iter=NUM_EPOCHS))
    assert mrr > expected_mrr


def _bloom(train, compression_ratio, num_hash_functions):
    return BloomEmbedding(train.num_items, 32, compression_ratio=compression_ratio,
                          num_hash_functions=num_hash_functions)


@pytest.mark.parametrize("compression_ratio, expected_mrr", [(0.2, 0.14), (0.5, 0.30),
                                                             (1.0, 0.5)])
def test_bloom_cnn(compression_ratio, expected_mrr):
    def build(train, rs):
        net = CNNNet(train.num_items, embedding_dim=EMBEDDING_DIM, kernel_width=3,
                     item_embedding_layer=_bloom(train, compression_ratio, 2))
        return _model(rs, representation=net, learning_rate=1e-2, l2=0.0, n_iter=NUM_EPOCHS)
    assert _mean_mrr(build, 1e-3, num_interactions=20000) > expected_mrr


@pytest.mark.parametrize("compression_ratio, expected_mrr", [(0.2, 0.18), (0.5, 0.40),
                                                             (1.0, 0.60)])
def test_bloom_lstm(compression_ratio, expected_mrr):
    def build(train, rs):
        net = LSTMNet(train.num_items, embedding_dim=EMBEDDING_DIM,
                      item_embedding_layer=_bloom(train, compression_ratio, 4))
        return _model(rs, representation=net, learning_rate=1e-2, l2=1e-7,
                      n_iter=NUM_EPOCHS * 5)
    assert _mean_mrr(build, 1e-3, num_interactions=20000) > expected_mrr


@pytest.mark.parametrize("compression_ratio, expected_mrr", [(0.2, 0.06), (0.5, 0.07),
                                                             (1.0, 0.13)])
def test_bloom_pooling(compression_ratio, expected_mrr):
    def build(train, rs):
        net = PoolNet(train.num_items, embedding_dim=EMBEDDING_DIM,
                      item_embedding_layer=_bloom(train, compression_ratio, 2))
        return _model(rs, representation=net, learning_rate=1e-2, l2=1e-7,
                      n_iter=NUM_EPOCHS * 5)
    assert _mean_mrr(build, 1e-3, num_interactions=20000) > expected_mrr
