"""Synchronous minibatches (hybridrec.kernels.sequence_sync): the chunks' random streams,
the workers' reductions, and the CNN, LSTM and mixture epochs training alike at one and
two threads (the same algorithm up to float summation order), however the threading
layer runs the workers."""

from __future__ import annotations

import os

import numba
import numpy as np
import pytest

from hybridrec.kernels import sequence_sync
from hybridrec.sequence.data import SequenceArrays
from hybridrec.sequence.network import SequenceNetwork
from hybridrec.sequence.representations import CNNSpec, LSTMSpec, MixtureSpec
from tests import naive

N_ITEMS, D = 23, 6
SPECS = {
    "cnn": CNNSpec(kernel_width=(3, 2), dilation=(1, 2)),
    "lstm": LSTMSpec(),
    "mixture": MixtureSpec(num_mixtures=2),
}


def _matrix(n_sequences: int = 40, length: int = 12, seed: int = 0) -> np.ndarray:
    """Left-padded sequences of varied lengths with some interior padding."""
    rng = np.random.default_rng(seed)
    matrix = rng.integers(1, N_ITEMS, size=(n_sequences, length))
    for row, pads in zip(matrix, rng.integers(0, length - 1, size=n_sequences), strict=True):
        row[:pads] = 0
    matrix[rng.random(matrix.shape) < 0.05] = 0
    return matrix


def _fit(name: str, threads: int, *, epochs: int = 2, loss: str = "bpr",
         optimizer: str = "adam", **kwargs) -> tuple[dict, list[float], int]:
    network = SequenceNetwork(SPECS[name], N_ITEMS, D, loss=loss, n_negatives=3,
                              optimizer=optimizer, learning_rate=0.05, l2=1e-4,
                              rng=np.random.default_rng(1), **kwargs)
    arrays = SequenceArrays.from_padded(_matrix())
    rng = np.random.RandomState(2)
    losses = [network.fit_epoch(arrays, 16, rng, threads) for _ in range(epochs)]
    return network.params, losses, network.steps


def _require_two_threads() -> None:
    if numba.config.NUMBA_NUM_THREADS < 2:
        message = "numba runs one thread here (NUMBA_NUM_THREADS=1 or one core)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def test_chunk_streams_continue_each_minibatch_stream():
    chunk_starts = np.array([0, 3, 4, 6], dtype=np.int64)
    chunk_draws = np.array([2, 0, 5, 7, 1, 3], dtype=np.int64)
    seeds = np.array([11, 12345, 2**40 + 3], dtype=np.uint64)
    out = np.zeros(6, dtype=np.uint64)
    sequence_sync.chunk_streams(chunk_starts, chunk_draws, seeds, out)
    expected = []
    for k in range(3):
        state = int(seeds[k])
        for c in range(chunk_starts[k], chunk_starts[k + 1]):
            expected.append(state)
            for _ in range(chunk_draws[c]):
                state = naive.next_state(state)
    assert [int(x) for x in out] == expected


@pytest.mark.parametrize("tied", [False, True])
def test_reductions_sum_into_worker_zero_and_zero_the_others(tied):
    rng = np.random.default_rng(3)
    n_workers, n_items, d = 3, 7, 4
    touched = (rng.random((n_workers, n_items)) < 0.5).astype(np.uint8)
    mask = touched[:, :, None].astype(np.float32)
    gE = (rng.standard_normal((n_workers, n_items, d)) * mask).astype(np.float32)
    gEo = gE if tied else (rng.standard_normal((n_workers, n_items, d)) * mask).astype(
        np.float32)
    gb = (rng.standard_normal((n_workers, n_items)) * touched).astype(np.float32)
    expected = [x.sum(axis=0) for x in (gE, gEo, gb)]
    expected_touched = touched.any(axis=0)
    sequence_sync.reduce_items(gE, gEo, gb, touched, tied, 0, n_workers)
    np.testing.assert_allclose(gE[0], expected[0], rtol=1e-6)
    np.testing.assert_allclose(gb[0], expected[2], rtol=1e-6)
    if not tied:
        np.testing.assert_allclose(gEo[0], expected[1], rtol=1e-6)
    np.testing.assert_array_equal(touched[0] != 0, expected_touched)
    assert not gE[1:].any() and not gEo[1:].any() and not gb[1:].any()
    assert not touched[1:].any()

    g_theta = rng.standard_normal((n_workers, 9)).astype(np.float32)
    total = g_theta.sum(axis=0)
    sequence_sync.reduce_flat(g_theta, 0, n_workers)
    np.testing.assert_allclose(g_theta[0], total, rtol=1e-6)
    assert not g_theta[1:].any()


@pytest.mark.parametrize("name, kwargs", [
    ("cnn", {}), ("cnn", {"tied": False}), ("lstm", {}), ("mixture", {}),
    ("lstm", {"hashes": np.arange(2 * N_ITEMS, dtype=np.int32).reshape(N_ITEMS, 2) % 9,
              "n_rows": 9}),
])
def test_two_threads_train_as_one(name, kwargs):
    # Every minibatch of 16 sequences is 8 chunks shared by the workers; a worker reading
    # weights a step old (the former Hogwild epochs) ends several percent away.
    _require_two_threads()
    if "hashes" in kwargs:
        kwargs["hashes"][0] = 0
    one, one_losses, one_steps = _fit(name, 1, **kwargs)
    two, two_losses, two_steps = _fit(name, 2, **kwargs)
    assert one_steps == two_steps == 2 * 3
    np.testing.assert_allclose(two_losses, one_losses, rtol=1e-5)
    for key in one:
        np.testing.assert_allclose(two[key], one[key], rtol=1e-3, atol=1e-5, err_msg=key)


@pytest.mark.parametrize("name", list(SPECS))
def test_adagrad_and_adaptive_loss_at_two_threads(name):
    _require_two_threads()
    one, one_losses, _ = _fit(name, 1, loss="adaptive_hinge", optimizer="adagrad", epochs=1)
    two, two_losses, _ = _fit(name, 2, loss="adaptive_hinge", optimizer="adagrad", epochs=1)
    np.testing.assert_allclose(two_losses, one_losses, rtol=1e-5)
    for key in one:
        np.testing.assert_allclose(two[key], one[key], rtol=1e-4, atol=1e-6, err_msg=key)


@pytest.fixture
def one_real_thread(monkeypatch):
    """Whatever thread count is asked for, numba runs one thread: the workers of an
    epoch then run one after the other on it."""
    previous = numba.get_num_threads()
    real = numba.set_num_threads
    monkeypatch.setattr(numba, "set_num_threads", lambda n: real(1))
    yield
    real(previous)


@pytest.mark.parametrize("name", list(SPECS))
def test_workers_run_one_after_another_end_as_one_thread(name, one_real_thread):
    # Two workers' buffers on one thread: the first takes every chunk, the second finds
    # every minibatch stepped. No worker waits for one that has not started.
    _require_two_threads()
    one, one_losses, _ = _fit(name, 1)
    two, two_losses, _ = _fit(name, 2)
    assert two_losses == one_losses
    for key in one:
        np.testing.assert_array_equal(two[key], one[key], err_msg=key)


@pytest.mark.parametrize("name", list(SPECS))
def test_workers_that_never_wait_for_the_previous_step_still_step_in_order(name,
                                                                          monkeypatch):
    # wait_factor 0: a worker goes on whenever the previous step is not taken yet (what a
    # loaded machine makes it do), with weights one step old and the other gradient slot;
    # every minibatch is still stepped once, in order, and the training stays close.
    _require_two_threads()
    monkeypatch.setattr(sequence_sync, "WAIT_FACTOR", 0.0)
    one, one_losses, one_steps = _fit(name, 1, epochs=3)
    two, two_losses, two_steps = _fit(name, 2, epochs=3)
    assert one_steps == two_steps == 3 * 3
    assert two_losses[-1] == pytest.approx(one_losses[-1], rel=0.1)
    for key in one:
        assert np.isfinite(two[key]).all()
        assert np.abs(two[key] - one[key]).max() <= 0.5 * np.abs(one[key]).max() + 1e-6
    assert not two["E"][0].any()
