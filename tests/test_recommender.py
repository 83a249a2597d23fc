"""Recommender facade end to end on MovieLens 100k with string keys ("u12" / "m7").

Numbers are checked against direct numpy computations from the fitted model's arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from hybridrec import PopularityModel
from hybridrec.data import features_from_long_frame
from hybridrec.metrics import precision_at_k
from hybridrec.persist import ModelFileError, save_model
from hybridrec.recommender import Recommender

from .conftest import shared_data_path


def _ratings(name: str) -> pd.DataFrame:
    frame = pd.read_csv(shared_data_path("ml-100k", name), sep="\t", header=None,
                        names=["user", "item", "rating", "timestamp"])
    return pd.DataFrame({"user_id": "u" + frame["user"].astype(str),
                         "item_id": "m" + frame["item"].astype(str),
                         "rating": frame["rating"].astype(np.float32)})


@pytest.fixture(scope="module")
def ml() -> dict:
    """u1.base / u1.test with string keys, user frame (wide) and genre FeatureMatrix."""
    train, test = _ratings("u1.base"), _ratings("u1.test")
    users = pd.read_csv(shared_data_path("ml-100k", "u.user"), sep="|", header=None,
                        names=["user", "age", "gender", "occupation", "zip"])
    users = pd.DataFrame({"user_id": "u" + users["user"].astype(str), "age": users["age"],
                          "gender": users["gender"], "occupation": users["occupation"]})
    items = pd.read_csv(shared_data_path("ml-100k", "u.item"), sep="|", header=None,
                        encoding="latin-1")
    genres = pd.read_csv(shared_data_path("ml-100k", "u.genre"), sep="|", header=None)[0]
    flags = items.iloc[:, -19:].set_axis(genres.tolist(), axis=1)
    flags.insert(0, "item_id", "m" + items[0].astype(str))
    long = flags.melt(id_vars="item_id", var_name="genre", value_name="flag")
    long = long[long["flag"] == 1]
    genre_features = features_from_long_frame(long, "item_id", "genre", identity=False,
                                              normalize=False)
    rec = Recommender(no_components=16, epochs=5, random_state=0)
    rec.fit(train, user_features=users, item_features=genre_features)
    return {"rec": rec, "train": train, "test": test, "users": users,
            "genres": genre_features}


def _scores(rec: Recommender, user: str) -> np.ndarray:
    """model.predict for one user against every item (the reference)."""
    row = rec.user_mapper_.transform([user])[0]
    n_items = len(rec.item_mapper_)
    return rec.model_.predict(np.full(n_items, row), np.arange(n_items),
                              item_features=rec.item_features_.matrix,
                              user_features=rec.user_features_.matrix)


# ------------------------------------------------------------------ recommend
def test_recommend_frame(ml):
    rec, train = ml["rec"], ml["train"]
    out = rec.recommend(["u1", "u7"], k=5)
    assert list(out.columns) == ["user", "item", "score", "rank"]
    assert out["user"].tolist() == ["u1"] * 5 + ["u7"] * 5
    assert out["rank"].tolist() == [1, 2, 3, 4, 5] * 2
    assert isinstance(out["item"].iloc[0], str)
    assert set(out["item"]) <= set(train["item_id"])
    everyone = rec.recommend(k=3)
    assert everyone["user"].nunique() == len(rec.user_mapper_) == 943
    assert len(everyone) == 3 * 943


@pytest.mark.parametrize("exclude_seen", [True, False])
def test_recommend_equals_sorted_predict(ml, exclude_seen):
    rec, train = ml["rec"], ml["train"]
    keys = rec.item_mapper_.keys.to_numpy()
    for user in ["u1", "u13", "u405", "u943"]:
        scores = _scores(rec, user).astype(np.float64)
        if exclude_seen:
            seen = rec.item_mapper_.transform(train.loc[train["user_id"] == user, "item_id"])
            scores[seen] = -np.inf
        out = rec.recommend(user, k=10, exclude_seen=exclude_seen)
        expected = np.sort(scores)[::-1][:10]
        np.testing.assert_allclose(out["score"], expected, rtol=1e-5, atol=1e-5)
        # The reported scores are the model's own scores of the recommended items.
        np.testing.assert_allclose(out["score"], scores[rec.item_mapper_.transform(
            out["item"])], rtol=1e-5, atol=1e-5)
        order = np.argsort(-scores, kind="stable")[:10]
        # Same items up to float near-ties.
        assert len(set(keys[order]) ^ set(out["item"])) <= 2


def test_exclude_seen(ml):
    rec, train = ml["rec"], ml["train"]
    out = rec.recommend(k=20)
    seen = out.merge(train, left_on=["user", "item"], right_on=["user_id", "item_id"])
    assert len(seen) == 0
    with_seen = rec.recommend(k=20, exclude_seen=False)
    assert len(with_seen.merge(train, left_on=["user", "item"],
                               right_on=["user_id", "item_id"])) > 0


def test_candidates_and_filter(ml):
    rec = ml["rec"]
    candidates = [f"m{i}" for i in range(1, 40)]
    out = rec.recommend(["u1", "u2"], k=5, items=candidates, exclude_seen=False)
    assert set(out["item"]) <= set(candidates)
    scores = _scores(rec, "u2")
    rows = rec.item_mapper_.transform(candidates)
    best = np.sort(scores[rows])[::-1][:5]
    np.testing.assert_allclose(out.loc[out["user"] == "u2", "score"], best, rtol=1e-5)
    top = rec.recommend("u2", k=5, exclude_seen=False)["item"].tolist()
    filtered = rec.recommend("u2", k=5, exclude_seen=False, filter_items=top[:2] + ["zzz"])
    assert not set(top[:2]) & set(filtered["item"])
    assert filtered["item"].tolist()[:3] == top[2:5]
    few = rec.recommend("u2", k=5, items=["m1", "m2"], exclude_seen=False)
    assert len(few) == 2 and few["rank"].tolist() == [1, 2]


def test_beats_popularity(ml):
    rec, test = ml["rec"], ml["test"]
    known = test[test["item_id"].isin(rec.item_mapper_.keys)]
    rows = rec.user_mapper_.transform(known["user_id"])
    cols = rec.item_mapper_.transform(known["item_id"])
    test_matrix = sp.csr_matrix((np.ones(len(known), np.float32), (rows, cols)),
                                shape=rec.interactions_.shape)
    hybrid = precision_at_k(rec.model_, test_matrix, rec.interactions_, k=10,
                            user_features=rec.user_features_.matrix,
                            item_features=rec.item_features_.matrix).mean()
    popular = precision_at_k(PopularityModel().fit(rec.interactions_), test_matrix,
                             rec.interactions_, k=10).mean()
    assert hybrid > popular


def test_unknown_keys(ml):
    rec = ml["rec"]
    with pytest.raises(KeyError, match=r"unknown user.*'nobody'.*user_features"):
        rec.recommend(["u1", "nobody"])
    with pytest.raises(KeyError, match=r"items: 1 unknown key\(s\) \['m99999'\]"):
        rec.recommend("u1", items=["m1", "m99999"])
    with pytest.raises(KeyError, match="items: .*'x'"):
        rec.similar_items(["x"])
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        rec.recommend("u1", k=0)
    with pytest.raises(ValueError, match="exclude_seen must be True or False"):
        rec.recommend("u1", exclude_seen="yes")


def test_cold_user_from_features(ml):
    rec, users = ml["rec"], ml["users"]
    newcomer = users.iloc[[0]].assign(user_id="new-user")
    out = rec.recommend(["new-user", "u1"], k=5, user_features=newcomer)
    assert out["user"].tolist() == ["new-user"] * 5 + ["u1"] * 5
    # Reference: side features of u1 only (no identity), L1-normalised, through the model.
    row = rec.user_features_.matrix[rec.user_mapper_.transform(["u1"])[0]].toarray()[0]
    side = row.copy()
    side[:rec.user_features_.n_identity] = 0.0
    side /= side.sum()
    user_vector = side @ rec.model_.user_embeddings
    user_bias = side @ rec.model_.user_biases
    biases, vectors = rec.model_.get_item_representations(rec.item_features_.matrix)
    scores = vectors @ user_vector + biases + user_bias
    np.testing.assert_allclose(out["score"][:5], np.sort(scores)[::-1][:5], rtol=1e-4,
                               atol=1e-5)


# ------------------------------------------------------------ similarity / explain
def test_similar_items_is_cosine(ml):
    rec = ml["rec"]
    _, vectors = rec.model_.get_item_representations(rec.item_features_.matrix)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    out = rec.similar_items(["m50", "m181"], k=4)
    assert list(out.columns) == ["item", "similar_item", "similarity", "rank"]
    for item in ["m50", "m181"]:
        row = rec.item_mapper_.transform([item])[0]
        cosine = unit @ unit[row]
        cosine[row] = -np.inf
        got = out[out["item"] == item]
        assert item not in set(got["similar_item"])
        np.testing.assert_allclose(got["similarity"], np.sort(cosine)[::-1][:4], rtol=1e-5)
    users = rec.similar_users("u1", k=3)
    assert list(users.columns) == ["user", "similar_user", "similarity", "rank"]
    assert len(users) == 3 and "u1" not in set(users["similar_user"])


def test_explain_returns_history_items(ml):
    rec, train = ml["rec"], ml["train"]
    item = rec.recommend("u1", k=1)["item"].iloc[0]
    out = rec.explain("u1", item, n=3)
    history = set(train.loc[train["user_id"] == "u1", "item_id"])
    assert len(out) == 3 and set(out["history_item"]) <= history
    _, vectors = rec.model_.get_item_representations(rec.item_features_.matrix)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = unit[rec.item_mapper_.transform(list(history))] @ unit[
        rec.item_mapper_.transform([item])[0]]
    np.testing.assert_allclose(out["similarity"], np.sort(cosine)[::-1][:3], rtol=1e-5)
    seen_item = out["history_item"].iloc[0]
    assert seen_item not in set(rec.explain("u1", seen_item, n=50)["history_item"])


def test_score_breakdown_sums_to_predict(ml):
    rec = ml["rec"]
    for user, item in [("u1", "m50"), ("u200", "m1"), ("u943", "m1682")]:
        out = rec.score_breakdown(user, item)
        scores = _scores(rec, user)
        score = scores[rec.item_mapper_.transform([item])[0]]
        assert out["contribution"].sum() == pytest.approx(float(score), abs=1e-5)
        assert out.attrs["score"] == pytest.approx(float(score), abs=1e-5)
        assert {"identity", "feature"} == set(out["kind"])
        assert user in set(out["feature"]) and item in set(out["feature"])
        assert "gender:M" in set(out["feature"]) or "gender:F" in set(out["feature"])
        # The user's bias terms are the constant; they are flagged and listed last.
        constant = out[out["part"] == "user_bias"]
        assert not constant["moves_ranking"].any()
        assert out["moves_ranking"].iloc[:len(out) - len(constant)].all()
        assert out.attrs["user_constant"] == pytest.approx(constant["contribution"].sum())
        # What moves the ranking orders items exactly as the scores do.
        other = rec.item_mapper_.keys[0]
        other_score = scores[0]
        other_out = rec.score_breakdown(user, other)
        assert (out.attrs["ranking_score"] - other_out.attrs["ranking_score"]
                == pytest.approx(float(score - other_score), abs=1e-4))
        # The interaction terms of either side sum to half of user . item.
        interaction = out[out["part"] == "interaction"].groupby("side")["contribution"].sum()
        assert interaction["user"] == pytest.approx(interaction["item"], abs=1e-5)


def test_recommend_on_item_page_formula(ml):
    rec, train = ml["rec"], ml["train"]
    out = rec.recommend_on_item_page("u1", "m50", k=5, weight=0.3)
    scores = _scores(rec, "u1").astype(np.float64)
    _, vectors = rec.model_.get_item_representations(rec.item_features_.matrix)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit[rec.item_mapper_.transform(["m50"])[0]]
    keep = np.ones(scores.size, bool)
    keep[rec.item_mapper_.transform(["m50"])] = False
    keep[rec.item_mapper_.transform(train.loc[train["user_id"] == "u1", "item_id"])] = False

    def z(values: np.ndarray) -> np.ndarray:
        return (values - values.mean()) / values.std()

    combined = 0.7 * z(scores[keep]) + 0.3 * z(similarity[keep])
    np.testing.assert_allclose(out["score"], np.sort(combined)[::-1][:5], rtol=1e-4)
    assert "m50" not in set(out["item"])
    personal = rec.recommend_on_item_page("u1", "m50", k=5, weight=0.0)
    assert personal["item"].tolist() == rec.recommend("u1", k=5)["item"].tolist()
    with pytest.raises(ValueError, match=r"weight must be a number in \[0, 1\], got 1.5"):
        rec.recommend_on_item_page("u1", "m50", weight=1.5)


def test_feature_embeddings(ml):
    rec = ml["rec"]
    fm = rec.item_features_
    embeddings = rec.model_.item_embeddings
    unit_features = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    column = fm.n_identity + list(fm.side_names).index("Horror")
    _, vectors = rec.model_.get_item_representations(fm.matrix)
    unit_items = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    items = rec.items_for_feature("Horror", k=5)
    assert list(items.columns) == ["feature", "item", "similarity", "rank"]
    np.testing.assert_allclose(items["similarity"],
                               np.sort(unit_items @ unit_features[column])[::-1][:5],
                               rtol=1e-5)
    similar = rec.similar_features("Horror", k=3)
    side = unit_features[fm.n_identity:]
    cosine = side @ unit_features[column]
    cosine[column - fm.n_identity] = -np.inf
    np.testing.assert_allclose(similar["similarity"], np.sort(cosine)[::-1][:3], rtol=1e-5)
    assert "Horror" not in set(similar["similar_feature"])

    own = set(ml["genres"].side_names[ml["genres"].matrix[
        ml["genres"].mapper.transform(["m1"])[0]].indices])
    suggested = rec.features_for_item("m1", k=5)
    assert not own & set(suggested["feature"])
    everything = rec.features_for_item("m1", k=19, exclude_own=False)
    assert own <= set(everything["feature"])
    with pytest.raises(KeyError, match="unknown item feature"):
        rec.items_for_feature("NoSuchGenre")
    with pytest.raises(ValueError, match="side must be 'user' or 'item'"):
        rec.similar_features("Horror", side="both")
    assert len(rec.similar_features("gender:M", side="user", k=2)) == 2


# ----------------------------------------------------------------- persistence
def test_save_load_roundtrip(ml, tmp_path):
    rec = ml["rec"]
    path = rec.save(tmp_path / "model.hrec")
    assert path == tmp_path / "model.hrec"
    loaded = Recommender.load(path)
    assert loaded.get_params() == rec.get_params()
    pd.testing.assert_frame_equal(loaded.recommend(k=10), rec.recommend(k=10))
    pd.testing.assert_frame_equal(loaded.similar_items(["m1", "m2"]),
                                  rec.similar_items(["m1", "m2"]))
    newcomer = ml["users"].iloc[[3]].assign(user_id="fresh")
    pd.testing.assert_frame_equal(loaded.recommend("fresh", user_features=newcomer),
                                  rec.recommend("fresh", user_features=newcomer))
    pd.testing.assert_frame_equal(loaded.history_, rec.history_)
    assert loaded.user_mapper_ == rec.user_mapper_
    assert (loaded.interactions_ != rec.interactions_).nnz == 0


def test_corrupted_file_refused(ml, tmp_path):
    path = ml["rec"].save(tmp_path / "model.npz")
    data = bytearray(path.read_bytes())
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ModelFileError):
        Recommender.load(truncated)
    flipped = tmp_path / "flipped.npz"
    middle = len(data) // 3
    data[middle:middle + 8] = bytes(255 - b for b in data[middle:middle + 8])
    flipped.write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        Recommender.load(flipped)
    bare = save_model(ml["rec"].model_, tmp_path / "bare.npz")
    with pytest.raises(ModelFileError, match="bare model, not a Recommender"):
        Recommender.load(bare)
    with pytest.raises(ModelFileError, match="does not exist"):
        Recommender.load(tmp_path / "missing.npz")
