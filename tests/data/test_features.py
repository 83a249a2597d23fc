"""DataFrame builders: interactions and features from wide and long frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from hybridrec.data import (
    IdMapper,
    combine_features,
    features_from_frame,
    features_from_long_frame,
    interactions_from_frame,
    load_movielens,
    normalize_rows,
)
from tests.conftest import shared_data_path


@pytest.fixture
def events() -> pd.DataFrame:
    return pd.DataFrame({
        "user": ["ann", "bob", "ann", "cy", "ann", "bob"],
        "item": ["x", "y", "x", "z", "w", "x"],
        "weight": [1.0, 2.0, 3.0, 4.0, 5.0, 0.5],
    })


@pytest.fixture
def items() -> pd.DataFrame:
    return pd.DataFrame({
        "item": ["x", "y", "z", "w"],
        "genre": ["drama", "comedy", np.nan, "drama"],
        "price": [1.0, 2.0, np.nan, 4.0],
        "tags": [["a", "b"], [], None, ["b"]],
        "styles": ["s1|s2", "s2", None, ""],
    })


def test_interactions_csr_dtypes_and_mappers(events):
    result = interactions_from_frame(events, "user", "item", "weight")
    matrix = result.matrix
    assert isinstance(matrix, sp.csr_matrix)
    assert matrix.dtype == np.float32 and matrix.indices.dtype == np.int32
    assert matrix.indptr.dtype == np.int32 and matrix.has_sorted_indices
    assert list(result.user_mapper.keys) == ["ann", "bob", "cy"]
    assert list(result.item_mapper.keys) == ["x", "y", "z", "w"]
    assert matrix[0, 0] == 4.0  # ann-x summed
    assert matrix.sum() == pytest.approx(15.5)


@pytest.mark.parametrize("duplicates, expected", [("sum", 4.0), ("max", 3.0), ("first", 1.0),
                                                  ("last", 3.0)])
def test_duplicate_policies(events, duplicates, expected):
    matrix = interactions_from_frame(events, "user", "item", "weight",
                                     duplicates=duplicates).matrix
    assert matrix[0, 0] == expected
    assert matrix.nnz == 5


def test_keep_duplicates_as_coo_entries(events):
    matrix = interactions_from_frame(events, "user", "item", duplicates="keep",
                                     format="coo").matrix
    assert isinstance(matrix, sp.coo_matrix) and matrix.nnz == 6
    assert matrix.row.dtype == np.int32 and np.all(matrix.data == 1.0)


def test_given_mappers_unknown_policies(events):
    users = IdMapper(["bob", "ann"])
    items = IdMapper(["x", "y", "z", "w", "cold"])
    with pytest.raises(ValueError, match=r"column 'user' has 1 id\(s\) not in the given "
                                         r"mapper: \['cy'\]"):
        interactions_from_frame(events, "user", "item", user_mapper=users, item_mapper=items)
    dropped = interactions_from_frame(events, "user", "item", user_mapper=users,
                                      item_mapper=items, unknown="ignore")
    assert dropped.matrix.shape == (2, 5) and dropped.matrix.nnz == 4
    assert dropped.matrix[0, 1] == 1.0  # bob-y in row 0 of the given mapper
    extended = interactions_from_frame(events, "user", "item", user_mapper=users,
                                       item_mapper=items, unknown="extend")
    assert list(extended.user_mapper.keys) == ["bob", "ann", "cy"]
    assert len(users) == 2  # the caller's mapper is not modified


def test_interaction_errors(events):
    with pytest.raises(ValueError, match=r"frame has no column\(s\) \['rating'\]"):
        interactions_from_frame(events, "user", "item", "rating")
    bad = events.assign(user=["ann", None, "bob", "cy", "ann", "bob"])
    with pytest.raises(ValueError, match=r"id column 'user' contains 1 missing key.*\[1\]"):
        interactions_from_frame(bad, "user", "item")
    nan_weight = events.assign(weight=[1.0, np.nan, 1, 1, 1, np.inf])
    with pytest.raises(ValueError, match=r"weight_col 'weight' has 2 NaN or infinite "
                                         r"value\(s\).*\[1, 5\]"):
        interactions_from_frame(nan_weight, "user", "item", "weight")
    with pytest.raises(ValueError, match="weight_col 'item' must be numeric"):
        interactions_from_frame(events, "user", "item", "item")
    with pytest.raises(ValueError, match="duplicates must be one of"):
        interactions_from_frame(events, "user", "item", duplicates="mean")
    with pytest.raises(ValueError, match="duplicates='keep' needs format='coo'"):
        interactions_from_frame(events, "user", "item", duplicates="keep")
    with pytest.raises(ValueError, match="format must be 'csr' or 'coo', got 'dense'"):
        interactions_from_frame(events, "user", "item", format="dense")
    with pytest.raises(ValueError, match="unknown must be one of"):
        interactions_from_frame(events, "user", "item", user_mapper=IdMapper(["ann"]),
                                unknown="skip")
    with pytest.raises(TypeError, match="frame must be a pandas.DataFrame"):
        interactions_from_frame(events.to_numpy(), "user", "item")


def test_wide_frame_features(items):
    result = features_from_frame(items, "item", categorical=["genre"], numeric=["price"],
                                 multi_valued={"tags": None, "styles": "|"}, n_bins=2,
                                 normalize=False)
    assert result.n_identity == 4
    assert list(result.names[:4]) == ["x", "y", "z", "w"]
    assert set(result.side_names) == {"genre:comedy", "genre:drama", "tags:a", "tags:b",
                                      "styles:s1", "styles:s2", "price:bin0", "price:bin1"}
    dense = result.matrix.toarray()
    # the item with NaN genre, NaN price, None tags and None styles has only its identity
    np.testing.assert_array_equal(np.flatnonzero(dense[2]), [2])
    row_x = {result.names[j] for j in np.flatnonzero(dense[0])}
    assert row_x == {"x", "genre:drama", "tags:a", "tags:b", "styles:s1", "styles:s2",
                     "price:bin0"}
    assert result.matrix.dtype == np.float32 and result.matrix.indices.dtype == np.int32
    column = result.feature_index("genre:drama")
    assert set(np.flatnonzero(dense[:, column])) == {0, 3}
    np.testing.assert_array_equal(result.feature_index(["w", "x"], identity=True), [3, 0])
    assert result.bin_edges["price"].size == 3
    with pytest.raises(KeyError, match="feature name"):
        result.feature_index("genre:horror")


def test_wide_frame_normalisation_and_no_identity(items):
    normalised = features_from_frame(items, "item", categorical=["genre"])
    np.testing.assert_allclose(np.asarray(normalised.matrix.sum(axis=1)).ravel(), 1.0,
                               rtol=1e-6)
    plain = features_from_frame(items, "item", categorical=["genre"], identity=False)
    assert plain.n_identity == 0 and plain.shape == (4, 2)
    sums = np.asarray(plain.matrix.sum(axis=1)).ravel()
    np.testing.assert_allclose(sums, [1, 1, 0, 1])  # no feature -> an empty row


def test_inferred_columns_and_raw_numeric(items):
    inferred = features_from_frame(items.drop(columns=["styles"]), "item", normalize=False)
    assert any(name.startswith("price:bin") for name in inferred.side_names)
    assert "tags:a" in set(inferred.side_names) and "genre:drama" in set(inferred.side_names)
    raw = features_from_frame(items, "item", raw=["price"], identity=False, normalize=False)
    np.testing.assert_allclose(raw.matrix.toarray().ravel(), [1, 2, 0, 4])


def test_mapper_alignment(items):
    mapper = IdMapper(["w", "cold", "x", "y", "z"])
    result = features_from_frame(items, "item", categorical=["genre"], mapper=mapper)
    assert result.shape[0] == 5
    assert result.matrix[1].nnz == 1  # the cold key has only its identity feature
    assert result.matrix[0, result.feature_index("genre:drama")] > 0
    with pytest.raises(ValueError, match=r"column 'item' has 2 id\(s\) not in the given "
                                         r"mapper: \['y', 'z'\]"):
        features_from_frame(items, "item", categorical=["genre"], mapper=IdMapper(["x", "w"]))
    dropped = features_from_frame(items, "item", categorical=["genre"],
                                  mapper=IdMapper(["x", "w"]), unknown="ignore")
    assert dropped.shape == (2, 3)


def test_feature_frame_errors(items):
    with pytest.raises(ValueError, match=r"id column 'item' has 1 duplicated id\(s\): \['x'\]"):
        features_from_frame(pd.concat([items, items.iloc[:1]]), "item",
                            categorical=["genre"])
    with pytest.raises(ValueError, match=r"id column 'item' contains 1 missing key"):
        features_from_frame(items.assign(item=["x", None, "z", "w"]), "item",
                            categorical=["genre"])
    with pytest.raises(ValueError, match="numeric column 'genre' must be numeric"):
        features_from_frame(items, "item", numeric=["genre"])
    with pytest.raises(ValueError, match=r"frame has no column\(s\) \['colour'\]"):
        features_from_frame(items, "item", categorical=["colour"])
    with pytest.raises(ValueError, match="n_bins must be a positive integer, got 0"):
        features_from_frame(items, "item", numeric=["price"], n_bins=0)
    with pytest.raises(ValueError, match="contains infinite values"):
        features_from_frame(items.assign(price=[1, np.inf, 2, 3]), "item", numeric=["price"])


def test_long_frame_type_value_and_weights():
    tags = pd.DataFrame({
        "item": ["x", "x", "y", "y", "z", "x"],
        "type": ["actor", "genre", "actor", None, "genre", "genre"],
        "value": ["bob", "drama", "al", "q", "drama", "drama"],
        "score": [1.0, 2.0, 3.0, 4.0, np.nan, 0.5],
    })
    result = features_from_long_frame(tags, "item", ["type", "value"], "score",
                                      normalize=False)
    assert list(result.side_names) == ["actor:bob", "genre:drama", "actor:al"]
    drama = result.feature_index("genre:drama")
    assert result.matrix[0, drama] == pytest.approx(2.5)  # repeated rows add up
    assert result.matrix[2].nnz == 1  # z: NaN weight -> no feature, identity only
    single = features_from_long_frame(tags, "item", "value", identity=False)
    assert set(single.side_names) == {"bob", "drama", "al", "q"}
    lists = pd.DataFrame({"item": ["x", "y"], "tags": [["a", "b"], ["b"]]})
    exploded = features_from_long_frame(lists, "item", "tags", identity=False,
                                        normalize=False)
    assert exploded.matrix.sum() == 3
    with pytest.raises(ValueError, match="weight_col 'value' must be numeric"):
        features_from_long_frame(tags, "item", "type", "value")
    with pytest.raises(ValueError, match="feature_cols must name at least one column"):
        features_from_long_frame(tags, "item", [])


def test_combine_features(items):
    tags = pd.DataFrame({"item": ["x", "y", "new"], "tag": ["drama", "t1", "t2"]})
    wide = features_from_frame(items, "item", categorical=["genre"], identity=False,
                               normalize=False)
    long = features_from_long_frame(tags, "item", "tag", identity=False, normalize=False)
    combined = combine_features([wide, long])
    assert list(combined.mapper.keys) == ["x", "y", "z", "w", "new"]
    assert combined.n_identity == 5
    assert list(combined.side_names) == ["genre:comedy", "genre:drama", "drama", "t1", "t2"]
    np.testing.assert_allclose(np.asarray(combined.matrix.sum(axis=1)).ravel(), 1.0,
                               rtol=1e-6)
    with pytest.raises(ValueError, match=r"parts\[0\] was built with identity=True"):
        combine_features([features_from_frame(items, "item", categorical=["genre"])])
    with pytest.raises(ValueError, match=r"parts\[1\] has keys not in mapper: \['new'\]"):
        combine_features([wide, long], mapper=wide.mapper)
    with pytest.raises(ValueError, match="at least one FeatureMatrix"):
        combine_features([])


def test_normalize_rows_matches_l1():
    matrix = sp.csr_matrix(np.array([[1.0, -3.0, 0.0], [0.0, 0.0, 0.0], [2.0, 0, 2.0]]))
    result = normalize_rows(matrix).toarray()
    np.testing.assert_allclose(result, [[0.25, -0.75, 0], [0, 0, 0], [0.5, 0, 0.5]])


def test_movielens_latest_small_hybrid_features():
    data = load_movielens(shared_data_path("ml-latest-small"))
    ratings, movies, tags = data["ratings"], data["items"], data["tags"]
    interactions = interactions_from_frame(ratings, "user_id", "item_id", "rating")
    assert interactions.matrix.shape == (610, 9724)
    assert interactions.matrix.nnz == 100836
    item_mapper = interactions.item_mapper.copy()
    item_mapper.partial_fit(movies["item_id"])  # movies without ratings: cold items
    genres = features_from_frame(movies, "item_id", multi_valued=["genres"],
                                 mapper=item_mapper, identity=False, normalize=False)
    user_tags = features_from_long_frame(tags, "item_id", "tag", mapper=item_mapper,
                                         identity=False, normalize=False)
    combined = combine_features([genres, user_tags], mapper=item_mapper)
    assert combined.shape[0] == 9742
    assert combined.n_identity == 9742
    n_genres = 19  # "(no genres listed)" is a missing value, not a genre
    assert genres.shape == (9742, n_genres)
    assert user_tags.shape[1] == tags["tag"].nunique()
    assert combined.shape[1] == 9742 + len(set(genres.side_names) | set(user_tags.side_names))
    np.testing.assert_allclose(np.asarray(combined.matrix.sum(axis=1)).ravel(), 1.0,
                               rtol=1e-5)
