"""hybridrec.spotlight.evaluation: Spotlight's metrics on stand-in models."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st

from hybridrec.spotlight.evaluation import (
    FLOAT_MAX,
    mrr_score,
    precision_recall_score,
    rmse_score,
    sequence_mrr_score,
    sequence_precision_recall_score,
)
from hybridrec.spotlight.interactions import Interactions, SequenceInteractions


class TableModel:
    """Scores from a fixed (users x items) table, Spotlight's predict contract."""

    def __init__(self, table):
        self.table = np.asarray(table, dtype=np.float32)
        self.calls = []

    def predict(self, user_ids, item_ids=None):
        self.calls.append(user_ids)
        if item_ids is None:
            return self.table[user_ids].copy()
        return self.table[np.asarray(user_ids), np.asarray(item_ids)]


class LastItemModel:
    """A sequence model: scores all items by a transition table row of the last item."""

    def __init__(self, transitions):
        self.transitions = np.asarray(transitions, dtype=np.float32)

    def predict(self, sequence):
        sequence = np.asarray(sequence)
        assert sequence.ndim == 1
        return self.transitions[sequence[-1]].copy()


def _data(seed=0, n_users=15, n_items=30, n=200):
    rng = np.random.default_rng(seed)
    pairs = rng.choice(n_users * n_items, size=n, replace=False)
    interactions = Interactions(pairs // n_items, pairs % n_items,
                                ratings=rng.integers(1, 6, n).astype(np.float32),
                                num_users=n_users, num_items=n_items)
    half = n // 2
    train = Interactions(interactions.user_ids[:half], interactions.item_ids[:half],
                         ratings=interactions.ratings[:half], num_users=n_users,
                         num_items=n_items)
    test = Interactions(interactions.user_ids[half:], interactions.item_ids[half:],
                        ratings=interactions.ratings[half:], num_users=n_users,
                        num_items=n_items)
    # Scores with many ties (rounded), so the average-rank rule matters.
    table = np.round(rng.normal(size=(n_users, n_items)), 1)
    return train, test, TableModel(table)


def _reference_mrr(model, test, train):
    """Spotlight 0.1.6's mrr_score, line by line."""
    test, train = test.tocsr(), None if train is None else train.tocsr()
    out = []
    for user_id, row in enumerate(test):
        if not len(row.indices):
            continue
        predictions = -model.predict(user_id)
        if train is not None:
            predictions[train[user_id].indices] = FLOAT_MAX
        out.append((1.0 / st.rankdata(predictions)[row.indices]).mean())
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("with_train", [False, True])
def test_mrr_equals_spotlights(seed, with_train):
    train, test, model = _data(seed)
    expected = _reference_mrr(model, test, train if with_train else None)
    got = mrr_score(model, test, train=train if with_train else None)
    np.testing.assert_array_equal(got, expected)
    assert got.shape == (len(np.unique(test.user_ids)),)


def test_mrr_hand_computed():
    # One user; scores 3, 1, 2, 2; test item 2 ties with 3 for ranks 2-3: rank 2.5.
    model = TableModel([[3.0, 1.0, 2.0, 2.0]])
    test = Interactions([0], [2], num_items=4)
    np.testing.assert_allclose(mrr_score(model, test), [1 / 2.5])
    # Item 0 in train drops to the bottom: item 2 is now at ranks 1-2 (tie), 1 / 1.5.
    train = Interactions([0], [0], num_items=4)
    np.testing.assert_allclose(mrr_score(model, test, train=train), [1 / 1.5])


def test_precision_recall_values_and_shapes():
    model = TableModel([[0.9, 0.8, 0.1, 0.7, 0.0], [0.0, 0.1, 0.2, 0.3, 0.4]])
    test = Interactions([0, 0, 1], [1, 2, 0], num_items=5)
    train = Interactions([0], [0], num_users=2, num_items=5)
    precision, recall = precision_recall_score(model, test, train, k=2)
    # User 0: item 0 excluded, top 2 = {1, 3}: one hit of 2 targets. User 1: top 2 = {4, 3}.
    np.testing.assert_allclose(precision, [0.5, 0.0])
    np.testing.assert_allclose(recall, [0.5, 0.0])
    precision, recall = precision_recall_score(model, test, train, k=[1, 3, 10])
    assert precision.shape == recall.shape == (2, 3)
    # k beyond the catalogue: precision divides by the 5 items ranked (Spotlight's rule).
    np.testing.assert_allclose(precision[0], [1.0, 2 / 3, 2 / 5])
    np.testing.assert_allclose(recall[1], [0.0, 0.0, 1.0])
    # A one-element list stays 2-d (documented difference from Spotlight's squeeze).
    assert precision_recall_score(model, test, k=[5])[0].shape == (2, 1)
    assert precision_recall_score(model, test, k=np.int64(5))[0].shape == (2,)


@pytest.mark.parametrize("k", [1, [1, 1], [1, 1, 1]])
def test_precision_recall_shapes_spotlight(k):
    train, test, model = _data(3)
    precision, recall = precision_recall_score(model, test, train, k=k)
    assert precision.shape == recall.shape
    if not isinstance(k, list):
        assert precision.ndim == 1
    else:
        assert precision.shape[1] == len(k)


def test_sequence_scores_hand_computed():
    # Items 0..4; after item i the model ranks item i + 1 first, then i + 2, ...
    transitions = np.array([[-abs(j - i - 1) - (j <= i) * 10 for j in range(5)]
                            for i in range(5)], dtype=np.float32)
    model = LastItemModel(transitions)
    test = SequenceInteractions(np.array([[0, 1, 2, 3], [0, 1, 2, 4], [1, 2, 3, 4]]),
                                num_items=5)
    mrr = sequence_mrr_score(model, test)
    # Row 0: after 2 the target 3 is first. Row 1: target 4 second. Row 2: after 3, 4 first.
    np.testing.assert_allclose(mrr, [1.0, 0.5, 1.0])
    precision, recall = sequence_precision_recall_score(model, test, k=2)
    # Row 0: after 1, top 2 = {2, 3} = targets. Row 1: {2, 3} vs {2, 4}. Row 2: {3, 4}.
    np.testing.assert_allclose(precision, [1.0, 0.5, 1.0])
    np.testing.assert_array_equal(precision, recall)


def test_sequence_exclude_preceding():
    # A model that always prefers item 1, which already occurs in the sequence.
    model = LastItemModel(np.tile(np.array([0.0, 9.0, 1.0, 2.0], np.float32), (4, 1)))
    test = SequenceInteractions(np.array([[0, 1, 3]]), num_items=4)
    assert sequence_mrr_score(model, test)[0] == 0.5
    assert sequence_mrr_score(model, test, exclude_preceding=True)[0] == 1.0
    # k=1: input [0, 1], target 3. Item 1 tops the ranking unless the inputs are excluded.
    assert sequence_precision_recall_score(model, test, k=1)[0][0] == 0.0
    precision, _ = sequence_precision_recall_score(model, test, k=1, exclude_preceding=True)
    assert precision[0] == 1.0


def test_rmse():
    model = TableModel([[1.0, 2.0], [3.0, 4.0]])
    test = Interactions([0, 1, 1], [1, 0, 1], ratings=[2.0, 5.0, 1.0])
    assert rmse_score(model, test) == pytest.approx(np.sqrt((0 + 4 + 9) / 3))
    with pytest.raises(ValueError, match="needs test.ratings"):
        rmse_score(model, Interactions([0], [1]))


def test_errors():
    train, test, model = _data()
    with pytest.raises(ValueError, match="test must be a hybridrec.spotlight"):
        mrr_score(model, test.tocsr())
    with pytest.raises(ValueError, match="k must be a positive integer"):
        precision_recall_score(model, test, k=0)
    small = Interactions([0], [0], num_users=2, num_items=2)
    with pytest.raises(ValueError, match="must cover test"):
        mrr_score(model, test, train=small)
    with pytest.raises(ValueError, match="test must be a hybridrec.spotlight.interactions.Seq"):
        sequence_mrr_score(model, test)
    sequences = SequenceInteractions(np.array([[1, 2, 3]]))
    with pytest.raises(ValueError, match="k must be an integer in"):
        sequence_precision_recall_score(LastItemModel(np.eye(4)), sequences, k=3)
    with pytest.raises(ValueError, match="returned NaN"):
        mrr_score(TableModel(np.full((15, 30), np.nan)), test)
    with pytest.raises(ValueError, match="one score per item"):
        mrr_score(TableModel(np.zeros((15, 3))), test)
