"""Sequence model: data helpers, the pooling kernel against a NumPy reference, baselines."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hybridrec.kernels.sequence import fit_pooling_epoch
from hybridrec.sequence import (
    CooccurrenceBaseline,
    PopularityBaseline,
    SequenceModel,
    leave_last_out,
    sequence_metrics,
    sequences_from_frame,
)
from tests import naive


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


def _reference_epoch(indptr, items, ex_seq, ex_pos, order, params, lr, max_history,
                     n_negatives, adaptive, seed):
    e_in, a_in, e_out, a_out, b, a_b = (x.astype(np.float64) for x in params)
    n_items = e_out.shape[0]
    state = seed
    for e in order:
        start = indptr[ex_seq[e]]
        target = start + ex_pos[e]
        first = max(start, target - max_history)
        history = items[first:target]
        vector = e_in[history].mean(axis=0)
        positive = items[target]
        s_pos = b[positive] + vector @ e_out[positive]
        negative, s_neg = -1, -math.inf
        for _ in range(n_negatives):
            state, candidate = naive.draw_below(state, n_items)
            if candidate == positive:
                continue
            score = b[candidate] + vector @ e_out[candidate]
            if negative < 0 or (adaptive and score > s_neg):
                negative, s_neg = candidate, score
            if not adaptive:
                break
        if negative < 0:
            continue
        g = 1.0 / (1.0 + math.exp(s_pos - s_neg))
        difference = e_out[positive] - e_out[negative]

        def step(params, accum, row, grad):
            params[row] -= lr / np.sqrt(accum[row]) * grad
            accum[row] += grad * grad

        step(e_out, a_out, positive, -g * vector)
        step(e_out, a_out, negative, g * vector)
        step(b, a_b, positive, -g)
        step(b, a_b, negative, g)
        for item in history:
            step(e_in, a_in, item, -g / len(history) * difference)
    return e_in, a_in, e_out, a_out, b, a_b


@pytest.mark.parametrize("adaptive", [False, True])
def test_pooling_kernel_matches_reference(adaptive):
    rng = np.random.default_rng(0)
    n_items, d = 12, 3
    lengths = np.array([5, 2, 7, 1])
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    items = rng.integers(0, n_items, lengths.sum()).astype(np.int32)
    ex_seq = np.repeat(np.arange(4), lengths - 1).astype(np.int32)
    ex_pos = np.concatenate([np.arange(1, n) for n in lengths]).astype(np.int64)
    order = rng.permutation(ex_seq.shape[0]).astype(np.int64)
    params = [(rng.random((n_items, d)) - 0.5).astype(np.float32),
              np.ones((n_items, d), np.float32),
              (rng.random((n_items, d)) - 0.5).astype(np.float32),
              np.ones((n_items, d), np.float32),
              (rng.random(n_items) * 0.1).astype(np.float32), np.ones(n_items, np.float32)]
    expected = _reference_epoch(indptr, items, ex_seq, ex_pos, order, params, 0.1, 3, 4,
                                adaptive, 12345)
    got = [p.copy() for p in params]
    fit_pooling_epoch(indptr, items, ex_seq, ex_pos, order, *got, 0.1, 3, 4, adaptive,
                      np.array([12345], dtype=np.uint64))
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=2e-4, atol=2e-6)
    assert not np.array_equal(got[2], params[2])


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
