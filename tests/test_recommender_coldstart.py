"""Recommender on the package's synthetic data: cold start, fold-in, updates, validation."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from hybridrec import PopularityModel
from hybridrec.data import features_from_frame, synthetic
from hybridrec.recommender import Recommender

PARAMS = {"no_components": 16, "epochs": 10, "random_state": 0}


def _precision(recommended: pd.DataFrame, truth: pd.DataFrame, k: int) -> float:
    """Mean precision@k over the users of ``recommended`` (users with no hit count 0)."""
    hits = recommended.merge(truth.rename(columns={"user_id": "user", "item_id": "item"}),
                             on=["user", "item"])
    per_user = hits.groupby("user").size().reindex(recommended["user"].unique(), fill_value=0)
    return float((per_user / k).mean())


@pytest.fixture(scope="module")
def data():
    return synthetic(n_users=2000, n_items=300, n_interactions=50_000, random_state=3)


@pytest.fixture(scope="module")
def small():
    return synthetic(n_users=300, n_items=120, n_interactions=5_000, random_state=5)


def test_cold_users_beat_popularity(data):
    rng = np.random.default_rng(0)
    cold = rng.choice(data.users["user_id"].to_numpy(), 200, replace=False)
    is_cold = data.interactions["user_id"].isin(cold)
    train, truth = data.interactions[~is_cold], data.interactions[is_cold]
    warm_users = data.users[~data.users["user_id"].isin(cold)]
    rec = Recommender(**PARAMS).fit(train, user_features=warm_users,
                                    item_features=data.items)
    cold_frame = data.users[data.users["user_id"].isin(cold)]
    hybrid = rec.recommend(cold_frame["user_id"], k=10, user_features=cold_frame)
    assert hybrid["user"].nunique() == 200
    popularity = PopularityModel().fit(rec.interactions_)
    top = rec.item_mapper_.keys.to_numpy()[np.argsort(-popularity.item_biases_,
                                                      kind="stable")[:10]]
    baseline = pd.DataFrame({"user": np.repeat(cold_frame["user_id"].to_numpy(), 10),
                             "item": np.tile(top, len(cold_frame))})
    hybrid_precision = _precision(hybrid, truth[["user_id", "item_id"]], 10)
    popular_precision = _precision(baseline, truth[["user_id", "item_id"]], 10)
    # Measured: about 0.36 vs 0.15.
    assert hybrid_precision > 1.5 * popular_precision


def test_fold_in_close_to_full_training(data):
    rng = np.random.default_rng(0)
    is_test = rng.random(len(data.interactions)) < 0.25
    train, test = data.interactions[~is_test], data.interactions[is_test]
    counts = train["user_id"].value_counts()
    held = rng.choice(counts[counts >= 5].index.to_numpy(), 300, replace=False)
    truth = test.loc[test["user_id"].isin(held), ["user_id", "item_id"]]
    is_held = train["user_id"].isin(held)

    full = Recommender(**PARAMS).fit(train)
    base = Recommender(**PARAMS).fit(train[~is_held])
    before = copy.deepcopy(base.model_)
    base.fold_in(train[is_held])
    # Nothing but the new users' identity embeddings moved.
    n_old = len(before.user_biases)
    np.testing.assert_array_equal(base.model_.item_embeddings, before.item_embeddings)
    np.testing.assert_array_equal(base.model_.item_biases, before.item_biases)
    np.testing.assert_array_equal(base.model_.user_embeddings[:n_old], before.user_embeddings)
    assert len(base.user_mapper_) == n_old + 300
    assert base.interactions_.nnz == train.shape[0]

    folded = _precision(base.recommend(held, k=10), truth, 10)
    trained = _precision(full.recommend(held, k=10), truth, 10)
    # Measured ratios over seeds: 0.97 - 1.02.
    assert folded >= 0.9 * trained, (folded, trained)
    # Rows between known users and items are stored but move nothing.
    before = copy.deepcopy(base.model_)
    extra = test[test["user_id"].isin(held)].head(3)
    base.fold_in(extra)
    for name in ("user_embeddings", "user_biases", "item_embeddings", "item_biases"):
        np.testing.assert_array_equal(getattr(base.model_, name), getattr(before, name))
    assert base.interactions_.nnz == train.shape[0] + len(extra)


def test_fold_in_errors(small):
    rec = Recommender(**PARAMS).fit(small.interactions)
    with pytest.raises(ValueError, match=r"new_interactions has no column\(s\) \['item_id'\]"):
        rec.fold_in(pd.DataFrame({"user_id": ["new"]}))
    off = Recommender(**PARAMS, user_identity=False).fit(small.interactions,
                                                         user_features=small.users)
    with pytest.raises(ValueError, match=r"user_identity=False: 1 new user\(s\).*'new'.*"
                                         "user_features"):
        off.fold_in(pd.DataFrame({"user_id": ["new"], "item_id": ["i000"]}))
    # With its features the new user is added (nothing of its own to train).
    newcomer = small.users.iloc[[0]].assign(user_id="new")
    off.fold_in(pd.DataFrame({"user_id": ["new"], "item_id": ["i000"]}),
                user_features=newcomer)
    assert "new" in off.user_mapper_ and len(off.recommend("new", k=3)) == 3


def test_fold_in_items(small):
    items = small.interactions["item_id"].unique()
    new_item = items[0]
    train = small.interactions[small.interactions["item_id"] != new_item]
    rec = Recommender(**PARAMS).fit(train, item_features=small.items)
    assert new_item in rec.item_mapper_  # known from the feature frame: cold
    row = rec.item_mapper_.transform([new_item])[0]
    assert rec.item_features_.matrix[row, row] == 0  # no identity entry while cold
    users_before = rec.model_.user_embeddings.copy()
    rec.fold_in_items(small.interactions[small.interactions["item_id"] == new_item])
    np.testing.assert_array_equal(rec.model_.user_embeddings, users_before)
    assert rec.item_features_.matrix[row, row] > 0
    assert rec.similar_items(new_item, k=3)["similar_item"].nunique() == 3


def test_add_items_and_users_cold(small):
    is_new = small.items["item_id"].isin(["i000", "i001"])
    rec = Recommender(**PARAMS).fit(
        small.interactions[~small.interactions["item_id"].isin(["i000", "i001"])],
        item_features=small.items[~is_new], user_features=small.users.iloc[:-1])
    assert "i000" not in rec.item_mapper_
    embeddings_before = rec.model_.item_embeddings.copy()
    n_identity = rec.item_features_.n_identity
    rec.add_items(small.items[is_new])
    assert len(rec.item_mapper_) == n_identity + 2
    # Identity columns were inserted before the side features; side embeddings kept.
    np.testing.assert_array_equal(rec.model_.item_embeddings[n_identity + 2:],
                                  embeddings_before[n_identity:])
    out = rec.recommend(["u000"], k=2, items=["i000", "i001"])
    assert set(out["item"]) == {"i000", "i001"}
    # A cold item is scored from its side features alone.
    row = rec.item_mapper_.transform(["i000"])[0]
    features = rec.item_features_.matrix[row]
    assert features.indices.min() >= rec.item_features_.n_identity
    with pytest.raises(ValueError, match=r"already known: \['i000'\]"):
        rec.add_items(small.items[small.items["item_id"] == "i000"])
    last = small.users.iloc[[-1]].assign(user_id="newcomer")
    rec.add_users(last)
    assert len(rec.recommend(last["user_id"], k=5)) == 5
    pure = Recommender(**PARAMS).fit(small.interactions)
    with pytest.raises(ValueError, match="no item side features"):
        pure.add_items(small.items)


def test_fit_partial(small):
    early = small.interactions["timestamp"] < small.interactions["timestamp"].median()
    rec = Recommender(**PARAMS).fit(small.interactions[early])
    known = small.interactions[~early]
    known = known[known["user_id"].isin(rec.user_mapper_.keys)
                  & known["item_id"].isin(rec.item_mapper_.keys)]
    before = rec.model_.user_embeddings.copy()
    nnz = rec.interactions_.nnz
    rec.fit_partial(known, epochs=2)
    assert not np.array_equal(before, rec.model_.user_embeddings)
    assert rec.interactions_.nnz > nnz
    # A batch with a new user and a new item (and a row between them) is taken as is.
    mixed = pd.DataFrame({"user_id": ["stranger", "stranger", "u000"],
                          "item_id": ["i000", "brand-new", "brand-new"]})
    rec.fit_partial(mixed, epochs=1)
    assert "stranger" in rec.user_mapper_ and "brand-new" in rec.item_mapper_
    assert rec.interactions_.shape == (len(rec.user_mapper_), len(rec.item_mapper_))
    seen = rec.recommend("stranger", k=200)["item"]
    assert not {"i000", "brand-new"} & set(seen)


def test_validation_history_and_best_epoch(small):
    rng = np.random.default_rng(1)
    is_valid = rng.random(len(small.interactions)) < 0.2
    rec = Recommender(no_components=8, epochs=8, random_state=0, learning_rate=0.3)
    rec.fit(small.interactions[~is_valid], validation=small.interactions[is_valid],
            eval_k=5, patience=2)
    history = rec.history_
    assert list(history.columns) == ["epoch", "train_time", "precision_at_k", "auc"]
    assert 1 <= len(history) <= 8 and (history["train_time"] > 0).all()
    best = int(history["precision_at_k"].idxmax())
    assert rec.best_epoch_ == history["epoch"][best]
    if len(history) < 8:  # stopped early: patience epochs after the best
        assert len(history) - 1 - best == 2
    plain = Recommender(no_components=8, epochs=3, random_state=0)
    plain.fit(small.interactions)
    assert list(plain.history_.columns) == ["epoch", "train_time"]
    assert plain.best_epoch_ == 3


def test_reproducible_and_weights(small):
    one = Recommender(**PARAMS).fit(small.interactions, weight_col="rating")
    two = Recommender(**PARAMS).fit(small.interactions, weight_col="rating")
    pd.testing.assert_frame_equal(one.recommend(k=5), two.recommend(k=5))
    assert one.interactions_.max() == small.interactions["rating"].max()
    unweighted = Recommender(**PARAMS).fit(small.interactions)
    assert not np.array_equal(one.model_.item_embeddings, unweighted.model_.item_embeddings)


def test_int_keys_and_prebuilt_feature_matrix():
    data = synthetic(n_users=200, n_items=80, n_interactions=3000, random_state=2,
                     string_keys=False)
    spec = {"categorical": ["genre"], "numeric": ["price"], "multi_valued": ["tags"]}
    matrix = features_from_frame(data.items.iloc[::-1], "item_id", **spec, identity=False,
                                 normalize=False)
    from_matrix = Recommender(**PARAMS).fit(data.interactions, item_features=matrix)
    from_frame = Recommender(**PARAMS).fit(data.interactions, item_features=data.items,
                                           item_feature_spec=spec)
    out = from_matrix.recommend([0, 1], k=3)
    assert out["user"].tolist() == [0, 0, 0, 1, 1, 1]
    assert out["item"].dtype.kind == "i"
    # Same features, aligned by key whatever the frame's order: same model.
    pd.testing.assert_frame_equal(out, from_frame.recommend([0, 1], k=3))


def test_feature_encoding_reuses_training_bins(small):
    rec = Recommender(**PARAMS).fit(small.interactions, user_features=small.users,
                                    item_features=small.items)
    encoder = rec.item_encoder_
    raw = encoder.transform(small.items)
    rows = rec.item_mapper_.transform(small.items["item_id"])
    side = rec.item_features_
    stored = side.matrix[rows][:, side.n_identity:]
    # The stored rows are the encoded frame's, normalised with the identity entry.
    normalised = raw.multiply(1.0 / (1.0 + raw.sum(axis=1))).tocsr()
    assert (abs(stored - normalised) > 1e-6).nnz == 0
    unseen = small.items.head(2).assign(item_id=["x1", "x2"], genre="brand-new-genre",
                                        price=[-1e9, 1e9])
    encoded = encoder.transform(unseen)
    names = encoder.names_[encoded.indices]
    assert "price:bin0" in names and "genre:brand-new-genre" not in names


def test_parameter_and_input_errors(small):
    frame = small.interactions
    with pytest.raises(ValueError, match="loss must be one of"):
        Recommender(loss="squared_hinge").fit(frame)
    with pytest.raises(ValueError, match="epochs must be an integer >= 0, got -1"):
        Recommender(epochs=-1).fit(frame)
    with pytest.raises(ValueError, match="normalize_features must be True or False"):
        Recommender(normalize_features="yes").fit(frame)
    with pytest.raises(ValueError, match="num_threads=0: Number of threads must be 1"):
        Recommender(num_threads=0).fit(frame)
    with pytest.raises(TypeError, match="interactions must be a pandas.DataFrame"):
        Recommender().fit(frame.to_numpy())
    with pytest.raises(ValueError, match=r"interactions has no column\(s\) \['user'\]"):
        Recommender().fit(frame, user_col="user")
    with pytest.raises(ValueError, match="user_identity=False needs user_features"):
        Recommender(user_identity=False).fit(frame)
    with pytest.raises(ValueError, match="item_feature_spec has unknown key"):
        Recommender().fit(frame, item_features=small.items, item_feature_spec={"cat": []})
    with pytest.raises(ValueError, match="eval_k must be a positive integer"):
        Recommender().fit(frame, eval_k=0)
    with pytest.raises(ValueError, match="duplicated key"):
        Recommender().fit(frame, item_features=pd.concat([small.items, small.items]))
    with pytest.raises(ValueError, match="Invalid parameter colour"):
        Recommender().set_params(colour=1)
    with pytest.raises(ValueError, match="not fitted"):
        Recommender().recommend()
    assert repr(Recommender(epochs=3)) == "Recommender(epochs=3)"


def test_set_params_applies_to_the_next_update(small):
    rec = Recommender(**PARAMS).fit(small.interactions)
    rec.set_params(learning_rate=0.01, item_alpha=1e-4)
    rec.fit_partial(small.interactions.head(50), epochs=1)
    assert rec.model_.learning_rate == 0.01 and rec.model_.item_alpha == 1e-4
    before = rec.recommend(k=3)
    rec.set_params(no_components=PARAMS["no_components"] + 1)
    with pytest.raises(ValueError, match="embedding size changes only with a new fit"):
        rec.fit_partial(small.interactions.head(50), epochs=1)
    pd.testing.assert_frame_equal(rec.recommend(k=3), before)
