"""Splits: LightFM-compatible random split, per-user split, temporal split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from hybridrec.data import (
    fetch_movielens,
    per_user_train_test_split,
    random_train_test_split,
    temporal_train_test_split,
)
from tests.conftest import shared_data_path


def _pairs(matrix: sp.coo_matrix) -> set:
    return set(zip(matrix.row.tolist(), matrix.col.tolist(), strict=True))


@pytest.fixture
def random_matrix() -> sp.coo_matrix:
    return sp.random(60, 80, density=0.1, format="coo", random_state=3, dtype=np.float32)


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.7])
def test_random_split_properties(random_matrix, fraction):
    train, test = random_train_test_split(random_matrix, fraction, random_state=1)
    assert isinstance(train, sp.coo_matrix) and isinstance(test, sp.coo_matrix)
    assert train.shape == test.shape == random_matrix.shape
    assert train.dtype == test.dtype == random_matrix.dtype
    assert test.nnz == random_matrix.nnz - int((1 - fraction) * random_matrix.nnz)
    assert not _pairs(train) & _pairs(test)
    assert _pairs(train) | _pairs(test) == _pairs(random_matrix)
    again, _ = random_train_test_split(random_matrix, fraction, random_state=1)
    np.testing.assert_array_equal(again.row, train.row)


def test_random_split_equals_lightfm_on_movielens():
    """Numbers measured once with lightfm.cross_validation on fetch_movielens()['train']."""
    train_all = fetch_movielens(path=shared_data_path("ml-100k"))["train"]
    train, test = random_train_test_split(train_all, 0.2, random_state=42)
    assert (train.nnz, test.nnz) == (72456, 18114)
    assert test.row[:5].tolist() == [243, 893, 681, 665, 449]
    assert test.col[:5].tolist() == [659, 1114, 65, 107, 196]
    assert int((test.row.astype(np.int64) * 10000 + test.col).sum()) == 82969753814


def test_random_split_errors(random_matrix):
    with pytest.raises(ValueError, match="Interactions must be a scipy.sparse matrix"):
        random_train_test_split(random_matrix.toarray())
    with pytest.raises(ValueError, match=r"test_percentage must be in \[0, 1\], got 1.5"):
        random_train_test_split(random_matrix, 1.5)
    with pytest.raises(ValueError, match="random_state must be None, an int"):
        random_train_test_split(random_matrix, random_state="seed")


def test_per_user_fraction_keeps_history(random_matrix):
    generator = np.random.default_rng(0)
    train, test = per_user_train_test_split(random_matrix, test_fraction=0.3,
                                            random_state=generator)
    assert not _pairs(train) & _pairs(test)
    assert _pairs(train) | _pairs(test) == _pairs(random_matrix)
    counts = np.bincount(random_matrix.row, minlength=60)
    test_counts = np.bincount(test.row, minlength=60)
    train_counts = np.bincount(train.row, minlength=60)
    np.testing.assert_array_equal(test_counts,
                                  np.minimum(np.floor(0.3 * counts + 0.5), counts - 1)
                                  .clip(0).astype(int))
    assert np.all(train_counts[test_counts > 0] >= 1)


def test_per_user_leave_k_out(random_matrix):
    train, test = per_user_train_test_split(random_matrix, n_test=2, min_train=3,
                                            random_state=5)
    counts = np.bincount(random_matrix.row, minlength=60)
    test_counts = np.bincount(test.row, minlength=60)
    np.testing.assert_array_equal(test_counts, np.clip(np.minimum(2, counts - 3), 0, None))
    assert np.all(np.bincount(train.row, minlength=60)[test_counts > 0] >= 3)
    again = per_user_train_test_split(random_matrix, n_test=2, min_train=3, random_state=5)
    assert _pairs(again[1]) == _pairs(test)


def test_per_user_errors(random_matrix):
    with pytest.raises(ValueError, match="give exactly one of test_fraction and n_test"):
        per_user_train_test_split(random_matrix, test_fraction=0.2, n_test=1)
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\), got 1.0"):
        per_user_train_test_split(random_matrix, test_fraction=1.0)
    with pytest.raises(ValueError, match="n_test must be a positive integer, got 0"):
        per_user_train_test_split(random_matrix, n_test=0)
    with pytest.raises(ValueError, match="min_train must be a positive integer, got 0"):
        per_user_train_test_split(random_matrix, n_test=1, min_train=0)


@pytest.fixture
def timed() -> pd.DataFrame:
    return pd.DataFrame({
        "user": ["a", "a", "a", "b", "b", "c"],
        "item": [1, 2, 3, 1, 4, 5],
        "ts": [10, 30, 20, 5, 40, 50],
    })


def test_temporal_global_cutoff_and_fraction(timed):
    train, test = temporal_train_test_split(timed, "ts", cutoff=30)
    assert test["ts"].tolist() == [30, 40, 50] and train["ts"].max() < 30
    train, test = temporal_train_test_split(timed, "ts", test_fraction=0.5)
    assert sorted(test["ts"]) == [30, 40, 50]
    assert len(train) + len(test) == len(timed)


def test_temporal_last_n_per_user(timed):
    train, test = temporal_train_test_split(timed, "ts", n_test=1, user_col="user")
    assert sorted(zip(test["user"], test["ts"], strict=True)) == [("a", 30), ("b", 40)]
    assert set(train["user"]) == {"a", "b", "c"}  # c has one row: it stays in train


def test_temporal_on_movielens_latest_small():
    ratings = pd.read_csv(shared_data_path("ml-latest-small", "ratings.csv"))
    train, test = temporal_train_test_split(ratings, "timestamp", test_fraction=0.2,
                                            user_col="userId")
    last = ratings.groupby("userId")["timestamp"].transform("max")
    assert len(train) + len(test) == len(ratings)
    assert (test["timestamp"].to_numpy() >= train.groupby("userId")["timestamp"].max()
            .reindex(test["userId"]).to_numpy()).all()
    assert set(test["userId"]) <= set(train["userId"])
    assert (test["timestamp"] <= last.loc[test.index]).all()


def test_temporal_errors(timed):
    with pytest.raises(ValueError, match="give exactly one of cutoff, test_fraction and n_test"):
        temporal_train_test_split(timed, "ts")
    with pytest.raises(ValueError, match="n_test \\(last-n per user\\) needs user_col"):
        temporal_train_test_split(timed, "ts", n_test=1)
    with pytest.raises(ValueError, match=r"timestamp_col: column 'time' not in the frame"):
        temporal_train_test_split(timed, "time", cutoff=1)
    with pytest.raises(ValueError, match=r"timestamp_col 'ts' has 1 missing value\(s\) at "
                                         r"row position\(s\) \[2\]"):
        temporal_train_test_split(timed.assign(ts=[1, 2, None, 4, 5, 6]), "ts", cutoff=3)
