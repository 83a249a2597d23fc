"""Sequence data helpers, baselines and SequenceModel on a small synthetic problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hybridrec.sequence import (
    CooccurrenceBaseline,
    PopularityBaseline,
    SequenceModel,
    leave_last_out,
    sequence_metrics,
    sequences_from_frame,
)


def _frame():
    return pd.DataFrame({
        "user": ["b", "a", "b", "a", "b", "c"],
        "item": ["x", "y", "z", "x", "y", "z"],
        "ts": [3, 2, 1, 1, 2, 5],
    })


def test_sequences_are_time_ordered_per_user():
    seqs = sequences_from_frame(_frame(), "user", "item", "ts")
    keys = list(seqs.keys)
    items = seqs.item_mapper.inverse_transform(seqs.items)
    by_user = {k: list(items[seqs.indptr[i]:seqs.indptr[i + 1]]) for i, k in enumerate(keys)}
    assert by_user == {"b": ["z", "y", "x"], "a": ["x", "y"], "c": ["z"]}
    with pytest.raises(ValueError, match="no column"):
        sequences_from_frame(_frame(), "user", "item", "time")


def test_leave_last_out_holds_out_the_last_items():
    seqs = sequences_from_frame(_frame(), "user", "item", "ts")
    train, test = leave_last_out(seqs, n=1, min_history=1)
    assert list(train.lengths) == [2, 1, 1]          # c is too short to lose an item
    mapper = seqs.item_mapper
    assert test.shape == (3, 3) and test.nnz == 2
    assert set(mapper.inverse_transform(test[0].indices)) == {"x"}
    assert set(mapper.inverse_transform(test[1].indices)) == {"y"}
    assert train.items.shape[0] + test.nnz == seqs.items.shape[0]


def test_baselines_score_as_documented():
    seqs = sequences_from_frame(_frame(), "user", "item", "ts")
    pop = PopularityBaseline().fit(seqs)
    np.testing.assert_array_equal(pop.scores_, np.bincount(seqs.items, minlength=3))
    co = CooccurrenceBaseline().fit(seqs)
    mapper = seqs.item_mapper
    x, y, z = mapper.transform(["x", "y", "z"])
    # b: z -> y -> x ; a: x -> y  (c has one item: no transition)
    assert co.transitions_[z, y] == 1 and co.transitions_[y, x] == 1
    assert co.transitions_[x, y] == 1 and co.transitions_.nnz == 3


def test_metrics_and_errors_on_synthetic_sequences():
    rng = np.random.default_rng(1)
    # A cycle: item i is always followed by item i+1, so both learners can find it.
    rows = []
    for user in range(60):
        start = rng.integers(0, 30)
        for position in range(8):
            rows.append((user, (start + position) % 30, position))
    frame = pd.DataFrame(rows, columns=["user", "item", "ts"])
    train, test = leave_last_out(sequences_from_frame(frame, "user", "item", "ts"))
    model = SequenceModel(no_components=16, epochs=10, random_state=0).fit(train)
    learned = sequence_metrics(model, train, test, k=5)
    co = sequence_metrics(CooccurrenceBaseline().fit(train), train, test, k=5)
    pop = sequence_metrics(PopularityBaseline().fit(train), train, test, k=5)
    assert co["mrr"] > 0.9 and learned["mrr"] > 0.5 > pop["mrr"]
    with pytest.raises(ValueError, match="k must be a positive integer"):
        sequence_metrics(model, train, test, k=0)
    with pytest.raises(ValueError, match="max_history must be a positive integer"):
        SequenceModel(max_history=0).fit(train)


def _cycle_frame(n_users=50, n_items=30, seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        start = rng.integers(0, n_items)
        for position in range(int(rng.integers(4, 12))):
            rows.append((f"u{user}", f"i{(start + position) % n_items}", position))
    return pd.DataFrame(rows, columns=["user", "item", "ts"])


@pytest.mark.parametrize("representation, extra", [
    ("pooling", {}),
    ("pooling", {"max_history": None, "tied_embeddings": True}),
    ("cnn", {"num_layers": 2, "dilation": (1, 2), "nonlinearity": "relu"}),
    ("lstm", {"optimizer": "adam", "learning_rate": 0.01, "reduction": "mean"}),
    ("mixture", {"optimizer": "adam", "learning_rate": 0.01, "reduction": "mean",
                 "num_mixtures": 2, "loss": "adaptive_hinge", "n_negatives": 5}),
])
def test_every_representation_predicts_and_recommends(representation, extra):
    train, test = leave_last_out(sequences_from_frame(_cycle_frame(), "user", "item", "ts"))
    model = SequenceModel(representation=representation, no_components=16, epochs=4,
                          random_state=0, **extra).fit(train)
    n_items = len(train.item_mapper)
    states = model.user_states(train)
    assert states.dtype == np.float32 and states.shape[0] == len(train)
    scores = model.scores(train)
    assert scores.shape == (len(train), n_items)
    # predict scores an arbitrary new sequence, the same as the batch path.
    s = 4
    items = train.items[train.indptr[s]:train.indptr[s + 1]]
    np.testing.assert_allclose(model.predict(items), scores[s], rtol=1e-5, atol=1e-6)
    assert model.predict([]).shape == (n_items,)
    top, top_scores = model.recommend(train, k=5)
    assert top.shape == (len(train), 5) and top.dtype == np.int32
    for row in range(len(train)):
        seen = set(train.items[train.indptr[row]:train.indptr[row + 1]].tolist())
        assert not seen & set(top[row].tolist())
        expected = scores[row].copy()
        expected[list(seen)] = -np.inf
        np.testing.assert_allclose(top_scores[row], np.sort(expected)[::-1][:5], rtol=1e-5,
                                   atol=1e-6)
    lists, _ = model.recommend([[0, 1, 2], [5]], k=3, exclude_seen=False)
    assert lists.shape == (2, 3)
    metrics = sequence_metrics(model, train, test, k=5)
    assert 0.0 < metrics["mrr"] <= 1.0
    # The fitted arrays of the pre-package SequenceModel, one row per item code.
    assert model.input_embeddings_.shape == (n_items, 16)
    assert model.biases_.shape == (n_items,)
    if representation == "mixture":
        with pytest.raises(ValueError, match="dot product"):
            model.item_vectors()
    else:
        vectors, biases = model.item_vectors()
        np.testing.assert_array_equal(model.output_embeddings_, vectors)
        np.testing.assert_array_equal(model.biases_, biases)


def test_params_protocol_partial_fit_and_determinism():
    train, _ = leave_last_out(sequences_from_frame(_cycle_frame(), "user", "item", "ts"))
    model = SequenceModel(representation="lstm", no_components=8, epochs=2, random_state=5)
    params = model.get_params()
    assert params["representation"] == "lstm" and params["random_state"] == 5
    assert model.set_params(epochs=3) is model and model.epochs == 3
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(nope=1)
    a = model.fit(train).user_states(train)
    b = SequenceModel(**model.get_params()).fit(train).user_states(train)
    np.testing.assert_array_equal(a, b)
    steps = model.network_.steps
    model.fit_partial(train, epochs=1)
    assert model.network_.steps > steps
    fresh = SequenceModel(representation="lstm", no_components=8, random_state=5)
    fresh.fit_partial(train, epochs=3)
    np.testing.assert_array_equal(fresh.user_states(train), a)


def test_sequence_model_errors():
    train, _ = leave_last_out(sequences_from_frame(_cycle_frame(), "user", "item", "ts"))
    with pytest.raises(ValueError, match="not fitted"):
        SequenceModel().predict([1])
    for kwargs, message in [
        ({"representation": "gru"}, "representation must be one of"),
        ({"loss": "warp"}, "loss must be one of"),
        ({"optimizer": "sgd"}, "optimizer must be one of"),
        ({"nonlinearity": "sigmoid"}, "nonlinearity must be one of"),
        ({"reduction": "max"}, "reduction must be one of"),
        ({"no_components": 0}, "no_components must be a positive integer"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"learning_rate": -1.0}, "learning_rate must be"),
        ({"l2": -1.0}, "l2 must be"),
        ({"epochs": -1}, "epochs must be a non-negative integer"),
        ({"representation": "cnn", "num_layers": 2, "kernel_width": (3, 3, 3)},
         "one entry per layer"),
        ({"num_threads": 0}, "Number of threads must be 1 or larger"),
    ]:
        with pytest.raises(ValueError, match=message):
            SequenceModel(**kwargs).fit(train)
    model = SequenceModel(epochs=1).fit(train)
    n_items = len(train.item_mapper)
    with pytest.raises(ValueError, match=f"item index {n_items}"):
        model.predict([0, n_items])
    with pytest.raises(ValueError, match="1-dimensional"):
        model.predict([[0, 1]])
    with pytest.raises(TypeError, match="Sequences"):
        model.fit(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="k must be a positive integer"):
        model.recommend(train, k=0)
