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
