"""Dataset: lightfm.data.Dataset 1.17 behaviours (ported from LightFM's test_data.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from hybridrec.data import Dataset
from tests.conftest import shared_data_path


def test_shapes_with_identity_features():
    dataset = Dataset()
    dataset.fit(range(10), range(100))
    assert dataset.interactions_shape() == (10, 100)
    assert dataset.user_features_shape() == (10, 10)
    assert dataset.item_features_shape() == (100, 100)
    assert dataset.model_dimensions() == (10, 100)
    assert dataset.build_user_features([]).getnnz() == 10
    assert dataset.build_item_features([]).getnnz() == 100


def test_shapes_without_identity_features():
    dataset = Dataset(user_identity_features=False, item_identity_features=False)
    dataset.fit(range(10), range(100))
    assert dataset.user_features_shape() == (10, 0)
    assert dataset.item_features_shape() == (100, 0)
    assert dataset.build_user_features([], normalize=False).getnnz() == 0
    assert dataset.build_item_features([], normalize=False).getnnz() == 0


def test_build_interactions_dtypes_weights_and_duplicates():
    dataset = Dataset().fit(["a", "b"], ["x", "y", "z"])
    interactions, weights = dataset.build_interactions(
        [("a", "x"), ("b", "z", 2.5), ("a", "x", 3.0)])
    assert isinstance(interactions, sp.coo_matrix) and isinstance(weights, sp.coo_matrix)
    assert interactions.dtype == np.int32 and weights.dtype == np.float32
    assert interactions.shape == weights.shape == (2, 3)
    assert interactions.nnz == 3  # duplicates kept as separate entries, as LightFM
    np.testing.assert_array_equal(interactions.row, [0, 1, 0])
    np.testing.assert_array_equal(interactions.col, [0, 2, 0])
    np.testing.assert_array_equal(weights.data, [1.0, 2.5, 3.0])
    assert weights.toarray()[0, 0] == 4.0


def test_unknown_ids_raise_lightfm_errors_then_fit_partial_fixes():
    dataset = Dataset().fit(range(3), range(3))
    with pytest.raises(ValueError, match="User id 7 not in user id mapping. Make sure you "
                                         "call the fit method."):
        dataset.build_interactions([(7, 0)])
    with pytest.raises(ValueError, match="Item id 9 not in item id mapping"):
        dataset.build_interactions([(0, 9)])
    dataset.fit_partial(users=[7], items=[9])
    interactions, _ = dataset.build_interactions([(7, 9)])
    assert interactions.shape == (4, 4)
    assert interactions.row[0] == 3 and interactions.col[0] == 3


def test_malformed_tuples():
    dataset = Dataset().fit(range(3), range(3))
    with pytest.raises(ValueError, match=r"Expecting tuples of \(user_id, item_id, weight\) "
                                         r"or \(user_id, item_id\). Got \(1,\)"):
        dataset.build_interactions([(0, 1), (1,)])
    with pytest.raises(ValueError, match=r"Expected tuples of \(item_id, features\), got "
                                         r"\(1, 2, 3\)"):
        dataset.build_item_features([(1, 2, 3)])


def test_features_from_lists_and_dicts():
    dataset = Dataset()
    dataset.fit(range(10), range(100), user_features=[f"u{i}" for i in range(10)],
                item_features=[f"i{i}" for i in range(100)])
    lists = dataset.build_user_features(
        [(user, [f"u{i}" for i in range(10)]) for user in range(10)])
    assert lists.getnnz() == 10 * 10 + 10
    np.testing.assert_allclose(np.asarray(lists.sum(axis=1)).ravel(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(lists[0, 0], 1 / 11, rtol=1e-6)
    dicts = dataset.build_item_features(
        [(item, {f"i{item}": 0.5 + item}) for item in range(100)], normalize=False)
    feature_map = dataset.mapping()[3]
    for item in (0, 42, 99):
        assert dicts[item, feature_map[f"i{item}"]] == pytest.approx(0.5 + item)
        assert dicts[item, feature_map[item]] == 1.0  # the identity entry


def test_feature_errors():
    dataset = Dataset().fit(range(3), range(3), item_features=["red"])
    with pytest.raises(ValueError, match="item id 5 not in item id mappings."):
        dataset.build_item_features([(5, ["red"])])
    with pytest.raises(ValueError, match="Feature blue not in feature mapping. Call fit "
                                         "first."):
        dataset.build_item_features([(0, ["blue"])])
    no_identity = Dataset(item_identity_features=False).fit(range(3), range(3),
                                                            item_features=["red"])
    with pytest.raises(ValueError, match="Cannot normalize feature matrix: some rows have "
                                         "zero norm"):
        no_identity.build_item_features([(0, ["red"])])


def test_mapping_shares_namespace_like_lightfm():
    dataset = Dataset().fit(["a", "b"], ["x"], user_features=["a", "f"])
    user_ids, user_features, item_ids, item_features = dataset.mapping()
    assert user_ids == {"a": 0, "b": 1}
    # LightFM registers ids as features, so a feature named like an id shares its column.
    assert user_features == {"a": 0, "b": 1, "f": 2}
    assert item_ids == {"x": 0} and item_features == {"x": 0}
    dataset.fit_partial(users=["c"], user_features=["g"])
    assert dataset.mapping()[1] == {"a": 0, "b": 1, "f": 2, "c": 3, "g": 4}
    dataset.fit(["z"], ["y"])
    assert dataset.mapping()[0] == {"z": 0}


def test_missing_ids_rejected_in_fit():
    with pytest.raises(ValueError, match=r"users contains 1 missing key"):
        Dataset().fit(["a", None], ["x"])


def test_movielens_latest_small_parity_with_lightfm():
    """Shapes and sums measured once with rectools-lightfm 1.17.3 on the same files."""
    folder = shared_data_path("ml-latest-small")
    ratings = pd.read_csv(folder / "ratings.csv")
    movies = pd.read_csv(folder / "movies.csv")
    genres = movies["genres"].str.split("|")
    all_genres = sorted(genres.explode().unique())
    dataset = Dataset().fit(ratings["userId"].unique(), movies["movieId"].unique(),
                            item_features=all_genres)
    interactions, weights = dataset.build_interactions(
        zip(ratings["userId"], ratings["movieId"], ratings["rating"], strict=True))
    assert dataset.interactions_shape() == (610, 9742)
    assert interactions.nnz == 100836 and interactions.dtype == np.int32
    assert float(weights.data.sum(dtype=np.float64)) == 353083.0
    features = dataset.build_item_features(zip(movies["movieId"], genres, strict=True))
    assert dataset.item_features_shape() == (9742, 9762)
    assert features.nnz == 31826 and features.max() == 0.5
    assert dataset.model_dimensions() == (610, 9762)
    plain = Dataset(item_identity_features=False).fit(
        ratings["userId"].unique(), movies["movieId"].unique(), item_features=all_genres)
    assert plain.build_item_features(zip(movies["movieId"], genres, strict=True)).nnz == 22084
    assert plain.item_features_shape() == (9742, 20)
