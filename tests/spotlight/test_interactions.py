"""hybridrec.spotlight.interactions: Spotlight's Interactions and to_sequence."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hybridrec.spotlight.interactions import Interactions, SequenceInteractions


def _reference_sequences(user_ids, item_ids, timestamps, length, step, minimum=None):
    """Spotlight's to_sequence written as plain loops (its generator semantics)."""
    order = sorted(range(len(user_ids)), key=lambda i: (user_ids[i], timestamps[i], i))
    rows, users = [], []
    for user in sorted(set(int(u) for u in user_ids)):
        items = [int(item_ids[i]) for i in order if user_ids[i] == user]
        for end in range(len(items), 0, -step):
            window = items[max(end - length, 0):end]
            rows.append([0] * (length - len(window)) + window)
            users.append(user)
    rows = np.array(rows, dtype=np.int32).reshape(-1, length)
    users = np.array(users, dtype=np.int32)
    if minimum is not None:
        keep = (rows != 0).sum(axis=1) >= minimum
        rows, users = rows[keep], users[keep]
    return rows, users


def test_known_output_step_1():
    interactions = Interactions(np.zeros(5), np.arange(5) + 1, timestamps=np.arange(5))
    sequences = interactions.to_sequence(max_sequence_length=5, step_size=1).sequences
    expected = np.array([[1, 2, 3, 4, 5], [0, 1, 2, 3, 4], [0, 0, 1, 2, 3], [0, 0, 0, 1, 2],
                         [0, 0, 0, 0, 1]])
    np.testing.assert_array_equal(sequences, expected)
    assert sequences.dtype == np.int32


def test_known_output_step_2():
    interactions = Interactions(np.zeros(5), np.arange(5) + 1, timestamps=np.arange(5))
    sequences = interactions.to_sequence(max_sequence_length=5, step_size=2).sequences
    np.testing.assert_array_equal(sequences, [[1, 2, 3, 4, 5], [0, 0, 1, 2, 3], [0, 0, 0, 0, 1]])


def test_sequences_sorted_by_timestamp_per_user():
    # Two users, interactions given out of order; ties in time keep the input order.
    interactions = Interactions(np.array([1, 0, 1, 0, 1]), np.array([5, 4, 3, 2, 1]),
                                timestamps=np.array([3, 9, 1, 2, 1]))
    result = interactions.to_sequence(max_sequence_length=3)
    np.testing.assert_array_equal(result.sequences, [[0, 2, 4], [3, 1, 5]])
    np.testing.assert_array_equal(result.user_ids, [0, 1])
    assert result.num_items == 6 and result.max_sequence_length == 3


@pytest.mark.parametrize("length, step, minimum", [(5, 1, None), (5, 3, None), (4, None, 2),
                                                   (7, 2, 7), (1, 1, None), (30, 4, 3)])
def test_to_sequence_matches_reference(length, step, minimum):
    rng = np.random.default_rng(length * 10 + (step or 0))
    n = 300
    users = rng.integers(0, 12, n)
    items = rng.integers(1, 40, n)
    times = rng.integers(0, 50, n)  # many ties
    result = Interactions(users, items, timestamps=times, num_items=45).to_sequence(
        max_sequence_length=length, min_sequence_length=minimum, step_size=step)
    rows, row_users = _reference_sequences(users, items, times, length, step or length, minimum)
    np.testing.assert_array_equal(result.sequences, rows)
    np.testing.assert_array_equal(result.user_ids, row_users)
    assert result.num_items == 45
    assert isinstance(result, SequenceInteractions)


def _check_movielens_sequences(sequences, users, interactions, step_size):
    # No row of padding only; the last column always holds an item.
    assert np.all(sequences.sum(axis=1) > 0)
    assert np.all(sequences[:, -1] > 0)
    # Row i + 1 is row i shifted right by step_size for the same user.
    same_user = users[1:] == users[:-1]
    if step_size < sequences.shape[1]:
        np.testing.assert_array_equal(sequences[1:][same_user][:, step_size:],
                                      sequences[:-1][same_user][:, :-step_size])
    # Within a row items are in time order.
    times = sp.csr_matrix((interactions.timestamps.astype(np.float64),
                           (interactions.user_ids, interactions.item_ids)),
                          shape=(interactions.num_users, interactions.num_items))
    row_times = np.asarray(times[np.repeat(users, sequences.shape[1]),
                                 sequences.ravel()]).reshape(sequences.shape)
    row_times[sequences == 0] = -1.0  # padding (on the left) precedes every timestamp
    assert np.all(np.diff(row_times, axis=1) >= 0)


@pytest.mark.parametrize("max_sequence_length, step_size", [(5, 1), (5, 3), (20, 1), (20, 4),
                                                            (1024, 1024), (1024, 5)])
def test_to_sequence_movielens(movielens_100k, max_sequence_length, step_size):
    from hybridrec.spotlight.cross_validation import random_train_test_split

    _, test = random_train_test_split(movielens_100k, random_state=np.random.RandomState(42))
    result = test.to_sequence(max_sequence_length=max_sequence_length, step_size=step_size)
    if step_size == 1:
        assert result.sequences.shape == (len(test), max_sequence_length)
    assert result.sequences.shape[1] == max_sequence_length
    _check_movielens_sequences(result.sequences, result.user_ids, test, step_size)


def test_to_sequence_min_length(movielens_100k):
    sequences = movielens_100k.to_sequence(max_sequence_length=20)
    assert np.any((sequences.sequences != 0).sum(axis=1) < 10)
    sequences = movielens_100k.to_sequence(max_sequence_length=20, min_sequence_length=10)
    assert not np.any((sequences.sequences != 0).sum(axis=1) < 10)
    assert len(sequences) == 4992  # Spotlight 0.1.6's to_sequence on the same file


def test_dtypes_counts_and_conversions():
    interactions = Interactions([0, 3, 1], np.array([2.0, 0.0, 5.0]), ratings=[1, 2, 3],
                                weights=np.array([0.5, 1.0, 2.0]))
    assert interactions.user_ids.dtype == np.int32 and interactions.item_ids.dtype == np.int32
    assert interactions.ratings.dtype == np.float32 and interactions.weights.dtype == np.float32
    assert (interactions.num_users, interactions.num_items) == (4, 6)
    assert len(interactions) == 3
    assert repr(interactions) == "<Interactions dataset (4 users x 6 items x 3 interactions)>"
    # Arrays of the right dtype are stored as given (Spotlight keeps the caller's arrays).
    users = np.array([0, 1], dtype=np.int32)
    assert Interactions(users, users).user_ids is users
    # num_users=0 means "infer", as in Spotlight.
    assert Interactions(users, users, num_users=0, num_items=10).num_items == 10


def test_tocoo_tocsr():
    interactions = Interactions([0, 0, 2], [1, 1, 3], ratings=[2.0, 3.0, 5.0], num_items=5)
    coo = interactions.tocoo()
    assert coo.shape == (3, 5) and coo.nnz == 3 and coo.dtype == np.float32
    csr = interactions.tocsr()
    assert csr[0, 1] == 5.0 and csr[2, 3] == 5.0 and csr.nnz == 2
    implicit = Interactions([0, 1], [1, 0]).tocoo()
    np.testing.assert_array_equal(implicit.data, [1.0, 1.0])


@pytest.mark.parametrize("kwargs, match", [
    (dict(user_ids=[0, 5], item_ids=[0, 1], num_users=3), "Maximum user id greater"),
    (dict(user_ids=[0, 1], item_ids=[0, 9], num_items=3), "Maximum item id greater"),
    (dict(user_ids=[0, 1], item_ids=[0]), "Invalid item_ids dimensions"),
    (dict(user_ids=[0, 1], item_ids=[0, 1], ratings=[1.0]), "Invalid ratings dimensions"),
    (dict(user_ids=[0, 1], item_ids=[0, 1], timestamps=[1]), "Invalid timestamps dimensions"),
    (dict(user_ids=[0, 1], item_ids=[0, 1], weights=[1.0]), "Invalid weights dimensions"),
    (dict(user_ids=[-1, 1], item_ids=[0, 1]), "user_ids must hold ids between 0"),
    (dict(user_ids=[0.5, 1], item_ids=[0, 1]), "user_ids must hold integer ids"),
    (dict(user_ids=["a"], item_ids=[0]), "user_ids must hold integer ids"),
    (dict(user_ids=[[0, 1]], item_ids=[0, 1]), "user_ids must be a 1-dimensional"),
    (dict(user_ids=[0, 1], item_ids=[0, 1], ratings=[1.0, np.nan]), "ratings must be finite"),
    (dict(user_ids=[0, 1], item_ids=[0, 1], weights=[np.inf, 1.0]), "weights must be finite"),
    (dict(user_ids=[0, 1], item_ids=[0, 1], num_users=-2), "num_users must be a non-negative"),
])
def test_constructor_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Interactions(**kwargs)


def test_check_catches_modified_arrays():
    interactions = Interactions(np.array([0, 1], np.int32), np.array([0, 1], np.int32))
    interactions.user_ids[0] = 2
    with pytest.raises(ValueError, match="Maximum user id greater"):
        interactions.check()


@pytest.mark.parametrize("kwargs, match", [
    (dict(), "timestamps not available"),
])
def test_to_sequence_needs_timestamps(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Interactions([0, 1], [1, 2]).to_sequence(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_sequence_length=0), "max_sequence_length must be a positive integer"),
    (dict(step_size=0), "step_size must be a positive integer"),
    (dict(max_sequence_length=4, min_sequence_length=5), "min_sequence_length must be <="),
    (dict(min_sequence_length=0), "min_sequence_length must be a positive integer"),
])
def test_to_sequence_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Interactions([0, 1], [1, 2], timestamps=[0, 1]).to_sequence(**kwargs)


def test_to_sequence_refuses_item_zero():
    with pytest.raises(ValueError, match="0 is used as an item id"):
        Interactions([0, 1], [0, 2], timestamps=[0, 1]).to_sequence()


def test_sequence_interactions():
    sequences = SequenceInteractions(np.array([[0, 1, 2], [3, 4, 5]]), user_ids=[0, 1])
    assert sequences.num_items == 6 and sequences.max_sequence_length == 3
    assert sequences.sequences.dtype == np.int32 and len(sequences) == 2
    assert repr(sequences) == ("<Sequence interactions dataset (2 sequences x 3 sequence "
                               "length)>")
    with pytest.raises(ValueError, match="2-dimensional"):
        SequenceInteractions(np.arange(3))
    with pytest.raises(ValueError, match="num_items must be an integer greater"):
        SequenceInteractions(np.array([[0, 7]]), num_items=5)
    with pytest.raises(ValueError, match="one entry per sequence"):
        SequenceInteractions(np.array([[0, 7]]), user_ids=[1, 2])
