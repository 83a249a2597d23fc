"""FeatureEncoder: column typing, vocabulary, bins, delimiter splitting, persistence."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hybridrec.data import FeatureEncoder, features_from_frame
from hybridrec.data.features import joined_separator, quantile_edges
from tests.conftest import shared_data_path


@pytest.fixture
def frame():
    return pd.DataFrame({
        "id": ["a", "b", "c", "d", "e", "f"],
        "genres": ["Action|Comedy", "Comedy", "Drama|Action", "Drama", "Comedy|Drama",
                   None],
        "action": [1, 0, 1, 0, 0, 0],
        "kids": [True, False, False, True, False, False],
        "price": [1.0, 2.5, 3.0, 10.0, 7.5, np.nan],
        "colour": ["red", "blue", "red", None, "green", "blue"],
    })


def test_automatic_typing(frame):
    encoder = FeatureEncoder().fit(frame, "id")
    kinds = encoder.describe().set_index("column")
    assert kinds.loc["genres", "kind"] == "multi_valued"
    assert kinds.loc["genres", "separator"] == "|"
    assert kinds.loc["action", "kind"] == "flag" and kinds.loc["kids", "kind"] == "flag"
    assert kinds.loc["price", "kind"] == "numeric"
    assert kinds.loc["colour", "kind"] == "categorical"
    assert kinds["automatic"].all()
    names = set(encoder.names_)
    assert {"genres:Action", "genres:Comedy", "genres:Drama", "action", "kids"} <= names
    assert not any("|" in name for name in names)
    matrix = encoder.transform(frame).toarray()
    column = {name: i for i, name in enumerate(encoder.names_)}
    # Row a: Action and Comedy, the action flag, colour red, one price bin.
    row = matrix[0]
    assert row[column["genres:Action"]] == row[column["genres:Comedy"]] == 1
    assert row[column["genres:Drama"]] == 0 and row[column["action"]] == 1
    assert row[column["kids"]] == 1 and row[column["colour:red"]] == 1
    # Row f: no genres, no price (NaN means "no feature").
    assert matrix[5][[column[n] for n in encoder.names_ if n.startswith(("genres", "price"))]
                     ].sum() == 0


def test_flags_are_one_feature_not_a_degenerate_bin(frame):
    """A 0/1 column binned into quantiles put every row in one bin (all rows alike)."""
    explicit = FeatureEncoder(numeric=["action"]).fit(frame, "id")
    # Explicitly numeric: one bin per distinct value, not one bin for all.
    assert list(explicit.names_) == ["action:bin0", "action:bin1"]
    values = explicit.transform(frame).toarray()
    np.testing.assert_array_equal(values[:, 1], frame["action"].to_numpy())
    np.testing.assert_array_equal(values[:, 0], 1 - frame["action"].to_numpy())
    edges = quantile_edges(np.array([0.0] * 90 + [1.0] * 10), 5)
    np.testing.assert_array_equal(edges, [0.0, 0.5, 1.0])


def test_transform_uses_fitted_vocabulary_and_bins(frame):
    encoder = FeatureEncoder().fit(frame, "id")
    later = pd.DataFrame({"id": ["x", "y"], "genres": ["Western|Comedy", "Drama"],
                          "action": [0, 1], "kids": [False, True], "price": [-1e9, 1e9],
                          "colour": ["purple", "red"]})
    matrix = encoder.transform(later)
    assert matrix.shape == (2, encoder.names_.size)
    names = encoder.names_[matrix[0].indices]
    assert "genres:Comedy" in names and not any("Western" in n for n in names)
    assert "colour:purple" not in encoder.names_
    price = [n for n in encoder.names_ if n.startswith("price:")]
    # Values outside the fitted edges go to the end bins.
    assert "price:bin0" in names and f"price:bin{len(price) - 1}" not in names
    assert f"price:bin{len(price) - 1}" in encoder.names_[matrix[1].indices]
    with pytest.raises(ValueError, match=r"has no column\(s\) \['colour'\]"):
        encoder.transform(later.drop(columns="colour"))


def test_explicit_spec_wins_and_is_checked(frame):
    whole = FeatureEncoder(categorical=["genres"]).fit(frame, "id")
    assert "genres:Action|Comedy" in whole.names_
    split = FeatureEncoder(multi_valued={"genres": "|"}, flags=["kids"]).fit(frame, "id")
    assert set(split.names_) == {"genres:Action", "genres:Comedy", "genres:Drama", "kids"}
    with pytest.raises(ValueError, match="given more than one kind"):
        FeatureEncoder(categorical=["colour"], numeric=["colour"]).fit(frame, "id")
    with pytest.raises(ValueError, match="id column 'id' cannot also be a feature"):
        FeatureEncoder(categorical=["id"]).fit(frame, "id")
    with pytest.raises(ValueError, match="numeric column 'colour' must be numeric"):
        FeatureEncoder(numeric=["colour"]).fit(frame, "id")
    with pytest.raises(ValueError, match="flag column 'colour' must be boolean or 0/1"):
        FeatureEncoder(flags=["colour"]).fit(frame, "id")
    with pytest.raises(ValueError, match="no feature columns besides 'id'"):
        FeatureEncoder().fit(frame[["id"]], "id")
    with pytest.raises(ValueError, match="not fitted"):
        FeatureEncoder().transform(frame)


def test_separator_detection_leaves_free_text_alone():
    titles = pd.Series([f"Film {i}, The ({1950 + i})" for i in range(200)])
    assert joined_separator(titles) is None
    cities = pd.Series(["Paris, France", "Lyon, France", "Nice, France", "Rome, Italy",
                        "Milan, Italy", "Berlin, Germany"])
    assert joined_separator(cities) is None
    tags = pd.Series(["a;b", "b;c", "a;c", "c", "a;b;c", "b"] * 5)
    assert joined_separator(tags) == ";"
    assert joined_separator(pd.Series([1, 2, 3])) is None
    assert joined_separator(pd.Series(["x|y", 3, None], dtype=object)) is None


def test_round_trip_through_json(frame):
    encoder = FeatureEncoder(n_bins=3).fit(frame, "id")
    again = FeatureEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    assert (encoder.transform(frame) != again.transform(frame)).nnz == 0
    np.testing.assert_array_equal(encoder.names_, again.names_)
    assert repr(again).startswith("FeatureEncoder('colour': categorical")


def test_movielens_latest_small_genres_are_twenty_features():
    movies = pd.read_csv(shared_data_path("ml-latest-small", "movies.csv"))
    encoder = FeatureEncoder().fit(movies[["movieId", "genres"]], "movieId")
    assert encoder.names_.size == 20
    assert "genres:(no genres listed)" in encoder.names_
    matrix = features_from_frame(movies[["movieId", "genres"]], "movieId")
    assert matrix.shape == (len(movies), len(movies) + 20)
