"""The sequence engine (hybridrec.sequence.network) end to end against the NumPy
reference: a whole minibatch step (forward, backward, Adam / adagrad update) per
representation, final states and scores, Bloom tables, determinism and threads."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from hybridrec.sequence.data import SequenceArrays
from hybridrec.sequence.network import SequenceNetwork
from hybridrec.sequence.representations import CNNSpec, LSTMSpec, MixtureSpec, PoolingSpec
from tests.sequence import reference as ref

N_ITEMS, D = 11, 6
MATRIX = np.array([
    [0, 0, 0, 3, 5, 0, 2, 7, 1],
    [4, 4, 8, 2, 6, 3, 10, 1, 5],
    [0, 0, 0, 0, 0, 0, 0, 6, 2],
    [0, 0, 0, 0, 0, 0, 0, 0, 9],
    [0, 7, 1, 1, 3, 0, 0, 9, 2],
    [0, 0, 5, 5, 5, 1, 2, 3, 4],
])
SPECS = {
    "pooling": PoolingSpec(),
    "pooling-window": PoolingSpec(window=2, shrink=0.0),
    "cnn": CNNSpec(kernel_width=(3, 2), dilation=(1, 2)),
    "cnn-relu": CNNSpec(kernel_width=(2, 2, 3), dilation=(2, 1, 1), relu=True,
                        residual=False),
    "lstm": LSTMSpec(),
    "mixture": MixtureSpec(num_mixtures=2),
}
HASHES = np.array([[0, 0], [1, 2], [3, 1], [2, 2], [1, 4], [3, 3], [2, 1], [1, 3], [4, 2],
                   [4, 1], [2, 4]], dtype=np.int32)


def _reference(network: SequenceNetwork) -> ref.Network:
    """The reference network holding (float64 copies of) the engine's parameters."""
    spec = network.spec
    p = {name: value.astype(np.float64) for name, value in network.params.items()}
    params = {"E": p["E"], "b": p["b"]}
    if not network.tied:
        params["Eo"] = p["Eo"]
    config = {"tied": network.tied, "hashes": network.hashes}
    if spec.kind == "pooling":
        config.update(window=spec.window, shrink=spec.shrink)
    elif spec.kind == "cnn":
        config.update(kernel_width=spec.kernel_width, dilation=spec.dilation, relu=spec.relu,
                      residual=spec.residual)
        for layer, width in enumerate(spec.kernel_width):
            params[f"W{layer}"] = p["W"][layer, :width]
            params[f"c{layer}"] = p["c"][layer]
    else:
        params.update({k: p[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh")})
        if spec.kind == "mixture":
            params.update(P=p["P"], bP=p["bP"])
            config["num_mixtures"] = spec.num_mixtures
    return ref.Network(spec.kind, params, **config)


def _network(name, optimizer="adam", tied=True, bloom=False, seed=0, l2=1e-3):
    kwargs = {"hashes": HASHES, "n_rows": 5} if bloom else {}
    return SequenceNetwork(SPECS[name], N_ITEMS, D, loss="adaptive_hinge", n_negatives=3,
                           optimizer=optimizer, learning_rate=0.05, l2=l2,
                           rng=np.random.default_rng(seed), tied=tied, **kwargs)


def _expected_step(network, rng_state, mode=ref.ADAPTIVE_HINGE):
    """(loss, gradients) of the minibatch ``fit_epoch`` will draw with this RandomState."""
    rng = copy.deepcopy(rng_state)
    order = rng.permutation(MATRIX.shape[0])
    seeds = [int(s) for s in rng.randint(1, 2**63, size=1, dtype=np.uint64)]
    rows = [MATRIX[i] for i in order]
    negatives = ref.draw_negatives(rows, mode, 3, N_ITEMS, len(rows), seeds)
    return ref.batch_gradients(_reference(network), rows, negatives, mode)


def _adam(value, grad, l2, lr, t=1):
    g = grad + l2 * value
    m = 0.1 * g
    v = 0.001 * g * g
    return value - lr / (1 - 0.9 ** t) * m / (np.sqrt(v) / np.sqrt(1 - 0.999 ** t) + 1e-8)


@pytest.mark.parametrize("name", list(SPECS))
def test_one_adam_step_matches_reference(name):
    network = _network(name)
    before = _reference(network)
    rng = np.random.RandomState(3)
    expected_loss, grads = _expected_step(network, rng)
    arrays = SequenceArrays.from_padded(MATRIX)
    # One thread: split over two workers, the minibatch's float32 gradient is summed in
    # another order, and Adam turns a cancellation residue (a reference gradient of
    # exactly 0 that comes out 1e-9) into a step of half the learning rate.
    # tests/sequence/test_sync.py checks the two-thread steps with adagrad.
    loss = network.fit_epoch(arrays, batch_size=len(MATRIX), rng=rng, num_threads=1)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    after = _reference(network)
    for key, value in before.params.items():
        expected = _adam(value, grads[key], 1e-3, 0.05)
        if key in ("E", "Eo"):
            expected[0] = 0.0
        if key == "b":
            expected[0] = 0.0
        # Adam divides by sqrt(v): gradients near zero are amplified, so compare the
        # step (not the value) loosely and require the direction of every large step.
        np.testing.assert_allclose(after.params[key], expected, rtol=1e-3, atol=2e-4,
                                   err_msg=key)
    assert not after.params["E"][0].any() and after.params["b"][0] == 0.0


@pytest.mark.parametrize("name", ["pooling", "lstm"])
def test_adagrad_step_untied_and_bloom(name):
    for kwargs in ({"tied": False}, {"bloom": True}):
        network = _network(name, optimizer="adagrad", l2=0.0, **kwargs)
        before = _reference(network)
        rng = np.random.RandomState(5)
        _, grads = _expected_step(network, rng)
        network.fit_epoch(SequenceArrays.from_padded(MATRIX), len(MATRIX), rng, 1)
        after = _reference(network)
        for key, value in before.params.items():
            np.testing.assert_allclose(after.params[key], value - 0.05 * grads[key],
                                       rtol=1e-4, atol=1e-6, err_msg=f"{kwargs} {key}")


@pytest.mark.parametrize("name", list(SPECS))
def test_final_states_and_scores_match_reference(name):
    network = _network(name, bloom=name == "lstm")
    network.fit_epoch(SequenceArrays.from_padded(MATRIX), 4, np.random.RandomState(0), 1)
    reference = _reference(network)
    arrays = SequenceArrays.from_padded(MATRIX)
    states = network.states(arrays, 2)
    scores = network.score_states(states, 2)
    for row, state, row_scores in zip(MATRIX, states, scores, strict=True):
        R, _ = ref.forward(reference, row)
        np.testing.assert_allclose(state, R[-1], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(row_scores, ref.final_scores(reference, row), rtol=1e-4,
                                   atol=1e-6)
        nonzero = np.flatnonzero(row)
        pads = int(nonzero[0]) if nonzero.size else len(row)
        one = network.state(row[pads:], pads)
        np.testing.assert_allclose(one, state, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(network.score_state(one), row_scores, rtol=1e-5,
                                   atol=1e-6)


def test_one_thread_is_bit_for_bit_reproducible_and_pooling_two_threads_train_alike():
    arrays = SequenceArrays.from_padded(np.vstack([MATRIX] * 5))
    for name in ("pooling", "lstm"):
        runs, losses = [], []
        for threads in (1, 1, 2):
            network = _network(name)
            rng = np.random.RandomState(7)
            for _ in range(4):
                loss = network.fit_epoch(arrays, 4, rng, threads)
            runs.append(network.params)
            losses.append(loss)
            assert network.steps == 4 * 8
        for key in runs[0]:
            np.testing.assert_array_equal(runs[0][key], runs[1][key], err_msg=name)
        # Pooling with two threads: Hogwild steps (a minibatch may see parameters a step
        # old), the same negatives; the training ends in the same place up to that
        # staleness. (The LSTM's two threads: tests/sequence/test_sync.py.)
        assert losses[2] == pytest.approx(losses[0], rel=0.2)
        for key in runs[0]:
            assert np.isfinite(runs[2][key]).all()


def test_batches_without_targets_are_skipped_and_padding_stays_zero():
    matrix = np.zeros((3, 5), dtype=np.int64)
    matrix[2, 4] = 3
    network = _network("cnn")
    rng = np.random.RandomState(1)
    loss = network.fit_epoch(SequenceArrays.from_padded(matrix), 1, rng, 1)
    assert network.steps == 1 and loss > 0
    assert not network.params["E"][0].any()
