"""The bad-input matrix: every public entry point, every kind of bad input.

Each row calls one entry point with one bad input and expects the documented exception
with a message naming the argument (``pytest.raises(match=...)``), then checks that the
fitted model (and Recommender, and Dataset) hold exactly the state they held before:
SHA-256 of the twelve state arrays, the parameters and the generator state.
"""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from hybridrec.data import (
    Dataset,
    IdMapper,
    features_from_frame,
    features_from_long_frame,
    interactions_from_frame,
    per_user_train_test_split,
    random_train_test_split,
)
from hybridrec.metrics import auc_score, evaluate, ndcg_at_k, precision_at_k, rmse

from .conftest import dataset_checksum, model_checksum, recommender_checksum

N_USERS, N_ITEMS = 20, 30


def _coo(values, rows, cols, shape=(N_USERS, N_ITEMS)):
    return sp.coo_matrix((np.asarray(values), (rows, cols)), shape=shape)


def _with_value(train, value):
    data = train.data.astype(np.float64)
    data[0] = value
    return sp.coo_matrix((data, (train.row, train.col)), shape=train.shape)


def _weights(train, value):
    data = np.ones(train.nnz)
    data[1] = value
    return sp.coo_matrix((data, (train.row, train.col)), shape=train.shape)


def _identity(n, m=None, value=None):
    matrix = sp.identity(n, format="csr", dtype=np.float64)
    if m is not None:
        matrix = sp.csr_matrix(sp.hstack([matrix, sp.csr_matrix((n, m - n))]))
    if value is not None:
        matrix.data[0] = value
    return matrix


def _dataset():
    return Dataset().fit(["u1", "u2"], ["i1", "i2"], item_features=["f1"])


# (entry point, case, call(ctx), exception, message pattern)
M, F, R, P, PR = ("LightFM.fit", "LightFM.fit_partial", "LightFM.predict",
                  "LightFM.predict_rank", "LightFM.get_*_representations")
CASES = [
    # ---- LightFM.fit / fit_partial: wrong types, dtypes, values, shapes
    (M, "dense array", lambda c: c.model.fit(c.train.toarray()), ValueError,
     "interactions must be a scipy.sparse matrix"),
    (M, "list", lambda c: c.model.fit([[1, 0], [0, 1]]), ValueError,
     "interactions must be a scipy.sparse"),
    (M, "None", lambda c: c.model.fit(None), ValueError, "interactions must be a scipy"),
    (M, "complex dtype", lambda c: c.model.fit(c.train.astype(np.complex64)), TypeError,
     "interactions must hold real numbers"),
    (M, "NaN value", lambda c: c.model.fit(_with_value(c.train, np.nan)), ValueError,
     "interactions contains NaN or infinite"),
    (M, "inf value", lambda c: c.model.fit(_with_value(c.train, np.inf)), ValueError,
     "interactions contains NaN or infinite"),
    (M, "float64 overflowing float32", lambda c: c.model.fit(_with_value(c.train, 1e300)),
     ValueError, "interactions contains NaN or infinite"),
    (M, "empty 0x0 matrix", lambda c: c.model.fit(sp.coo_matrix((0, 0))), ValueError,
     r"interactions has shape \(0, 0\)"),
    (M, "no items", lambda c: c.model.fit(sp.coo_matrix((5, 0))), ValueError,
     r"interactions has shape \(5, 0\)"),
    (M, "NaN sample_weight", lambda c: c.model.fit(c.train, sample_weight=_weights(
        c.train, np.nan)), ValueError, "sample_weight contains NaN"),
    (M, "negative sample_weight", lambda c: c.model.fit(c.train, sample_weight=_weights(
        c.train, -1.0)), ValueError, "sample_weight must be non-negative"),
    (M, "complex sample_weight", lambda c: c.model.fit(c.train, sample_weight=_weights(
        c.train, 1.0).astype(np.complex64)), TypeError, "sample_weight must hold real"),
    (M, "sample_weight csr", lambda c: c.model.fit(c.train, sample_weight=c.train.tocsr()),
     ValueError, "Sample_weight must be a COO matrix"),
    (M, "sample_weight dense", lambda c: c.model.fit(c.train, sample_weight=np.ones(3)),
     ValueError, "Sample_weight must be a COO matrix"),
    (M, "sample_weight shape", lambda c: c.model.fit(c.train, sample_weight=sp.coo_matrix(
        (3, 3))), ValueError, "Sample weight and interactions matrices must be the same"),
    (M, "sample_weight order", lambda c: c.model.fit(c.train, sample_weight=sp.coo_matrix(
        np.ones((N_USERS, N_ITEMS)))), ValueError, "Sample weight and interaction matrix "
     "entries must be in the same order"),
    (M, "user_features too few rows", lambda c: c.model.fit(c.train, user_features=_identity(
        N_USERS)[:5]), ValueError, "user_features has 5 rows but interactions needs 20"),
    (M, "item_features NaN", lambda c: c.model.fit(c.train, item_features=_identity(
        N_ITEMS, value=np.nan)), ValueError, "item_features contains NaN"),
    (M, "item_features dense", lambda c: c.model.fit(c.train, item_features=np.eye(N_ITEMS)),
     ValueError, "item_features must be a scipy.sparse matrix"),
    (M, "item_features complex", lambda c: c.model.fit(c.train, item_features=_identity(
        N_ITEMS).astype(np.complex64)), TypeError, "item_features must hold real numbers"),
    (M, "epochs -1", lambda c: c.model.fit(c.train, epochs=-1), ValueError, "epochs must be"),
    (M, "epochs 1.5", lambda c: c.model.fit(c.train, epochs=1.5), ValueError,
     "epochs must be"),
    (M, "epochs True", lambda c: c.model.fit(c.train, epochs=True), ValueError,
     "epochs must be"),
    (M, "num_threads 0", lambda c: c.model.fit(c.train, num_threads=0), ValueError,
     "Number of threads must be 1 or larger"),
    (M, "num_threads -2", lambda c: c.model.fit(c.train, num_threads=-2), ValueError,
     "Number of threads must be 1 or larger"),
    (M, "num_threads 1.5", lambda c: c.model.fit(c.train, num_threads=1.5), ValueError,
     "num_threads must be an integer"),
    (M, "bad hyper-parameter (set_params)", lambda c: c.fresh_model().set_params(
        learning_rate=-1.0).fit(c.train), ValueError, "learning_rate must be > 0"),
    (M, "unknown loss (set_params)", lambda c: c.fresh_model().set_params(
        loss="squared_hinge").fit(c.train), ValueError, "loss must be one of"),
    (F, "more users than the model", lambda c: c.model.fit_partial(sp.random(
        N_USERS + 5, N_ITEMS, density=0.1, format="coo")), ValueError,
     "user feature matrix specifies more features than there are estimated feature "
     "embeddings: 25 vs 20"),
    (F, "more feature columns than at fit", lambda c: c.model.fit_partial(
        c.train, item_features=_identity(N_ITEMS, N_ITEMS + 3)), ValueError,
     "item feature matrix specifies more features .*item_features has 33 columns"),
    (F, "NaN value", lambda c: c.model.fit_partial(_with_value(c.train, np.nan)),
     ValueError, "interactions contains NaN"),
    (F, "bool sample_weight order", lambda c: c.model.fit_partial(
        c.train, sample_weight=sp.coo_matrix(np.ones((N_USERS, N_ITEMS), bool))),
     ValueError, "must be in the same order"),
    (F, "num_threads 0", lambda c: c.model.fit_partial(c.train, num_threads=0), ValueError,
     "Number of threads"),
    (F, "epochs '3'", lambda c: c.model.fit_partial(c.train, epochs="3"), ValueError,
     "epochs must be"),
    # ---- predict
    (R, "negative item id", lambda c: c.model.predict(0, np.array([-1, 2])), ValueError,
     "item_ids: User or item ids cannot be negative"),
    (R, "negative user id", lambda c: c.model.predict(-3, np.array([1, 2])), ValueError,
     "user_ids: User or item ids cannot be negative"),
    (R, "item id out of range", lambda c: c.model.predict(0, np.array([N_ITEMS])),
     ValueError, f"item_ids contains id {N_ITEMS}, but the model has {N_ITEMS} item"),
    (R, "user id out of range", lambda c: c.model.predict(N_USERS, np.array([0])),
     ValueError, f"user_ids contains id {N_USERS}, but the model has {N_USERS} user"),
    (R, "id overflowing int32", lambda c: c.model.predict(0, np.array([2**40])), ValueError,
     "item_ids: .*very large numbers that can overflow"),
    (R, "uint64 id 2**63", lambda c: c.model.predict(0, np.array([2**63], np.uint64)),
     ValueError, "item_ids: .*overflow"),
    (R, "non-integer float ids", lambda c: c.model.predict(0, np.array([1.5])), ValueError,
     "item_ids must hold integer ids; got non-integer floats"),
    (R, "NaN ids", lambda c: c.model.predict(0, np.array([np.nan])), ValueError,
     "item_ids must hold integer ids"),
    (R, "bool ids", lambda c: c.model.predict(0, np.array([True, False])), ValueError,
     "item_ids must hold integer ids; got dtype bool"),
    (R, "object ids", lambda c: c.model.predict(0, np.array([1, 2], dtype=object)),
     ValueError, "item_ids must hold integer ids; got dtype object"),
    (R, "string ids", lambda c: c.model.predict(0, ["a", "b"]), ValueError,
     "item_ids must hold integer ids"),
    (R, "bool user", lambda c: c.model.predict(True, np.array([1])), ValueError,
     "user_ids must be integer ids, got a boolean"),
    (R, "float user", lambda c: c.model.predict(1.0, np.array([1])), ValueError,
     r"user_ids must hold integer ids \(one integer id or a 1-dimensional sequence"),
    (R, "None items", lambda c: c.model.predict(0, None), ValueError,
     r"item_ids must hold integer ids \(one integer id or a 1-dimensional sequence"),
    (R, "2-d ids", lambda c: c.model.predict(np.zeros((2, 2), int), np.zeros((2, 2), int)),
     ValueError, "must be a 1-dimensional sequence of integer ids"),
    (R, "mismatched lengths", lambda c: c.model.predict(np.arange(3), np.arange(4)),
     ValueError, r"Expected the number of user IDs \(3\) to equal the number of item IDs "
     r"\(4\)"),
    (R, "item_features more columns", lambda c: c.model.predict(0, np.arange(3),
     item_features=_identity(N_ITEMS, N_ITEMS + 1)), ValueError,
     "item_features has 31 columns"),
    (R, "item_features too few rows", lambda c: c.model.predict(0, np.array([10]),
     item_features=_identity(N_ITEMS)[:5]), ValueError, "item_features has 5 rows"),
    (R, "item_features NaN", lambda c: c.model.predict(0, np.arange(3),
     item_features=_identity(N_ITEMS, value=np.inf)), ValueError,
     "item_features contains NaN or infinite"),
    (R, "user_features dense", lambda c: c.model.predict(0, np.arange(3),
     user_features=np.eye(N_USERS)), ValueError, "user_features must be a scipy.sparse"),
    (R, "num_threads 0", lambda c: c.model.predict(0, np.arange(3), num_threads=0),
     ValueError, "Number of threads must be 1 or larger"),
    (R, "not fitted", lambda c: c.fresh_model().predict(0, np.arange(3)), ValueError,
     "You must fit the model before"),
    # ---- predict_rank
    (P, "dense test", lambda c: c.model.predict_rank(c.train.toarray()), ValueError,
     "test_interactions must be a scipy.sparse matrix"),
    (P, "NaN test value", lambda c: c.model.predict_rank(_with_value(c.train, np.nan)),
     ValueError, "test_interactions contains NaN"),
    (P, "complex test", lambda c: c.model.predict_rank(c.train.astype(np.complex128)),
     TypeError, "test_interactions must hold real numbers"),
    (P, "more users than the model", lambda c: c.model.predict_rank(sp.random(
        N_USERS + 1, N_ITEMS, density=0.1, format="csr")), ValueError,
     r"Incorrect number of users: .* 21 rows, but the model has 20 user embeddings"),
    (P, "more items than the model", lambda c: c.model.predict_rank(sp.random(
        N_USERS, N_ITEMS + 4, density=0.1, format="csr")), ValueError,
     r"Incorrect number of items: .* 34 columns, but the model has 30 item embeddings"),
    (P, "fewer items than the model", lambda c: c.model.predict_rank(c.train.tocsr()[:, :5]),
     ValueError, r"shape \(20, 5\), i.e. 5 columns, but the model has 30 item embeddings"),
    (P, "fewer users, no entries (LightFM's case)", lambda c: c.model.predict_rank(
        sp.csr_matrix((5, N_ITEMS))), ValueError,
     "Incorrect number of users: .* 5 rows, but the model has 20 user embeddings"),
    (P, "train shape mismatch", lambda c: c.model.predict_rank(c.train, sp.coo_matrix(
        (N_USERS, N_ITEMS - 1))), ValueError, "train_interactions has shape"),
    (P, "train and test intersect", lambda c: c.model.predict_rank(c.train, c.train),
     ValueError, "Test interactions matrix and train interactions matrix share"),
    (P, "train NaN", lambda c: c.model.predict_rank(c.train, _with_value(c.train, np.nan),
                                                    check_intersections=False),
     ValueError, "train_interactions contains NaN"),
    (P, "num_threads 0", lambda c: c.model.predict_rank(c.train, num_threads=0), ValueError,
     "Number of threads"),
    # ---- representations
    (PR, "dense features", lambda c: c.model.get_user_representations(np.eye(N_USERS)),
     ValueError, "user_features must be a scipy.sparse"),
    (PR, "more columns than at fit", lambda c: c.model.get_item_representations(
        _identity(N_ITEMS, N_ITEMS + 2)), ValueError,
     "item feature matrix specifies more features .* 32 vs 30"),
    (PR, "NaN features", lambda c: c.model.get_item_representations(_identity(
        N_ITEMS, value=np.nan)), ValueError, "item_features contains NaN"),
    (PR, "not fitted", lambda c: c.fresh_model().get_item_representations(), ValueError,
     "You must fit the model"),
    # ---- metrics
    ("metrics", "k=0", lambda c: precision_at_k(c.model, c.train, k=0), ValueError,
     "k must be a positive integer, got 0"),
    ("metrics", "k=-1", lambda c: ndcg_at_k(c.model, c.train, k=-1), ValueError,
     "k must be a positive integer, got -1"),
    ("metrics", "k=1.5", lambda c: precision_at_k(c.model, c.train, k=1.5), ValueError,
     "k must be a positive integer"),
    ("metrics", "k=True", lambda c: precision_at_k(c.model, c.train, k=True), ValueError,
     "k must be a positive integer"),
    ("metrics", "dense test", lambda c: auc_score(c.model, c.train.toarray()), ValueError,
     "test_interactions must be a scipy.sparse"),
    ("metrics", "NaN test", lambda c: auc_score(c.model, _with_value(c.train, np.nan)),
     ValueError, "test_interactions contains NaN"),
    ("metrics", "more items than the model", lambda c: precision_at_k(c.model, sp.random(
        N_USERS, N_ITEMS + 1, density=0.1, format="csr")), ValueError,
     "Incorrect number of items: .* 31 columns, but the model has 30 item embeddings"),
    ("metrics", "fewer users than the model", lambda c: precision_at_k(
        c.model, c.train.tocsr()[:7]), ValueError,
     "Incorrect number of users: .* 7 rows, but the model has 20 user embeddings"),
    ("metrics", "train shape", lambda c: precision_at_k(c.model, c.train, sp.coo_matrix(
        (2, 2))), ValueError, "train_interactions has shape"),
    ("metrics", "train/test overlap", lambda c: precision_at_k(c.model, c.train, c.train),
     ValueError, "share"),
    ("metrics", "num_threads 0", lambda c: precision_at_k(c.model, c.train, num_threads=0),
     ValueError, "Number of threads"),
    ("metrics", "user_features more columns", lambda c: precision_at_k(
        c.model, c.train, user_features=_identity(N_USERS, N_USERS + 2)), ValueError,
     "user feature matrix specifies more features"),
    ("metrics", "evaluate unknown metric", lambda c: evaluate(c.model, c.train,
                                                             metrics=("precision", "nope")),
     ValueError, r"unknown metrics \['nope'\]"),
    ("metrics", "evaluate k=()", lambda c: evaluate(c.model, c.train, k=()), ValueError,
     "k must name at least one cut-off"),
    ("metrics", "evaluate k=0", lambda c: evaluate(c.model, c.train, k=(5, 0)), ValueError,
     "k must be a positive integer, got 0"),
    ("metrics", "rmse NaN ratings", lambda c: rmse(c.model, _with_value(c.train, np.nan)),
     ValueError, "test_interactions contains NaN"),
    ("metrics", "rmse empty", lambda c: rmse(c.model, sp.coo_matrix((N_USERS, N_ITEMS))),
     ValueError, "test_interactions has no stored entries"),
    # ---- Dataset
    ("Dataset", "NaN user id", lambda c: c.dataset.fit_partial(["u3", np.nan]), ValueError,
     "users contains 1 missing key"),
    ("Dataset", "None item id (after valid users)", lambda c: c.dataset.fit_partial(
        ["u3"], ["i3", None]), ValueError, "items contains 1 missing key"),
    ("Dataset", "fit with a None id", lambda c: c.dataset.fit(["u9"], [None]), ValueError,
     "items contains 1 missing key"),
    ("Dataset", "non-iterable users", lambda c: c.dataset.fit_partial(users=5), TypeError,
     "users must be a sequence of keys"),
    ("Dataset", "single string users", lambda c: c.dataset.fit_partial(users="abc"),
     ValueError, "users must be a sequence of keys, got a single string"),
    ("Dataset", "unhashable id", lambda c: c.dataset.fit_partial(users=[["a"]]), TypeError,
     "users: every key must be hashable"),
    ("Dataset", "unknown user id", lambda c: c.dataset.build_interactions([("u9", "i1")]),
     ValueError, "User id u9 not in user id mapping"),
    ("Dataset", "unknown item id", lambda c: c.dataset.build_interactions([("u1", "i9")]),
     ValueError, "Item id i9 not in item id mapping"),
    ("Dataset", "malformed tuple", lambda c: c.dataset.build_interactions([("u1",)]),
     ValueError, "Expecting tuples of"),
    ("Dataset", "NaN weight", lambda c: c.dataset.build_interactions([("u1", "i1", np.nan)]),
     ValueError, r"data \(the weight .*\) must be finite"),
    ("Dataset", "inf weight", lambda c: c.dataset.build_interactions([("u1", "i1", np.inf)]),
     ValueError, "must be finite"),
    ("Dataset", "string weight", lambda c: c.dataset.build_interactions([("u1", "i1", "x")]),
     ValueError, "must be numbers"),
    ("Dataset", "data not iterable", lambda c: c.dataset.build_interactions(5), TypeError,
     "data must be an iterable of tuples"),
    ("Dataset", "unknown feature", lambda c: c.dataset.build_item_features([("i1", ["zz"])]),
     ValueError, "Feature zz not in feature mapping"),
    ("Dataset", "unknown item in features", lambda c: c.dataset.build_item_features(
        [("i9", ["f1"])]), ValueError, "item id i9 not in item id mappings"),
    ("Dataset", "NaN feature weight", lambda c: c.dataset.build_item_features(
        [("i1", {"f1": np.nan})]), ValueError, r"data \(feature weights\) must be finite"),
    ("Dataset", "malformed feature tuple", lambda c: c.dataset.build_item_features(
        [("i1",)]), ValueError, r"Expected tuples of \(item_id, features\)"),
    ("Dataset", "all-zero row with normalize", lambda c: Dataset(
        item_identity_features=False).fit(["u"], ["i1", "i2"], item_features=["f"])
     .build_item_features([("i1", ["f"])]), ValueError, "some rows have zero norm"),
    # ---- DataFrame builders
    ("interactions_from_frame", "not a DataFrame", lambda c: interactions_from_frame(
        c.frame.to_dict(), "user_id", "item_id"), TypeError, "frame must be a pandas"),
    ("interactions_from_frame", "missing column", lambda c: interactions_from_frame(
        c.frame, "user", "item_id"), ValueError, r"frame has no column\(s\) \['user'\]"),
    ("interactions_from_frame", "NaN key", lambda c: interactions_from_frame(
        c.frame.assign(user_id=[None] + list(c.frame.user_id[1:])), "user_id", "item_id"),
     ValueError, "id column 'user_id' contains 1 missing key"),
    ("interactions_from_frame", "NaN weight", lambda c: interactions_from_frame(
        c.frame.assign(rating=np.r_[np.nan, c.frame.rating[1:]]), "user_id", "item_id",
        "rating"), ValueError, "weight_col 'rating' has 1 NaN or infinite"),
    ("interactions_from_frame", "inf weight", lambda c: interactions_from_frame(
        c.frame.assign(rating=np.r_[np.inf, c.frame.rating[1:]]), "user_id", "item_id",
        "rating"), ValueError, "weight_col 'rating' has 1 NaN or infinite"),
    ("interactions_from_frame", "string weights", lambda c: interactions_from_frame(
        c.frame.assign(rating=c.frame.rating.astype(str)), "user_id", "item_id", "rating"),
     ValueError, "weight_col 'rating' must be numeric"),
    ("interactions_from_frame", "bool weights", lambda c: interactions_from_frame(
        c.frame.assign(rating=True), "user_id", "item_id", "rating"), ValueError,
     "weight_col 'rating' must be numeric, got dtype bool"),
    ("interactions_from_frame", "unknown keys", lambda c: interactions_from_frame(
        c.frame, "user_id", "item_id", user_mapper=IdMapper(["u00"])), ValueError,
     "column 'user_id' has .* id.* not in the given mapper"),
    ("interactions_from_frame", "mapper of the wrong type", lambda c: interactions_from_frame(
        c.frame, "user_id", "item_id", user_mapper={"u00": 0}), TypeError,
     "mapper for column 'user_id' must be an IdMapper"),
    ("interactions_from_frame", "unhashable keys", lambda c: interactions_from_frame(
        c.frame.assign(user_id=[[1]] * len(c.frame)), "user_id", "item_id"), TypeError,
     "id column 'user_id': every key must be hashable"),
    ("interactions_from_frame", "bad duplicates option", lambda c: interactions_from_frame(
        c.frame, "user_id", "item_id", duplicates="avg"), ValueError, "duplicates must be"),
    ("interactions_from_frame", "bad unknown option", lambda c: interactions_from_frame(
        c.frame, "user_id", "item_id", unknown="drop"), ValueError, "unknown must be one of"),
    ("features_from_frame", "not a DataFrame", lambda c: features_from_frame([1], "item_id"),
     TypeError, "frame must be a pandas.DataFrame"),
    ("features_from_frame", "missing id column", lambda c: features_from_frame(
        c.items, "item"), ValueError, r"frame has no column\(s\) \['item'\]"),
    ("features_from_frame", "missing feature column", lambda c: features_from_frame(
        c.items, "item_id", categorical=["zz"]), ValueError, r"frame has no column\(s\) \['zz'\]"),
    ("features_from_frame", "NaN id", lambda c: features_from_frame(
        c.items.assign(item_id=[None] + list(c.items.item_id[1:])), "item_id"), ValueError,
     "id column 'item_id' contains 1 missing key"),
    ("features_from_frame", "duplicate ids", lambda c: features_from_frame(
        c.items.assign(item_id="same"), "item_id"), ValueError,
     "id column 'item_id' has .* duplicated id"),
    ("features_from_frame", "inf numeric", lambda c: features_from_frame(
        c.items.assign(price=np.inf), "item_id", numeric=["price"]), ValueError,
     "numeric column 'price' contains infinite values"),
    ("features_from_frame", "non-numeric numeric", lambda c: features_from_frame(
        c.items, "item_id", numeric=["genre"]), ValueError,
     "numeric column 'genre' must be numeric"),
    ("features_from_frame", "n_bins 0", lambda c: features_from_frame(
        c.items, "item_id", n_bins=0), ValueError, "n_bins must be a positive integer"),
    ("features_from_frame", "unknown ids", lambda c: features_from_frame(
        c.items, "item_id", mapper=IdMapper(["i00"])), ValueError,
     "column 'item_id' has .* not in the given mapper"),
    ("features_from_frame", "long frame, inf weight", lambda c: features_from_long_frame(
        c.items.assign(price=np.inf), "item_id", "genre", weight_col="price"), ValueError,
     "weight_col 'price' contains infinite values"),
    ("features_from_frame", "long frame, no feature columns", lambda c:
     features_from_long_frame(c.items, "item_id", []), ValueError,
     "feature_cols must name at least one column"),
    # ---- splits and IdMapper
    ("splits", "dense input", lambda c: random_train_test_split(np.eye(3)), ValueError,
     "Interactions must be a scipy.sparse matrix"),
    ("splits", "test_percentage 2", lambda c: random_train_test_split(c.train, 2.0),
     ValueError, "test_percentage must be in"),
    ("splits", "test_percentage NaN", lambda c: random_train_test_split(c.train, np.nan),
     ValueError, "test_percentage must be in"),
    ("splits", "test_percentage str", lambda c: random_train_test_split(c.train, "a"),
     ValueError, "test_percentage must be a number"),
    ("splits", "random_state str", lambda c: random_train_test_split(c.train,
                                                                    random_state="a"),
     ValueError, "random_state must be"),
    ("splits", "both fraction and n_test", lambda c: per_user_train_test_split(
        c.train, test_fraction=0.2, n_test=1), ValueError, "exactly one of test_fraction"),
    ("splits", "min_train 0", lambda c: per_user_train_test_split(c.train, min_train=0),
     ValueError, "min_train must be a positive integer"),
    ("IdMapper", "unknown key", lambda c: IdMapper(["a"]).transform(["b"]), KeyError,
     r"keys: 1 key\(s\) not in the mapping"),
    ("IdMapper", "NaN key", lambda c: IdMapper(["a", np.nan]), ValueError,
     "keys contains 1 missing key"),
    ("IdMapper", "float indices", lambda c: IdMapper(["a"]).inverse_transform([0.0]),
     ValueError, "indices must be integers"),
    ("IdMapper", "bad unknown option", lambda c: IdMapper(["a"]).transform(["a"], "skip"),
     ValueError, "unknown must be 'raise' or 'ignore'"),
]

RC = "Recommender"
RECOMMENDER_CASES = [
    (f"{RC}.fit", "not a DataFrame", lambda c: c.rec.fit(c.frame.to_numpy()), TypeError,
     "interactions must be a pandas.DataFrame"),
    (f"{RC}.fit", "missing column", lambda c: c.rec.fit(c.frame, user_col="uid"), ValueError,
     r"interactions has no column\(s\) \['uid'\]"),
    (f"{RC}.fit", "NaN user key", lambda c: c.rec.fit(c.frame.assign(
        user_id=[None] + list(c.frame.user_id[1:]))), ValueError,
     r"interactions\['user_id'\] contains 1 missing key"),
    (f"{RC}.fit", "NaN weight", lambda c: c.rec.fit(c.frame.assign(
        rating=np.r_[np.nan, c.frame.rating[1:]]), weight_col="rating"), ValueError,
     "weight_col 'rating' has 1 NaN"),
    (f"{RC}.fit", "negative weight", lambda c: c.rec.fit(c.frame.assign(rating=-1.0),
                                                         weight_col="rating"),
     ValueError, "weight_col 'rating' must hold non-negative weights"),
    (f"{RC}.fit", "item_features of the wrong type", lambda c: c.rec.fit(
        c.frame, item_features=[1, 2]), TypeError, "item_features must be a pandas.DataFrame"),
    (f"{RC}.fit", "item_features NaN key", lambda c: c.rec.fit(c.frame, item_features=(
        c.items.assign(item_id=[None] + list(c.items.item_id[1:])))), ValueError,
     r"item_features\['item_id'\] contains 1 missing key"),
    (f"{RC}.fit", "feature spec unknown key", lambda c: c.rec.fit(
        c.frame, item_features=c.items, item_feature_spec={"categorical": ["genre"],
                                                           "bogus": 1}), ValueError,
     r"item_feature_spec has unknown key\(s\) \['bogus'\]"),
    (f"{RC}.fit", "num_threads 0 (set_params)", lambda c: c.rec_copy().set_params(
        num_threads=0).fit(c.frame), ValueError, "num_threads=0"),
    (f"{RC}.fit", "epochs -1 (set_params)", lambda c: c.rec_copy().set_params(
        epochs=-1).fit(c.frame), ValueError, "epochs must be an integer >= 0"),
    (f"{RC}.fit", "eval_k 0", lambda c: c.rec.fit(c.frame, eval_k=0), ValueError,
     "eval_k must be a positive integer"),
    (f"{RC}.recommend", "unknown user", lambda c: c.rec.recommend(["nobody"]), KeyError,
     r"users: 1 unknown user\(s\) \['nobody'\]"),
    (f"{RC}.recommend", "NaN user", lambda c: c.rec.recommend([np.nan]), KeyError,
     "users: 1 unknown user"),
    (f"{RC}.recommend", "k=0", lambda c: c.rec.recommend(k=0), ValueError,
     "k must be a positive integer, got 0"),
    (f"{RC}.recommend", "k=-3", lambda c: c.rec.recommend(k=-3), ValueError,
     "k must be a positive integer"),
    (f"{RC}.recommend", "k=2.5", lambda c: c.rec.recommend(k=2.5), ValueError,
     "k must be a positive integer"),
    (f"{RC}.recommend", "exclude_seen string", lambda c: c.rec.recommend(
        exclude_seen="yes"), ValueError, "exclude_seen must be True or False"),
    (f"{RC}.recommend", "unknown candidate items", lambda c: c.rec.recommend(
        items=["nothing"]), KeyError, "items: 1 unknown key"),
    (f"{RC}.recommend", "user_features wrong type", lambda c: c.rec.recommend(
        user_features=[1]), TypeError, "user_features must be a pandas.DataFrame or a "
     "FeatureMatrix"),
    (f"{RC}.recommend", "2-d users", lambda c: c.rec.recommend(np.array([["u00"]])),
     ValueError, "users must be one key or a 1-d sequence"),
    (f"{RC}.similar_items", "unknown item", lambda c: c.rec.similar_items("nothing"),
     KeyError, "items: 1 unknown key"),
    (f"{RC}.similar_items", "k=0", lambda c: c.rec.similar_items("i00", k=0), ValueError,
     "k must be a positive integer"),
    (f"{RC}.explain", "unknown user", lambda c: c.rec.explain("nobody", "i00"), KeyError,
     "user: 1 unknown key"),
    (f"{RC}.explain", "unknown item", lambda c: c.rec.explain("u00", "nothing"), KeyError,
     "item: 1 unknown key"),
    (f"{RC}.explain", "n=0", lambda c: c.rec.explain("u00", "i00", n=0), ValueError,
     "n must be a positive integer"),
    (f"{RC}.fold_in", "item_features missing columns", lambda c: c.rec.fold_in(
        pd.DataFrame({"user_id": ["u00"], "item_id": ["new"]}),
        item_features=pd.DataFrame({"item_id": ["new"]})), ValueError,
     r"item_features has no column\(s\)"),
    (f"{RC}.fold_in", "features without side features", lambda c: c.rec.fold_in(
        pd.DataFrame({"user_id": ["new"], "item_id": ["i00"], "rating": [1.0]}),
        user_features=pd.DataFrame({"user_id": ["new"], "age": [3]})), ValueError,
     "has no user side features"),
    (f"{RC}.fold_in", "missing column", lambda c: c.rec.fold_in(pd.DataFrame(
        {"user_id": ["new"]})), ValueError, r"new_interactions has no column\(s\)"),
    (f"{RC}.fold_in", "epochs -1", lambda c: c.rec.fold_in(c.frame.iloc[:1], epochs=-1),
     ValueError, "epochs must be an integer >= 0"),
    (f"{RC}.fold_in", "NaN user key", lambda c: c.rec.fold_in(pd.DataFrame(
        {"user_id": [None], "item_id": ["i00"]})), ValueError, "missing key"),
    (f"{RC}.fold_in", "user_features wrong type", lambda c: c.rec.fold_in(pd.DataFrame(
        {"user_id": ["new"], "item_id": ["i00"]}), user_features=[1]), (TypeError,
                                                                          ValueError),
     "user_features"),
    (f"{RC}.fold_in", "not a DataFrame", lambda c: c.rec.fold_in([("new", "i00")]),
     TypeError, "new_interactions must be a pandas.DataFrame"),
    (f"{RC}.fit_partial", "NaN item key", lambda c: c.rec.fit_partial(pd.DataFrame(
        {"user_id": ["nobody"], "item_id": [None], "rating": [1.0]})), ValueError,
     "missing key"),
    (f"{RC}.fit_partial", "epochs 1.5", lambda c: c.rec.fit_partial(c.frame.iloc[:3],
                                                                     epochs=1.5),
     ValueError, "epochs must be an integer >= 0"),
    (f"{RC}.add_items", "known items", lambda c: c.rec.add_items(c.items.iloc[:2]),
     ValueError, r"item_features: 2 item\(s\) are already known"),
    (f"{RC}.add_items", "wrong type", lambda c: c.rec.add_items([1]), TypeError,
     "item_features must be a pandas.DataFrame or a FeatureMatrix"),
    (f"{RC}.add_users", "no user side features", lambda c: c.rec.add_users(
        pd.DataFrame({"user_id": ["new"], "age": [3]})), ValueError,
     "user_features: this model has no user side features"),
    (f"{RC}.evaluate", "missing column", lambda c: c.rec.evaluate(c.frame[["user_id"]]),
     ValueError, r"test has no column\(s\) \['item_id'\]"),
    (f"{RC}.evaluate", "k=0", lambda c: c.rec.evaluate(c.frame, k=0), ValueError,
     "k must be a positive integer"),
]


class Context(types.SimpleNamespace):
    def fresh_model(self, **params):
        from hybridrec import LightFM
        return LightFM(no_components=4, **params)

    def rec_copy(self):
        import copy
        return copy.deepcopy(self.rec)


@pytest.fixture
def context(fitted_model, small_train, fitted_recommender, frames):
    frame, items = frames
    return Context(model=fitted_model, train=small_train, rec=fitted_recommender,
                   frame=frame, items=items, dataset=_dataset())


def _ids(cases):
    return [f"{entry}: {case}" for entry, case, *_ in cases]


def _check(context, call, exception, match):
    before = (model_checksum(context.model), recommender_checksum(context.rec),
              dataset_checksum(context.dataset))
    with pytest.raises(exception, match=match):
        call(context)
    after = (model_checksum(context.model), recommender_checksum(context.rec),
             dataset_checksum(context.dataset))
    assert after == before, "a failed call changed the fitted model / Recommender / Dataset"


@pytest.mark.parametrize("entry, case, call, exception, match", CASES, ids=_ids(CASES))
def test_bad_input_is_refused_and_changes_nothing(context, tag, entry, case, call, exception,
                                                  match):
    tag("bad input", entry=entry)
    _check(context, call, exception, match)


@pytest.mark.parametrize("entry, case, call, exception, match", RECOMMENDER_CASES,
                         ids=_ids(RECOMMENDER_CASES))
def test_bad_recommender_input_is_refused_and_changes_nothing(context, tag, entry, case,
                                                              call, exception, match):
    tag("bad input", entry=entry)
    _check(context, call, exception, match)


# ------------------------------------------------------------- accepted variants
# Inputs that are unusual but valid: each must give the same result as the canonical
# form (not an error, not a silently different answer).
def _variants(train):
    coo = train.tocoo()
    ones = np.ones(coo.nnz, np.float32)
    csr = sp.csr_matrix((ones, (coo.row, coo.col)), shape=coo.shape)
    return {
        "float64 values": coo.astype(np.float64),
        "int64 values": sp.coo_matrix((ones.astype(np.int64), (coo.row, coo.col)),
                                      shape=coo.shape),
        "bool values": sp.coo_matrix((ones.astype(bool), (coo.row, coo.col)), shape=coo.shape),
        "int64 index arrays": sp.coo_matrix((ones, (coo.row.astype(np.int64),
                                                    coo.col.astype(np.int64))),
                                           shape=coo.shape),
        "csr": csr,
        "csc": csr.tocsc(),
        "lil": csr.tolil(),
        "non-contiguous data": sp.coo_matrix((np.repeat(ones, 2)[::2], (coo.row, coo.col)),
                                             shape=coo.shape),
    }


VARIANTS = ["float64 values", "int64 values", "bool values", "int64 index arrays", "csr",
            "csc", "lil", "non-contiguous data"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_accepted_dtype_and_format_variants_train_identically(small_train, tag, variant):
    """The same entries in the same order, in another dtype or format: the same model."""
    tag("accepted variant")
    from hybridrec import LightFM
    matrix = _variants(small_train)[variant]
    entries = matrix.tocoo()
    canonical = sp.coo_matrix((np.ones(entries.nnz, np.float32), (entries.row, entries.col)),
                              shape=entries.shape)
    reference = LightFM(loss="bpr", no_components=4, random_state=3).fit(canonical)
    model = LightFM(loss="bpr", no_components=4, random_state=3).fit(matrix)
    np.testing.assert_array_equal(model.item_embeddings, reference.item_embeddings)


def test_non_contiguous_ids_and_feature_arrays_match_contiguous(fitted_model, tag):
    tag("accepted variant")
    users = (np.arange(60) % N_USERS)[::2]
    items = (np.arange(60) % N_ITEMS)[::2]
    assert not users.flags.c_contiguous
    expected = fitted_model.predict(users.copy(), items.copy())
    np.testing.assert_array_equal(fitted_model.predict(users, items), expected)
    # A CSR whose data array is a strided view.
    base = np.ones(2 * N_ITEMS, np.float32)
    features = sp.csr_matrix((base[::2], np.arange(N_ITEMS), np.arange(N_ITEMS + 1)),
                             shape=(N_ITEMS, N_ITEMS))
    np.testing.assert_array_equal(
        fitted_model.predict(users, items, item_features=features), expected)
    # Float ids holding integers are accepted (LightFM accepts them too).
    np.testing.assert_array_equal(fitted_model.predict(users.astype(float),
                                                       items.astype(float)), expected)


def test_empty_rows_duplicates_and_zero_entries_train_finite(tag):
    tag("accepted variant")
    from hybridrec import LightFM
    rows = np.array([0, 0, 0, 2, 2, 3])          # user 1 and user 4 have no entries
    cols = np.array([1, 1, 1, 2, 0, 4])          # (0, 1) stored three times
    values = np.array([1, 1, 1, 0, 1, 1], np.float32)   # one explicit zero
    train = sp.coo_matrix((values, (rows, cols)), shape=(5, 6))
    for loss in ("logistic", "bpr", "warp", "warp-kos"):
        model = LightFM(loss=loss, no_components=3, random_state=0).fit(train, epochs=3)
        assert model._is_healthy(), loss
        ranks = model.predict_rank(train)
        assert np.isfinite(ranks.data).all()


def test_all_zero_feature_row_predicts_the_user_bias(tag):
    tag("accepted variant")
    from hybridrec import LightFM
    rows = np.array([0, 0, 0, 2, 2, 3])
    cols = np.array([1, 1, 1, 2, 0, 4])
    train = sp.coo_matrix((np.ones(6, np.float32), (rows, cols)), shape=(5, 6))
    # an item-feature matrix with an all-zero row is valid: that item's representation
    # is zero, so its score is the user's bias alone
    features = sp.csr_matrix(np.diag([1, 1, 1, 1, 1, 0]).astype(np.float32))
    model = LightFM(no_components=3, random_state=0).fit(train, item_features=features)
    biases, vectors = model.get_item_representations(features)
    assert biases[5] == 0 and not vectors[5].any()
    # (predict without item_features would use the identity, i.e. item 5's own
    # never-trained identity embedding, as LightFM does)
    assert model.predict(0, np.array([5]), item_features=features)[0] == pytest.approx(
        float(model.user_biases[0]), abs=1e-6)


def test_interactions_with_no_entries_warn_and_initialise(tag):
    tag("accepted variant")
    from hybridrec import LightFM
    with pytest.warns(UserWarning, match="interactions has no stored entries"):
        model = LightFM(no_components=2).fit(sp.coo_matrix((3, 4)))
    assert model.item_embeddings.shape == (4, 2)


# ------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def cli_files(tmp_path_factory, frames):
    from hybridrec.__main__ import main
    folder = tmp_path_factory.mktemp("cli-bad")
    frame, items = frames
    frame.to_csv(folder / "train.csv", index=False)
    items.to_csv(folder / "items.csv", index=False)
    (folder / "garbage.hrec").write_bytes(b"not a model at all")
    (folder / "bad.csv").write_text('user_id,item_id\n"a,b\n')
    frame.assign(rating=np.r_[np.nan, frame.rating[1:]]).to_csv(folder / "nan.csv",
                                                                 index=False)
    assert main(["fit", str(folder / "train.csv"), "--epochs", "1", "--components", "4",
                 "--out", str(folder / "model.hrec")]) == 0
    return folder


CLI_CASES = [
    ("recommend -k 0", ["recommend", "{f}/model.hrec", "--all", "-k", "0"],
     "k must be a positive integer, got 0"),
    ("recommend unknown user", ["recommend", "{f}/model.hrec", "--users", "nobody"],
     "unknown user"),
    ("recommend empty --users", ["recommend", "{f}/model.hrec", "--users", ","],
     "--users is empty"),
    ("recommend corrupted model", ["recommend", "{f}/garbage.hrec", "--all"],
     "not a readable hybridrec model file"),
    ("recommend missing model", ["recommend", "{f}/missing.hrec", "--all"],
     "model file .* does not exist"),
    ("recommend to an unwritable path", ["recommend", "{f}/model.hrec", "--all", "--output",
                                          "{f}/no/such/dir/out.csv"],
     "non-existent directory|No such file"),
    ("evaluate -k 0", ["evaluate", "{f}/model.hrec", "{f}/train.csv", "-k", "0"],
     "k must be a positive integer"),
    ("fit --threads 0", ["fit", "{f}/train.csv", "--threads", "0", "--out", "{f}/model.hrec"],
     "num_threads=0"),
    ("fit --epochs -1", ["fit", "{f}/train.csv", "--epochs", "-1", "--out", "{f}/model.hrec"],
     "epochs must be"),
    ("fit --components 0", ["fit", "{f}/train.csv", "--components", "0", "--out",
                            "{f}/model.hrec"], "no_components must be >= 1"),
    ("fit missing column", ["fit", "{f}/train.csv", "--user-col", "uid", "--out",
                            "{f}/model.hrec"], r"has no column 'uid'"),
    ("fit unreadable CSV", ["fit", "{f}/bad.csv", "--out", "{f}/model.hrec"],
     "cannot read interactions file"),
    ("fit missing weight column", ["fit", "{f}/train.csv", "--weight-col", "weight",
                         "--out", "{f}/model.hrec"], "no column"),
    ("fit NaN weights", ["fit", "{f}/nan.csv", "--weight-col", "rating", "--out",
                         "{f}/model.hrec"], "weight_col 'rating' has 1 NaN"),
    ("fit NaN user key", ["fit", "{f}/nan.csv", "--user-col", "rating", "--out",
                          "{f}/model.hrec"], "missing key"),
]


@pytest.mark.parametrize("case, argv, message", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_is_one_line_and_keeps_the_model_file(cli_files, capsys, tag, case,
                                                            argv, message):
    tag("bad input", entry="CLI")
    import re

    from hybridrec.__main__ import main
    model_file = cli_files / "model.hrec"
    before = model_file.read_bytes()
    status = main([part.format(f=cli_files) for part in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err[-1].startswith("error: ")
    assert re.search(message, err[-1]), err[-1]
    assert model_file.read_bytes() == before
