"""Property-based tests (hypothesis): ID mapping, splits, metric bounds, save/load."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybridrec import LightFM
from hybridrec.data import (
    IdMapper,
    per_user_train_test_split,
    random_train_test_split,
    temporal_train_test_split,
)
from hybridrec.metrics import (
    auc_score,
    evaluate,
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
)
from hybridrec.persist import load_model, save_model

EXAMPLES = 60
FAST = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

scalar_keys = st.one_of(
    st.integers(-2**62, 2**62),
    st.text(max_size=8),
    st.uuids(),
    st.binary(max_size=4),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != int(x)),
)
key_lists = st.one_of(st.lists(st.integers(-10**6, 10**6), max_size=40),
                      st.lists(st.text(max_size=5), max_size=40),
                      st.lists(scalar_keys, max_size=40))


def _distinct_in_order(keys):
    seen, out = set(), []
    for key in keys:
        marker = (type(key) is bool, key)
        if key not in seen:
            seen.add(key)
            out.append(key)
        del marker
    return out


@FAST
@given(keys=key_lists)
def test_idmapper_round_trips(tag, keys):
    tag("property", examples=EXAMPLES)
    mapper = IdMapper(keys)
    distinct = _distinct_in_order(keys)
    assert len(mapper) == len(distinct)
    codes = mapper.transform(keys) if keys else np.zeros(0, np.int32)
    assert codes.dtype == np.int32
    if keys:
        assert codes.min() >= 0 and codes.max() < len(mapper)
        back = mapper.inverse_transform(codes)
        assert all(a == b and type(a) is type(b) or a == b for a, b in zip(
            back.tolist(), keys, strict=True))
    assert mapper.transform(distinct).tolist() == list(range(len(distinct))) if distinct \
        else True
    assert IdMapper.from_json(mapper.to_json()) == mapper
    assert IdMapper.from_arrays(mapper.to_arrays()) == mapper


@FAST
@given(first=key_lists, second=key_lists)
def test_idmapper_partial_fit_keeps_existing_indices(tag, first, second):
    tag("property", examples=EXAMPLES)
    mapper = IdMapper(first)
    before = {i: mapper.keys[i] for i in range(len(mapper))}
    mapper.partial_fit(second)
    for index, key in before.items():
        assert mapper.transform([key])[0] == index
    assert len(mapper) == len(_distinct_in_order(list(first) + list(second)))


@st.composite
def interaction_matrices(draw, max_users=15, max_items=15, duplicates=True):
    n_users = draw(st.integers(1, max_users))
    n_items = draw(st.integers(1, max_items))
    nnz = draw(st.integers(0, 60))
    rows = draw(st.lists(st.integers(0, n_users - 1), min_size=nnz, max_size=nnz))
    cols = draw(st.lists(st.integers(0, n_items - 1), min_size=nnz, max_size=nnz))
    if not duplicates:
        pairs = sorted(set(zip(rows, cols, strict=True)))
        rows, cols = [p[0] for p in pairs], [p[1] for p in pairs]
    values = np.arange(1, len(rows) + 1, dtype=np.float32)   # unique values tag entries
    return sp.coo_matrix((values, (np.array(rows, int), np.array(cols, int))),
                         shape=(n_users, n_items))


def _entries(matrix):
    coo = matrix.tocoo()
    return sorted(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True))


@FAST
@given(matrix=interaction_matrices(), fraction=st.floats(0.0, 1.0), seed=st.integers(0, 99))
def test_random_split_is_disjoint_and_complete(tag, matrix, fraction, seed):
    tag("property", examples=EXAMPLES)
    train, test = random_train_test_split(matrix, fraction, random_state=seed)
    assert train.shape == test.shape == matrix.shape
    assert sorted(_entries(train) + _entries(test)) == _entries(matrix)
    assert not set(_entries(train)) & set(_entries(test))   # entries are tagged uniquely
    assert test.nnz == matrix.nnz - int((1.0 - fraction) * matrix.nnz)


@FAST
@given(matrix=interaction_matrices(), n_test=st.integers(1, 4), min_train=st.integers(1, 3),
       seed=st.integers(0, 99))
def test_per_user_split_is_disjoint_complete_and_keeps_history(tag, matrix, n_test,
                                                               min_train, seed):
    tag("property", examples=EXAMPLES)
    train, test = per_user_train_test_split(matrix, n_test=n_test, min_train=min_train,
                                            random_state=seed)
    assert sorted(_entries(train) + _entries(test)) == _entries(matrix)
    per_user = np.bincount(matrix.row, minlength=matrix.shape[0])
    train_counts = np.bincount(train.row, minlength=matrix.shape[0])
    test_counts = np.bincount(test.row, minlength=matrix.shape[0])
    assert np.all(test_counts <= n_test)
    assert np.all(train_counts >= np.minimum(per_user, min_train))
    assert np.all(test_counts == np.clip(np.minimum(n_test, per_user - min_train), 0, None))


@FAST
@given(stamps=st.lists(st.integers(0, 50), min_size=1, max_size=40),
       fraction=st.floats(0.05, 0.95))
def test_temporal_split_is_disjoint_complete_and_ordered(tag, stamps, fraction):
    tag("property", examples=EXAMPLES)
    frame = pd.DataFrame({"user": np.arange(len(stamps)) % 3, "t": stamps})
    train, test = temporal_train_test_split(frame, "t", test_fraction=fraction)
    assert sorted(train.index.tolist() + test.index.tolist()) == frame.index.tolist()
    if len(train) and len(test):
        assert train["t"].max() < test["t"].min() or train["t"].max() <= test["t"].min()
        assert train["t"].max() <= test["t"].min()


class _RandomModel:
    """Any model with LightFM's representation methods (the metrics need only those)."""

    def __init__(self, n_users, n_items, d, seed, ties):
        rng = np.random.default_rng(seed)
        self.users = rng.normal(size=(n_users, d)).astype(np.float32)
        self.items = rng.normal(size=(n_items, d)).astype(np.float32)
        self.biases = rng.normal(size=n_items).astype(np.float32)
        if ties:   # many exactly tied scores
            self.users[:] = np.round(self.users)
            self.items[:] = np.round(self.items)
            self.biases[:] = 0

    def get_user_representations(self, features=None):
        return np.zeros(self.users.shape[0], np.float32), self.users

    def get_item_representations(self, features=None):
        return self.biases, self.items


@FAST
@given(matrix=interaction_matrices(duplicates=False), k=st.integers(1, 20),
       d=st.integers(1, 4), seed=st.integers(0, 999), ties=st.booleans(),
       train_fraction=st.floats(0.0, 0.9))
def test_metrics_stay_in_their_bounds(tag, matrix, k, d, seed, ties, train_fraction):
    tag("property", examples=EXAMPLES)
    train, test = random_train_test_split(matrix, 1.0 - train_fraction, random_state=seed)
    model = _RandomModel(matrix.shape[0], matrix.shape[1], d, seed, ties)
    for metric in (precision_at_k, recall_at_k, ndcg_at_k, map_at_k, hit_rate_at_k):
        values = metric(model, test, train, k=k)
        assert np.all((values >= 0) & (values <= 1)), metric.__name__
        rows = metric(model, test, train, k=k, preserve_rows=True)
        assert rows.shape == (matrix.shape[0],) and np.all((rows >= 0) & (rows <= 1))
    for metric in (auc_score, reciprocal_rank):
        if metric is auc_score and ties:
            continue  # see test_auc_with_tied_positives_stays_in_bounds
        values = metric(model, test, train)
        assert np.all((values >= 0) & (values <= 1)), metric.__name__
    n_test = np.diff(test.tocsr().indptr)
    n_test = n_test[n_test > 0]
    precision = precision_at_k(model, test, train, k=k)
    assert np.all(precision <= np.minimum(n_test, k) / k + 1e-6)
    table = evaluate(model, test, train, k=(k,))
    means = table["mean"].dropna()
    assert np.all((means >= 0) & (means <= 1))


def test_auc_with_tied_positives_stays_in_bounds(tag):
    tag("property")
    test = sp.csr_matrix(np.array([[1, 1, 0]], dtype=np.float32))
    model = _RandomModel(1, 3, 1, 0, ties=True)   # every score tied
    model.items[:] = 0
    assert 0.0 <= auc_score(model, test)[0] <= 1.0


@FAST
@given(n_users=st.integers(1, 8), n_items=st.integers(1, 8), d=st.integers(1, 5),
       schedule=st.sampled_from(["adagrad", "adadelta"]), seed=st.integers(0, 2**32),
       with_generator=st.booleans())
def test_save_load_round_trips_every_array(tag, n_users, n_items, d, schedule, seed,
                                           with_generator):
    tag("property", examples=EXAMPLES)
    rng = np.random.default_rng(seed)
    model = LightFM(no_components=d, learning_schedule=schedule, random_state=seed % 1000)
    for side, rows in (("item", n_items), ("user", n_users)):
        for suffix in ("embeddings", "embedding_gradients", "embedding_momentum"):
            setattr(model, f"{side}_{suffix}", rng.normal(size=(rows, d)).astype(np.float32))
        for suffix in ("biases", "bias_gradients", "bias_momentum"):
            setattr(model, f"{side}_{suffix}", rng.normal(size=rows).astype(np.float32))
    if with_generator:
        model.random_state_ = np.random.default_rng(seed)
    extra = {"keys": np.array([str(uuid.UUID(int=seed))]), "ints": rng.integers(0, 9, 3)}
    with tempfile.TemporaryDirectory() as folder:
        path = save_model(model, Path(folder) / "m.hrec", extra_arrays=extra,
                          metadata={"seed": seed})
        loaded, arrays, metadata = load_model(path)
    from .conftest import model_checksum
    assert model_checksum(loaded) == model_checksum(model)
    assert metadata == {"seed": seed}
    for name, value in extra.items():
        np.testing.assert_array_equal(arrays[name], value)


@pytest.mark.parametrize("kind", ["int", "str", "mixed"])
def test_recommender_save_load_round_trip(tmp_path, tag, kind, frames):
    tag("property")
    from hybridrec import Recommender
    interactions, items = frames
    frame = interactions.copy()
    if kind == "int":
        frame["user_id"] = frame["user_id"].str[1:].astype(int)
    elif kind == "mixed":
        frame["user_id"] = [int(u[1:]) if i % 2 else u for i, u in
                            enumerate(frame["user_id"])]
    rec = Recommender(no_components=3, epochs=1, random_state=0).fit(frame,
                                                                     item_features=items)
    loaded = Recommender.load(rec.save(tmp_path / "r.hrec"))
    pd.testing.assert_frame_equal(loaded.recommend(k=5), rec.recommend(k=5))
